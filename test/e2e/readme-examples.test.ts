// The README's JavaScript examples as a TypeScript user has them: written next to built artifacts,
// type-checked by tsc (strict, NodeNext) against the artifact's own index.d.mts, then run in Node.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { LLAMA2C, sharedPath } from "../helpers/shared.js";
import { USE_DIR } from "../helpers/use-lite.js";

const TSC = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const BERT = sharedPath("onnx/bert_distilbert_tiny_hf_pt110/model.onnx");

/** "Using it": an encoder's embeddings and a decoder's text. */
const USING_IT = `
import { load } from "./out/use/index.mjs";
const model = await load();                      // the directory index.mjs sits in
const [a, b] = await model.embed(["A man is playing the cello.", "Someone plays an instrument."]);

import { load as loadStories } from "./out/stories/index.mjs";
const stories = await loadStories();
console.log(await stories.generate("Once upon a time", { maxTokens: 64, temperature: 0 }));

let story = "";                                  // piece by piece, only the new text
for await (const piece of stories.stream("Once upon a time", { maxTokens: 64, seed: 7 })) story += piece;
`;

/** "ONNX graphs": run() with ONNX Runtime's input types. */
const ONNX_GRAPHS = `
import { load as loadBert } from "./out/bert/index.mjs";
const bert = await loadBert();
const ids = BigInt64Array.from([101n, 7592n, 2088n, 2003n, 2307n, 1012n, 999n, 102n, 101n, 2129n, 2024n, 2017n, 2725n, 1029n, 999n, 102n]);
const { logits } = await bert.run({ input_ids: ids, attention_mask: ids.map(() => 1n) });   // [2, 8] each; logits [2, 2]
const [sentences, classes] = logits.dims;        // as onnxruntime-web's Tensor: logits.data, .dims, .type ("float32")
`;

/** What the test reads back from the run (not part of the README). */
const REPORT = `
console.log(JSON.stringify({ a: a.length, b: b.length, story, logits: Array.from(logits as Float32Array), dims: [sentences, classes], type: logits.type, data: logits.data === logits }));
`;

function tsc(dir: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [TSC, "-p", dir], { encoding: "utf8" });
  return { code: r.status, out: r.stdout + r.stderr };
}

/** A project the way an application has one: strict, NodeNext, no @types (nothing but the artifacts' own typings). */
function writeProject(dir: string, source: string): void {
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: "NodeNext",
        moduleResolution: "NodeNext",
        target: "ES2022",
        lib: ["ES2022", "DOM"],
        types: [],
      },
      files: ["example.mts"],
    }),
  );
  writeFileSync(join(dir, "example.mts"), source);
}

describe.skipIf(!LLAMA2C || !BERT)("the README's JavaScript examples", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tmpDir();
    await build({ model: LLAMA2C!.model, tokenizer: LLAMA2C!.tokenizer, target: "wasm-simd", out: join(dir, "out/stories") });
    await build({ model: USE_DIR, target: "wasm-simd", out: join(dir, "out/use") });
    await build({ model: BERT!, shapes: { input_ids: [2, 8] }, target: "wasm-simd", out: join(dir, "out/bert") });
  }, 180_000);

  it("are the README's own text, line for line", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    expect(readme).toContain(USING_IT.trim());
    // The ONNX section's example begins with the build command; its last line is the call.
    expect(readme).toContain(ONNX_GRAPHS.trim().split("\n").at(-1)!);
  });

  it("type-check (strict) against the artifacts' index.d.mts and run in Node", async () => {
    writeProject(dir, USING_IT + ONNX_GRAPHS + REPORT);
    const checked = tsc(dir);
    expect(checked.out).toBe("");
    expect(checked.code).toBe(0);
    const ran = spawnSync(process.execPath, [join(dir, "example.mjs")], { encoding: "utf8", cwd: dir });
    expect(ran.stderr).toBe("");
    const report = ran.stdout.trimEnd().split("\n").at(-1)!;
    const stories = await loadWasm(join(dir, "out/stories"));
    const greedy = await stories.generate("Once upon a time", { maxTokens: 64, temperature: 0 });
    expect(ran.stdout).toBe(`${greedy}\n${report}\n`);
    const result = JSON.parse(report);
    expect([result.a, result.b]).toEqual([512, 512]);
    expect(result.story).toBe(await stories.generate("Once upon a time", { maxTokens: 64, seed: 7 }));
    expect(result.logits).toHaveLength(4);
    expect(result).toMatchObject({ dims: [2, 2], type: "float32", data: true });
  }, 120_000);

  it("the typings catch a call used without await (sync on one backend, async on another no more)", () => {
    writeProject(dir, `import { load } from "./out/use/index.mjs";\nconst [a] = (await load()).embed(["x"]);\n`);
    const checked = tsc(dir);
    expect(checked.out).toMatch(/TS2488/);
  }, 60_000);
});
