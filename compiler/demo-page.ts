/**
 * demo.html: a self-contained page that loads its artifact with the artifact's own runtime and
 * shows it working: a prompt and generated text for a decoder, sentences and their similarity
 * matrix for an encoder; with the backend in use, the bytes downloaded and the time to the first
 * result. Plain HTML, no framework. It shows the download's progress, keeps its button disabled
 * until the model is loaded, and puts any error on the page; it runs once on load, so a test can
 * read `window.seecResult`.
 */
import type { Manifest } from "../runtime/manifest.js";

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #fafafa; color: #222; }
  main { max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
  h1 { font-size: 1.4rem; margin-bottom: 0.2rem; }
  .meta { color: #555; font-size: 0.9rem; }
  .meta b { color: #222; }
  textarea, input { width: 100%; box-sizing: border-box; font: inherit; padding: 0.4rem; }
  button { font: inherit; padding: 0.3rem 1rem; margin: 0.5rem 0; }
  pre { white-space: pre-wrap; background: #fff; border: 1px solid #ddd; padding: 0.8rem; min-height: 6rem; }
  table { border-collapse: collapse; margin-top: 0.5rem; }
  td, th { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: right; font-variant-numeric: tabular-nums; }
  th { background: #f0f0f0; }
  progress { width: 12rem; vertical-align: middle; }
  .error { color: #b00020; white-space: pre-wrap; }`;

const COMMON = `
import { load } from "./index.mjs";
const $ = (id) => document.getElementById(id);
const downloaded = () => performance.getEntriesByType("resource").reduce((n, r) => n + (r.encodedBodySize || 0), 0)
  + (performance.getEntriesByType("navigation")[0]?.encodedBodySize || 0);
const kib = (n) => n < 1 << 20 ? (n / 1024).toFixed(1) + " KiB" : (n / (1 << 20)).toFixed(2) + " MiB";
const files = new Map();
function progress({ file, loaded, total }) {
  files.set(file, { loaded, total });
  let done = 0, all = 0;
  for (const f of files.values()) (done += f.loaded), (all += f.total);
  $("progress").value = done / all;
  $("status").textContent = "downloading " + kib(done) + " of " + kib(all);
}
function fail(e) {
  $("error").textContent = typeof e?.toLine === "function" ? e.toLine() : String(e?.message ?? e);
  document.body.dataset.state = "error";
}
let model;
/** Runs a call with the button disabled, and shows what goes wrong on the page. */
async function busy(call) {
  $("go").disabled = true;
  try {
    await call();
  } catch (e) {
    fail(e);
  } finally {
    $("go").disabled = !model;
  }
}
try {
  model = await load(new URL("./", import.meta.url), { onProgress: progress, cache: true }); // a reload reads the files from the Cache API
  $("backend").textContent = model.backend + (model.fallback ? " (" + model.fallback + ")" : "");
  $("loading").hidden = true;
} catch (e) {
  $("status").textContent = "";
  fail(e);
}
function firstResult(result) {
  if (window.seecResult) return;
  $("first").textContent = performance.now().toFixed(0) + " ms";
  $("bytes").textContent = kib(downloaded());
  window.seecResult = { ...result, backend: model.backend, bytes: downloaded(), firstResultMs: performance.now() };
  document.body.dataset.state = "done";
}`;

function decoderPage(): string {
  return `
  <label for="prompt">Prompt</label>
  <input id="prompt" value="Once upon a time">
  <button id="go" disabled>Generate</button>
  <pre id="output"></pre>
  <p class="meta" id="speed"></p>
  <script type="module">${COMMON}
async function generate() {
  const prompt = $("prompt").value;
  const text = await model.generate(prompt, { maxTokens: 64, temperature: 0 }); // the continuation alone
  $("output").textContent = prompt + text;
  const s = model.stats;
  $("speed").textContent = s.generatedTokens + " tokens, " + ((s.generatedTokens - 1) / s.decodeSeconds).toFixed(0) + " tokens/s (greedy)";
  firstResult({ text });
}
$("go").onclick = () => busy(generate);
if (model) busy(generate);
  </script>`;
}

function encoderPage(): string {
  const sentences = [
    "A man is playing the cello.",
    "Someone is playing a musical instrument.",
    "A woman is slicing an onion.",
    "The stock market fell sharply today.",
  ];
  return `
  <label for="sentences">Sentences, one per line</label>
  <textarea id="sentences" rows="5">${sentences.join("\n")}</textarea>
  <button id="go" disabled>Compare</button>
  <div id="output"></div>
  <p class="meta" id="speed"></p>
  <script type="module">${COMMON}
const cosine = (a, b) => { let d = 0, x = 0, y = 0; for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; x += a[i] * a[i]; y += b[i] * b[i]; } return d / Math.sqrt(x * y || 1); };
async function compare() {
  const texts = $("sentences").value.split("\\n").map((s) => s.trim()).filter(Boolean);
  const t0 = performance.now();
  const vectors = await model.embed(texts);
  const ms = (performance.now() - t0) / texts.length;
  const similarity = vectors.map((a) => vectors.map((b) => cosine(a, b)));
  const head = "<tr><th></th>" + texts.map((_, i) => "<th>" + (i + 1) + "</th>").join("") + "</tr>";
  const rows = similarity.map((row, i) => "<tr><th title=\\"" + texts[i].replace(/"/g, "&quot;") + "\\">" + (i + 1) + "</th>" + row.map((c) => "<td>" + c.toFixed(3) + "</td>").join("") + "</tr>").join("");
  $("output").innerHTML = "<ol>" + texts.map((t) => "<li>" + t.replace(/</g, "&lt;") + "</li>").join("") + "</ol><table>" + head + rows + "</table>";
  $("speed").textContent = ms.toFixed(2) + " ms per sentence";
  firstResult({ texts, similarity });
}
$("go").onclick = () => busy(compare);
if (model) busy(compare);
  </script>`;
}

export function demoPage(manifest: Manifest): string {
  const what = manifest.model.family === "encoder" ? "sentence embeddings" : "text generation";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>seec · ${manifest.name}</title>
<style>${STYLE}
</style>
</head>
<body data-state="loading">
<main>
  <h1>${manifest.name} <small>· ${what}, compiled by seec</small></h1>
  <p class="meta">backend <b id="backend">…</b> · downloaded <b id="bytes">…</b> · first result after <b id="first">…</b></p>
  <p class="meta" id="loading"><progress id="progress" max="1" value="0"></progress> <span id="status">loading…</span></p>
  <p class="error" id="error" role="alert"></p>
${manifest.model.family === "encoder" ? encoderPage() : decoderPage()}
</main>
</body>
</html>
`;
}

/** package.json for an artifact directory, so it can be published or installed as a dependency. */
export function artifactPackage(name: string, manifest: Manifest): string {
  return `${JSON.stringify(
    {
      name,
      version: "1.0.0",
      description: `${manifest.name} compiled by seec ${manifest.seec} for ${manifest.target}`,
      type: "module",
      main: "index.mjs",
      types: "index.d.mts",
      exports: { ".": { types: "./index.d.mts", default: "./index.mjs" }, "./*": "./*" },
      files: Object.keys(manifest.files)
        .filter((f) => !f.startsWith("src/"))
        .concat("manifest.json"),
    },
    null,
    2,
  )}\n`;
}
