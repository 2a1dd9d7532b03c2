// Every error code a user can cause, produced on purpose, with the exit code of its class; and a
// guard that no code appears in the sources without a test that produces it.
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { readStsb } from "../../compiler/eval/stsb.js";
import { readLlama2cCheckpoint } from "../../compiler/frontends/llama2c.js";
import { loadModel } from "../../compiler/frontends/load.js";
import { readTfjsGraph } from "../../compiler/frontends/tfjs.js";
import { tfjsEncoderGraph } from "../../compiler/frontends/tfjs-encoder.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { applySee } from "../../compiler/passes/see.js";
import { findEmbedding } from "../../compiler/see/factorize.js";
import { FileSememes } from "../../compiler/see/sememes.js";
import { WordNet } from "../../compiler/see/wordnet.js";
import { writeArtifact } from "../../compiler/artifact.js";
import { ERROR_CLASSES, SeecError } from "../../runtime/errors.js";
import { load } from "../../runtime/index.js";
import { Model } from "../../runtime/model.js";
import { WasmEngine } from "../../runtime/wasm-engine.js";
import { seec } from "../helpers/cli.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { catchSeec, rejectsSeec } from "../helpers/errors.js";
import { randomFactors } from "../helpers/see.js";
import { LLAMA2C } from "../helpers/shared.js";
import { USE_DIR } from "../helpers/use-lite.js";

const rejects = async (p: Promise<unknown>): Promise<SeecError> => {
  const e = await p.then(
    () => undefined,
    (x) => x,
  );
  if (!(e instanceof SeecError)) throw new Error(`expected a SeecError, got ${e}`);
  return e;
};

describe.skipIf(!LLAMA2C)("error codes", () => {
  const m = LLAMA2C!;
  let work: string, stories: string, use: string;

  beforeAll(async () => {
    work = await tmpDir();
    stories = join(work, "stories");
    use = join(work, "use");
    expect((await seec("build", m.model, "--tokenizer", m.tokenizer, "-o", stories)).code).toBe(0);
    expect((await seec("build", USE_DIR, "-o", use)).code).toBe(0);
  });

  const cli = async (code: string, ...args: string[]) => {
    const r = await seec(...args);
    expect(r.stderr).toContain(`error[${code}]`);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.code).toBe(ERROR_CLASSES[code.split(".")[0] as keyof typeof ERROR_CLASSES]);
    return r;
  };

  it("usage.eval: eval without --nll or --stsb, or with both", async () => {
    await cli("usage.eval", "eval", stories);
    await cli("usage.eval", "eval", stories, "--nll", m.model, "--stsb", m.model);
  });
  it("usage.eval_family: STS-B asked of a decoder, NLL of an encoder, before anything is built", async () => {
    writeFileSync(join(work, "pairs.tsv"), "g\tc\tf\ty\ti\t1\t2\tA cat.\tA dog.\t3.0\ng\tc\tf\ty\ti\t1\t2\tA cat.\tA cat.\t5.0\n");
    await cli("usage.eval_family", "build", m.model, "--tokenizer", m.tokenizer, "--stsb", join(work, "pairs.tsv"), "-o", join(work, "f1"));
    writeFileSync(join(work, "story.txt"), "Once upon a time there was a cat.\n");
    await cli("usage.eval_family", "eval", use, "--nll", join(work, "story.txt"));
    expect(readdirSync(work)).not.toContain("f1");
  });
  it("usage.eval_target: scoring a wasi build", async () => {
    writeFileSync(join(work, "story.txt"), "Once upon a time there was a cat.\n");
    await cli(
      "usage.eval_target",
      "build",
      m.model,
      "--tokenizer",
      m.tokenizer,
      "--target",
      "wasi",
      "--nll",
      join(work, "story.txt"),
      "-o",
      join(work, "w1"),
    );
  });
  it("usage.explain: a piece not in the vocabulary", () =>
    cli("usage.explain", "factorize", m.model, "--tokenizer", m.tokenizer, "--explain", "zzzz"));
  it("usage.out: factorize without -o", () => cli("usage.out", "factorize", m.model, "--tokenizer", m.tokenizer));
  it("usage.ratio: a ratio the method cannot reach", () =>
    cli("usage.ratio", "factorize", m.model, "--tokenizer", m.tokenizer, "--ratio", "5000", "-o", join(work, "x.see")));
  it("usage.text: an encoder run without texts", () => cli("usage.text", "run", use));
  it("usage.tokenizer: factorize a llama2.c model without its tokenizer", () =>
    cli("usage.tokenizer", "factorize", m.model, "-o", join(work, "y.see")));
  it("usage.not_a_file: a directory given as the tokenizer", () =>
    cli("usage.not_a_file", "build", m.model, "--tokenizer", work, "-o", join(work, "z")));
  it("input.eval_text: a text with nothing to score, named", async () => {
    writeFileSync(join(work, "empty.txt"), "\n\n");
    const r = await cli("input.eval_text", "eval", stories, "--nll", join(work, "empty.txt"));
    expect(r.stderr).toContain(`error[input.eval_text] ${join(work, "empty.txt")}: the text to score holds no paragraph`);
  });
  it("io.read: an artifact's weights.bin that is a FIFO or a device is refused, not read forever", async () => {
    const odd = join(work, "odd-weights");
    cpSync(stories, odd, { recursive: true });
    rmSync(join(odd, "weights.bin"));
    symlinkSync("/dev/zero", join(odd, "weights.bin"));
    const r = await cli("io.read", "run", odd, "--prompt", "Once", "-n", "2");
    // The runtime reads it by a file: URL; the line names it by its path, once.
    expect(r.stderr).toBe(
      `seec: error[io.read]: cannot read ${join(odd, "weights.bin")}: not a regular file (hint: is this a seec artifact directory?)\n`,
    );
    rmSync(join(odd, "weights.bin"));
    spawnSync("mkfifo", [join(odd, "weights.bin")]);
    await cli("io.read", "run", odd, "--prompt", "Once", "-n", "2");
  });
  it("runtime.context: a prompt the context cannot hold prints nothing on stdout", async () => {
    const short = join(work, "short-context");
    expect((await seec("build", m.model, "--tokenizer", m.tokenizer, "--context", "16", "-o", short)).code).toBe(0);
    const r = await cli(
      "runtime.context",
      "run",
      short,
      "--prompt",
      "Once upon a time there was a little girl named Lily who loved to play outside",
    );
    expect(r.stdout).toBe("");
  });
  it("usage.model: export-gguf given a GGUF file", async () => {
    const gguf = join(work, "s.gguf");
    expect((await seec("export-gguf", m.model, "--tokenizer", m.tokenizer, "-o", gguf)).code).toBe(0);
    const r = await cli("usage.model", "export-gguf", gguf, "--tokenizer", m.tokenizer, "-o", join(work, "t.gguf"));
    expect(r.stderr).toContain("this is a GGUF file already");
  });
  it("runtime.nonfinite: a score from weights that are not finite numbers is refused, not printed as NaN with exit 0", async () => {
    const poisoned = join(work, "poisoned");
    mkdirSync(poisoned, { recursive: true });
    for (const f of readdirSync(stories)) if (statSync(join(stories, f)).isFile()) copyFileSync(join(stories, f), join(poisoned, f));
    writeFileSync(join(poisoned, "weights.bin"), new Uint8Array(statSync(join(stories, "weights.bin")).size).fill(0xff)); // every float NaN
    writeFileSync(join(work, "story.txt"), "Once upon a time there was a cat.\n");
    await cli("runtime.nonfinite", "eval", poisoned, "--nll", join(work, "story.txt"));
    expect((await seec("eval", poisoned, "--nll", join(work, "story.txt"))).stderr).toContain("the model's outputs gave a score of NaN");
  });
  it("input.stsb: a file that is not STS-B", () => {
    writeFileSync(join(work, "bad.tsv"), "a\tb\n");
    return cli("input.stsb", "eval", use, "--stsb", join(work, "bad.tsv"));
  });
  it("input.stsb: pairs that cannot be ranked (one, or all with the same gold score) are the file's fault, not the model's", async () => {
    const row = (score: number) => `g\tc\tf\ty\ti\t1\t2\tA cat sits.\tA dog runs.\t${score}\n`;
    writeFileSync(join(work, "same.tsv"), row(3) + row(3) + row(3));
    for (const args of [
      ["eval", use, "--stsb", join(work, "same.tsv")],
      ["eval", use, "--stsb", join(work, "same.tsv"), "--limit", "1"],
      ["build", USE_DIR, "--stsb", join(work, "same.tsv"), "-o", join(work, "u-same")],
    ])
      await cli("input.stsb", ...args);
    const r = await seec("eval", use, "--stsb", join(work, "same.tsv"), "--limit", "1");
    expect(r.stderr).toContain(
      "1 sentence pair (--limit 1) cannot be ranked: Spearman's correlation needs at least two different gold scores",
    );
    expect(readdirSync(work)).not.toContain("u-same");
  });
  it("usage.text: texts given to a decoder", () => cli("usage.text", "run", stories, "--text", "hello"));
  it("usage.option: a build option the model gives nothing to do (--batch to a decoder, --context to an encoder)", async () => {
    await cli("usage.option", "build", m.model, "--tokenizer", m.tokenizer, "--batch", "4", "-o", join(work, "b4"));
    await cli("usage.option", "build", USE_DIR, "--context", "5", "-o", join(work, "c5"));
    await cli("usage.shape", "build", m.model, "--tokenizer", m.tokenizer, "--shape", "tokens=1x4", "-o", join(work, "c5"));
    expect(readdirSync(work).filter((f) => f === "b4" || f === "c5")).toEqual([]);
  });
  it("usage.tokenizer, usage.option, usage.invalid_argument: seec run refuses before printing anything", async () => {
    const ids = join(work, "ids-only");
    expect((await seec("build", m.model, "--no-tokenizer", "-o", ids)).code).toBe(0);
    const cases: [string, string[], string][] = [
      ["usage.tokenizer", ["run", ids, "-p", "Once"], "stories260K was built without a tokenizer: it takes token ids, not text"],
      ["usage.invalid_argument", ["run", stories, "-p", "Once", "--stop", ""], "expected text to stop at, not an empty string"],
      ["usage.option", ["run", use, "--text", "a", "--temperature", "0"], "--temperature is for decoders; this artifact is an encoder"],
      ["usage.option", ["run", use, "--text", "a", "--chat"], "--chat is for decoders; this artifact is an encoder"],
    ];
    for (const [code, args, message] of cases) {
      const r = await seec(...args);
      expect([r.code, r.stdout, r.stderr]).toEqual([ERROR_CLASSES.usage, "", expect.stringContaining(message)]);
      expect(r.stderr).toContain(`error[${code}]`);
    }
    const embedded = JSON.parse((await seec("run", use, "--text", "a", "--text", "b", "--json")).stdout);
    expect(embedded).toMatchObject({ backend: "wasm-simd", threads: 1 });
  });
  it("runtime.family: embedding with a decoder, generating with an encoder", async () => {
    expect((await rejects(loadWasm(stories).then((d) => d.embed(["x"])))).code).toBe("runtime.family");
    expect((await rejects(loadWasm(use).then((e) => e.generate("x")))).code).toBe("runtime.family");
    expect((await rejects(loadWasm(use).then((e) => e.generateTokens([1, 2])))).code).toBe("runtime.family");
  });
  it("runtime.input: ids given to generate(), text to generateTokens()", async () => {
    const model = await loadWasm(stories);
    const ids = await rejects(model.generate([1, 403] as never));
    expect([ids.code, ids.message]).toEqual([
      "runtime.input",
      "stream() and generate() take a text prompt or a conversation (a list of { role, content })",
    ]);
    const text = await rejects(model.generateTokens("Once" as never));
    expect([text.code, text.message]).toEqual([
      "runtime.input",
      "streamTokens() and generateTokens() take a list of token ids, got a string",
    ]);
  });
  it("runtime.input: embed() of anything but a list of texts (a string alone was read as its characters)", async () => {
    const model = await loadWasm(use);
    const cases: [unknown, string, string][] = [
      ["hello", 'embed() takes a list of texts, got "hello"', "texts"],
      [new Set(["a", "b"]), "embed() takes a list of texts, got Set", "texts"],
      [undefined, "embed() takes a list of texts, got undefined", "texts"],
      [["a", 42], "embed() takes texts (strings): texts[1] is 42", "texts[1]"],
      [[null], "embed() takes texts (strings): texts[0] is null", "texts[0]"],
    ];
    for (const [texts, message, at] of cases) {
      const e = await rejects(model.embed(texts as never));
      expect([e.code, e.message, e.at]).toEqual(["runtime.input", message, at]);
    }
    expect((await rejects(model.embed("hello" as never))).hint).toBe("one text goes in a list of one: embed([text])");
    expect(await model.embed(["hello"])).toHaveLength(1);
  });
  it("usage.artifact: running a directory that is not an artifact, or scoring a model where its build belongs", async () => {
    await cli("usage.artifact", "run", work);
    writeFileSync(join(work, "story.txt"), "Once upon a time there was a cat.\n");
    await cli("usage.artifact", "eval", m.model, "--nll", join(work, "story.txt"));
    await cli("io.not_found", "run", join(work, "no-such-artifact"));
    const broken = join(work, "no-runtime");
    expect((await seec("build", m.model, "--tokenizer", m.tokenizer, "-o", broken)).code).toBe(0);
    rmSync(join(broken, "index.mjs"));
    expect((await cli("input.artifact", "run", broken)).stderr).toContain(`${broken}: the artifact's runtime, index.mjs, is missing`);
    const wasi = join(work, "wasi-build");
    expect((await seec("build", m.model, "--tokenizer", m.tokenizer, "--target", "wasi", "-o", wasi)).code).toBe(0);
    const r = await seec("run", wasi, "--prompt", "Once");
    expect([r.code, r.stderr]).toEqual([
      2,
      expect.stringContaining(`error[usage.artifact] ${wasi}: a wasi build: a WASI host runs its model.wasm`),
    ]);
  });

  it("usage.target: a target the API does not know", async () => {
    expect((await rejects(build({ model: m.model, target: "wasm-gpu" as never, out: join(work, "t") }))).code).toBe("usage.target");
  });

  it("unsupported.too_large: a model file over 4 GiB is refused before it is read", async () => {
    const big = join(work, "big.bin");
    writeFileSync(big, "");
    truncateSync(big, 5 * 1024 ** 3); // sparse: no disk used
    expect((await rejects(loadModel({ model: big }))).code).toBe("unsupported.too_large");
  });

  it("input.checkpoint_version: an unknown version after the ak42 magic", () => {
    const header = new Uint8Array(256);
    new DataView(header.buffer).setUint32(0, 0x616b3432, true);
    new DataView(header.buffer).setInt32(4, 7, true);
    expect(catchSeec(() => readLlama2cCheckpoint(header, "v7.bin")).code).toBe("input.checkpoint_version");
  });

  it("input.json, input.manifest, input.weights: a damaged artifact refuses to load", async () => {
    const copy = (name: string) => {
      const dir = join(work, name);
      mkdirSync(dir);
      for (const f of readdirSync(stories)) if (statSync(join(stories, f)).isFile()) copyFileSync(join(stories, f), join(dir, f));
      return dir;
    };
    const a = copy("bad-json");
    writeFileSync(join(a, "manifest.json"), "{");
    expect((await rejects(load(a))).code).toBe("input.json");
    const b = copy("bad-format");
    writeFileSync(
      join(b, "manifest.json"),
      JSON.stringify({ ...JSON.parse(readFileSync(join(stories, "manifest.json"), "utf8")), format: "seec/9" }),
    );
    expect((await rejects(load(b))).code).toBe("input.manifest");
    const outside = (file: string) => ({ modules: [{ backend: "wasm-simd", file }] });
    for (const [name, edit] of [
      ["no-modules", { modules: undefined }],
      ["bad-memory", { memory: { pages: 1 } }],
      ["bad-inputs", { inputs: [{ name: "tokens" }] }],
      // Files named by the manifest never lie outside the artifact (this one used to be read).
      ["climbs-out", outside("../../../../etc/passwd")],
      ["absolute", outside("/etc/passwd")],
      ["url", outside("https://example.com/model.wasm")],
      ["tokenizer-out", { tokenizer: { file: "../tokenizer.json", type: "llama2c-bpe" } }],
    ] as const) {
      const d = copy(name);
      writeFileSync(
        join(d, "manifest.json"),
        JSON.stringify({ ...JSON.parse(readFileSync(join(stories, "manifest.json"), "utf8")), ...edit }),
      );
      expect((await rejects(load(d))).code, name).toBe("input.manifest");
    }
    const c = copy("bad-weights");
    writeFileSync(join(c, "weights.bin"), new Uint8Array(16));
    expect((await rejects(load(c))).code).toBe("input.weights");
  });

  it("runtime.engine: an engine that validates none of the artifact's modules", async () => {
    const dir = join(work, "no-engine");
    mkdirSync(dir);
    for (const f of readdirSync(stories)) if (statSync(join(stories, f)).isFile()) copyFileSync(join(stories, f), join(dir, f));
    writeFileSync(join(dir, "future.wasm"), new Uint8Array([0, 97, 115, 109, 99, 0, 0, 0]));
    const manifest = JSON.parse(readFileSync(join(stories, "manifest.json"), "utf8"));
    manifest.modules = [
      { backend: "wasm-future", file: "future.wasm" },
      { backend: "wasm-future2", file: "future.wasm" },
    ];
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
    const e = await rejects(load(dir));
    expect(e.code).toBe("runtime.engine");
    expect(e.message).toMatch(/runs none of the artifact's modules \(wasm-future, wasm-future2\)/);
  });

  it("input.tokenizer: a vocab.json that is not a list of [piece, score]", async () => {
    writeFileSync(join(work, "vocab.json"), '{"a": 1}');
    expect((await rejects(loadModel({ model: join(USE_DIR, "model.json"), tokenizer: join(work, "vocab.json") }))).code).toBe(
      "input.tokenizer",
    );
  });

  it("input.see: a .see whose metadata is not SEE's", async () => {
    const f = randomFactors({ vocab: 4, dim: 4, rank: 1, slots: [["a", 4]] }, 1);
    const { writeSee, readSee } = await import("../../compiler/factors/format.js");
    // The writer always writes a format it knows: change it in the bytes (same length, same offsets).
    const text = new TextDecoder("latin1").decode(writeSee(f)).replace('\\"format\\":\\"see/1\\"', '\\"format\\":\\"see/9\\"');
    const e = catchSeec(() =>
      readSee(
        Uint8Array.from(text, (c) => c.charCodeAt(0)),
        "f.see",
      ),
    );
    expect(e.code).toBe("input.see");
    expect(e.message).toContain("see/9");
  });

  it("input.sememes, input.stsb: malformed knowledge and evaluation files", () => {
    expect(catchSeec(() => new FileSememes("s.txt", "cat animal\n")).code).toBe("input.sememes");
    expect(catchSeec(() => readStsb("1\t2\t3\n", "x.tsv")).code).toBe("input.stsb");
  });

  it("input.tfjs_graph, unsupported.tfjs_graph: graphs that are not the encoder seec compiles", async () => {
    const real = await readTfjsGraph(USE_DIR);
    // A well-formed graph that computes something else (a Relu where the encoder has its Tanh)...
    const relu = { ...real, nodes: real.nodes.map((n) => (n.op === "Tanh" ? { ...n, op: "Relu" } : n)) };
    expect(catchSeec(() => tfjsEncoderGraph("x", relu)).code).toBe("unsupported.tfjs_graph");
    // ...and one that is not a graph at all (nodes read nodes that are gone).
    const noEmbedding = { ...real, nodes: real.nodes.filter((n) => n.op !== "GatherV2") };
    expect(catchSeec(() => tfjsEncoderGraph("x", noEmbedding)).code).toBe("input.tfjs_graph");
    const weights = new Map(real.weights);
    const w = [...weights.entries()].find(([k]) => k.endsWith("FFN/conv1/Tensordot/Reshape_1"))!;
    weights.set(w[0], { ...w[1], shape: [w[1].shape[0], 7], data: w[1].data.subarray(0, w[1].shape[0] * 7) });
    expect(catchSeec(() => tfjsEncoderGraph("x", { ...real, weights })).code).toBe("input.tfjs_graph");
  });

  it("unsupported.tfjs_dtype: string weights", async () => {
    const dir = join(work, "strings");
    mkdirSync(dir);
    writeFileSync(join(dir, "s"), new Uint8Array(8));
    writeFileSync(
      join(dir, "model.json"),
      JSON.stringify({
        modelTopology: { node: [] },
        weightsManifest: [{ paths: ["s"], weights: [{ name: "w", shape: [2], dtype: "string" }] }],
      }),
    );
    expect((await rejects(readTfjsGraph(dir))).code).toBe("unsupported.tfjs_dtype");
  });

  it("unsupported.no_embedding, unsupported.see: graphs SEE cannot apply to", () => {
    const b = new GraphBuilder("g", { family: "decoder", config: {} });
    const table = b.constant("emb", new Float32Array(4 * 4), [4, 4]);
    b.output(b.node("Add", "sum", [table, table]));
    const g = b.finish();
    expect(catchSeec(() => findEmbedding(g)).code).toBe("unsupported.no_embedding");
    const f = randomFactors({ vocab: 4, dim: 4, rank: 1, slots: [["a", 4]] }, 2);
    expect(catchSeec(() => applySee(g, f, "materialize")).code).toBe("unsupported.see");
  });

  it("unsupported.op: an op the wasm backend has no kernel for", async () => {
    const { binding } = await import("../../targets/wasm/bindings.js");
    expect(catchSeec(() => binding({ name: "n", op: "Conv3D", inputs: [], outputs: [], attrs: {} })).code).toBe("unsupported.op");
  });

  it("io.wordnet: WordNet missing", () => {
    expect(catchSeec(() => WordNet.open(join(work, "no-wordnet"))).code).toBe("io.wordnet");
  });

  it("io.write: an artifact path that cannot be created", async () => {
    writeFileSync(join(work, "a-file"), "x");
    expect((await rejects(writeArtifact(join(work, "a-file", "out"), new Map([["x", "y"]])))).code).toBe("io.write");
  });

  it("runtime.trap: a trap inside the module becomes an error naming the step", async () => {
    const manifest = JSON.parse(readFileSync(join(stories, "manifest.json"), "utf8"));
    const memory = new WebAssembly.Memory({ initial: manifest.memory.pages });
    const instance = {
      exports: {
        memory,
        forward: () => {
          throw new WebAssembly.RuntimeError("unreachable");
        },
      },
    } as unknown as WebAssembly.Instance;
    const model = new Model(manifest, new WasmEngine(instance, "wasm-simd"));
    const e = await rejectsSeec(() => model.run({ tokens: Int32Array.of(1), pos: Int32Array.of(0) }));
    expect(e.code).toBe("runtime.trap");
    expect(e.message).toMatch(/trapped in forward\(\): unreachable/);
  });
});

describe("error code coverage", () => {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
    );
  const root = new URL("../../", import.meta.url).pathname;

  it("every code a user can cause is produced by some test", () => {
    const source = ["compiler", "runtime", "targets"]
      .flatMap((d) => files(join(root, d)))
      .map((f) => readFileSync(f, "utf8"))
      .join("\n");
    const tests = files(join(root, "test"))
      .map((f) => readFileSync(f, "utf8").replace(/\\\./g, "."))
      .join("\n");
    const codes = [...new Set([...source.matchAll(/"((usage|input|unsupported|mismatch|budget|runtime|io)\.[a-z_]+)"/g)].map((x) => x[1]))];
    expect(codes.length).toBeGreaterThan(30);
    expect(codes.filter((c) => !tests.includes(c))).toEqual([]);
  });
});
