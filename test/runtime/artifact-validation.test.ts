// A damaged or tampered artifact refuses to load with a SeecError naming the file and the field:
// manifest addresses, alignment, dims and file names (runtime/validate-manifest.ts), tokenizer.json's
// fields (runtime/tokenizers/index.ts), a model.wasm the engine will not compile, link or start
// (runtime/index.ts), a contextLength or dims.T.max beyond what the module was planned for; and
// step() refuses positions and token ids that an Int32Array would quietly turn into others.
// Then a seeded mutation loop: every outcome is a model that runs or a one-line, non-internal error.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { SeecError } from "../../runtime/errors.js";
import { load } from "../../runtime/index.js";
import type { Model } from "../../runtime/model.js";
import { tmpDir } from "../helpers/compile.js";
import { rejectsSeec } from "../helpers/errors.js";
import { rng } from "../helpers/random.js";
import { LLAMA2C } from "../helpers/shared.js";

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
type Path = (string | number)[];

/** The artifact is built with this context: the module's KV cache holds 64 positions, calls take up to 32 tokens. */
const CONTEXT = 64;

async function outcome(p: Promise<unknown>): Promise<SeecError | undefined> {
  const e = await p.then(
    () => undefined,
    (x) => x,
  );
  if (e !== undefined && !(e instanceof SeecError)) throw new Error(`expected a SeecError, got ${(e as Error)?.stack ?? e}`);
  return e;
}

async function refused(p: Promise<unknown>): Promise<SeecError> {
  const e = await outcome(p);
  if (!e) throw new Error("expected the artifact to be refused; it loaded");
  expect(e.toLine()).not.toMatch(/\n/);
  return e;
}

function withValue(json: Json, path: Path, value: unknown): Json {
  const copy = structuredClone(json);
  let at = copy;
  for (const k of path.slice(0, -1)) at = at[k];
  if (value === undefined) delete at[path.at(-1)!];
  else at[path.at(-1)!] = value;
  return copy;
}

describe.skipIf(!LLAMA2C)("artifact validation", () => {
  let work: string, stories: string, manifest: Json, tokenizer: Json;
  let copies = 0;

  beforeAll(async () => {
    work = await tmpDir();
    stories = join(work, "stories");
    await build({ model: LLAMA2C!.model, tokenizer: LLAMA2C!.tokenizer, context: CONTEXT, target: "wasm-simd", out: stories });
    manifest = JSON.parse(readFileSync(join(stories, "manifest.json"), "utf8"));
    tokenizer = JSON.parse(readFileSync(join(stories, "tokenizer.json"), "utf8"));
  }, 120_000);

  /** A fresh copy of the artifact's files in the temporary directory, with `files` written over them. */
  const copy = (files: Record<string, string | Uint8Array> = {}): string => {
    const dir = join(work, `copy-${copies++}`);
    mkdirSync(dir);
    for (const f of readdirSync(stories)) if (statSync(join(stories, f)).isFile()) copyFileSync(join(stories, f), join(dir, f));
    for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
    return dir;
  };
  const tampered = (path: Path, value: unknown) => copy({ "manifest.json": JSON.stringify(withValue(manifest, path, value)) });
  const loadWasm = (dir: string) => load(dir, { webgpu: false });

  it("the untouched copy loads and generates", async () => {
    const m = await loadWasm(copy());
    const text = await m.generate("Once upon a time", { maxTokens: 8, temperature: 0 });
    expect(text).toMatch(/\S/);
    expect(text).not.toMatch(/^Once upon a time/); // the continuation alone
  });

  describe("manifest.json", () => {
    // [field, value, the field the error names]
    const cases: [string, Path, unknown, string][] = [
      ["a negative weights address", ["memory", "weights", "address"], -1, "memory.weights.address"],
      ["a fractional weights address", ["memory", "weights", "address"], 8192.5, "memory.weights.address"],
      ["an unaligned weights address", ["memory", "weights", "address"], 8194, "memory.weights.address"],
      ["a weights address past memory", ["memory", "weights", "address"], 2 ** 32, "memory.weights.address"],
      ["a weights address as a string", ["memory", "weights", "address"], "8192", "memory.weights.address"],
      ["weights running past memory", ["memory", "weights", "bytes"], 1e9, "memory.weights.bytes"],
      ["the arena running past memory", ["memory", "arena", "bytes"], 2 ** 31, "memory.arena.bytes"],
      ["state over the arena", ["memory", "state", "address"], "ARENA", "memory.state.address"],
      ["a null state", ["memory", "state"], null, "memory.state"],
      ["a negative scratch", ["memory", "scratch"], { address: -64, bytes: 64 }, "memory.scratch.address"],
      ["no pages", ["memory", "pages"], 0, "memory.pages"],
      ["more pages than wasm32 has", ["memory", "pages"], 70000, "memory.pages"],
      ["more bytes than the pages", ["memory", "totalBytes"], 2 ** 40, "memory.totalBytes"],
      ["a fractional total", ["memory", "totalBytes"], 0.5, "memory.totalBytes"],
      ["embedded as a string", ["memory", "weights", "embedded"], "yes", "memory.weights.embedded"],
      ["a negative input address", ["inputs", 0, "address"], -4, "inputs[0].address"],
      ["an unaligned input address", ["inputs", 0, "address"], "ARENA+2", "inputs[0].address"],
      ["an input in the weights", ["inputs", 0, "address"], 8192, "inputs[0].address"],
      ["an input past the arena", ["inputs", 1, "address"], "STATE", "inputs[1].address"],
      ["an input address of 2^32", ["inputs", 0, "address"], 2 ** 32, "inputs[0].address"],
      ["an output past memory", ["outputs", 0, "address"], "TOTAL", "outputs[0].address"],
      ["an output address of NaN (null in JSON)", ["outputs", 0, "address"], null, "outputs[0].address"],
      ["an unknown dtype", ["inputs", 0, "dtype"], "f64", "inputs[0].dtype"],
      ["an unknown element type", ["inputs", 0, "elementType"], "int128", "inputs[0].elementType"],
      ["an input listed twice", ["inputs", 1, "name"], "tokens", "inputs[1].name"],
      ["a shape naming no dimension", ["inputs", 0, "shape", 0], "S", "inputs[0].shape[0]"],
      ["a negative dimension", ["inputs", 1, "shape", 0], -1, "inputs[1].shape[0]"],
      ["a fractional dimension", ["inputs", 1, "shape", 0], 1.5, "inputs[1].shape[0]"],
      ["a shape whose product overflows", ["outputs", 0, "shape"], [1e6, 1e6, 1e6], "outputs[0].shape"],
      ["a shape that is not a list", ["outputs", 0, "shape"], "512", "outputs[0].shape"],
      ["a zero dims max", ["dims", "T", "max"], 0, "dims.T.max"],
      ["a fractional dims max", ["dims", "T", "max"], 1.5, "dims.T.max"],
      ["a dims max of 2^53", ["dims", "T", "max"], 2 ** 53, "dims.T.max"],
      ["a null dim", ["dims", "T"], null, "dims.T"],
      ["a vocabulary beyond the logits", ["model", "config", "vocabSize"], 1e9, "model.config.vocabSize"],
      ["a vocabulary as a string", ["model", "config", "vocabSize"], "x", "model.config.vocabSize"],
      ["no vocabulary", ["model", "config", "vocabSize"], undefined, "model.config.vocabSize"],
      ["a fractional context", ["model", "config", "contextLength"], 1.5, "model.config.contextLength"],
      ["a negative context", ["model", "config", "contextLength"], -1, "model.config.contextLength"],
      ["no context", ["model", "config", "contextLength"], undefined, "model.config.contextLength"],
      ["an unknown family", ["model", "family"], "transformer", "model.family"],
      ["a null model", ["model"], null, "model"],
      ["a bosId of -1", ["model", "bosId"], -1, "model.bosId"],
      ["rows of an input that is not there", ["model", "rows"], { name: "batch", max: 2, inputs: ["ids"] }, "model.rows.inputs[0]"],
      ["rows of an input that is not one row", ["model", "rows"], { name: "batch", max: 2, inputs: ["tokens"] }, "model.rows.inputs[0]"],
      ["rows of no inputs", ["model", "rows"], { name: "batch", max: 2, inputs: [] }, "model.rows.inputs"],
      ["rows up to 1.5", ["model", "rows"], { name: "batch", max: 1.5, inputs: ["pos"] }, "model.rows.max"],
      ["rows with a number for a name", ["model", "rows"], { name: 0, max: 2, inputs: ["pos"] }, "model.rows.name"],
      ["rows on a decoder", ["model", "rows"], { name: "batch", max: 2, inputs: ["pos"] }, "model.rows"],
      ["an unknown format", ["format"], "seec/9", "format"],
      ["modules that are not a list", ["modules"], "model.wasm", "modules"],
      ["no modules", ["modules"], [], "modules"],
      ["a module file climbing out", ["modules", 0, "file"], "../../../../etc/passwd", "modules[0].file"],
      ["an absolute module file", ["modules", 0, "file"], "/etc/passwd", "modules[0].file"],
      ["a module file that is a URL", ["modules", 0, "file"], "https://example.com/model.wasm", "modules[0].file"],
      ["a module file that is a number", ["modules", 0, "file"], 7, "modules[0].file"],
      ["a tokenizer file climbing out", ["tokenizer", "file"], "../tokenizer.json", "tokenizer.file"],
      ["an unknown tokenizer type", ["tokenizer", "type"], null, "tokenizer.type"],
      ["a WebGPU program outside", ["webgpu"], { file: "../../model.webgpu.json" }, "webgpu.file"],
      ["a files entry climbing out", ["files"], { "../x": { bytes: 1, sha256: "" } }, 'files["../x"]'],
    ];
    const resolve = (v: unknown) => {
      const m = manifest.memory;
      const named: Record<string, number> = {
        ARENA: m.arena.address,
        "ARENA+2": m.arena.address + 2,
        STATE: m.state.address,
        TOTAL: m.totalBytes,
      };
      return typeof v === "string" && v in named ? named[v] : v;
    };

    it.each(cases)("%s is input.manifest naming the field", async (_what, path, value, at) => {
      const dir = tampered(path, resolve(value));
      const e = await refused(loadWasm(dir));
      expect([e.code, e.at]).toEqual(["input.manifest", at]);
      expect(e.file).toMatch(/manifest\.json$/);
      expect(e.message).toContain(at.replace(/\[.*$/, ""));
    });

    it.each([
      ["null", null],
      ["a list", []],
      ["a number", 7],
    ])("a manifest.json that is %s is input.manifest", async (_what, value) => {
      const e = await refused(loadWasm(copy({ "manifest.json": JSON.stringify(value) })));
      expect(e.code).toBe("input.manifest");
      expect(e.file).toMatch(/manifest\.json$/);
    });

    it("a module file outside the artifact is never read, even a valid module", async () => {
      // A real model.wasm beside the artifact's directory: were it read, the load would succeed.
      copyFileSync(join(stories, "model.wasm"), join(work, "outside.wasm"));
      const e = await refused(loadWasm(tampered(["modules", 0, "file"], "../outside.wasm")));
      expect([e.code, e.at]).toEqual(["input.manifest", "modules[0].file"]);
    });

    it("memory the module does not have is input.manifest (pages and total beyond model.wasm's memory)", async () => {
      const pages = manifest.memory.pages + 100;
      const edited = withValue(withValue(manifest, ["memory", "pages"], pages), ["memory", "totalBytes"], pages * 65536);
      const e = await refused(loadWasm(copy({ "manifest.json": JSON.stringify(edited) })));
      expect([e.code, e.at]).toEqual(["input.manifest", "memory.totalBytes"]);
      expect(e.message).toMatch(/bytes of memory model\.wasm has/);
    });

    it(`a contextLength beyond the KV cache model.wasm was planned for (${CONTEXT}), or none, is refused`, async () => {
      const e = await refused(loadWasm(tampered(["model", "config", "contextLength"], 512)));
      expect([e.code, e.at]).toEqual(["input.manifest", "model.config.contextLength"]);
      expect(e.message).toMatch(new RegExp(`more than model\\.wasm was planned for \\(${CONTEXT} positions\\)`));
      // Nor can the bound be dropped by calling the decoder something else.
      const edited = withValue(withValue(manifest, ["model", "family"], "graph"), ["model", "config", "contextLength"], undefined);
      const f = await refused(loadWasm(copy({ "manifest.json": JSON.stringify(edited) })));
      expect([f.code, f.at]).toEqual(["input.manifest", "model.family"]);
      // A smaller one is only more cautious.
      const m = await loadWasm(tampered(["model", "config", "contextLength"], 16));
      expect((await rejectsSeec(() => m.step([1], 16))).code).toBe("runtime.context");
    });

    it("a dims.T.max beyond the tokens a call of model.wasm takes is refused", async () => {
      const e = await refused(loadWasm(tampered(["dims", "T", "max"], 1000)));
      expect([e.code, e.at]).toEqual(["input.manifest", "dims.T.max"]);
    });
  });

  describe("tokenizer.json", () => {
    const cases: [string, Path, unknown, string][] = [
      ["null pieces", ["pieces"], null, "pieces"],
      ["pieces as a string", ["pieces"], "abc", "pieces"],
      ["a piece that is a number", ["pieces", 5], 7, "pieces[5]"],
      ["null scores", ["scores"], null, "scores"],
      ["too few scores", ["scores"], [0, 1, 2], "scores"],
      ["a score that is a string", ["scores", 3], "x", "scores[3]"],
      ["a null bosId", ["bosId"], null, "bosId"],
      ["a bosId past the pieces", ["bosId"], 1e9, "bosId"],
      ["a negative eosId", ["eosId"], -1, "eosId"],
      ["a fractional eosId", ["eosId"], 1.5, "eosId"],
      ["no type", ["type"], undefined, "type"],
      ["an unknown type", ["type"], "wordpiece", "type"],
    ];
    it.each(cases)("%s is input.tokenizer naming the field", async (_what, path, value, at) => {
      const e = await refused(loadWasm(copy({ "tokenizer.json": JSON.stringify(withValue(tokenizer, path, value)) })));
      expect([e.code, e.at]).toEqual(["input.tokenizer", at]);
      expect(e.file).toMatch(/tokenizer\.json$/);
    });

    it.each([
      ["null", null],
      ["a list", []],
      ["a string", "tokenizer"],
    ])("a tokenizer.json that is %s is input.tokenizer", async (_what, value) => {
      const e = await refused(loadWasm(copy({ "tokenizer.json": JSON.stringify(value) })));
      expect(e.code).toBe("input.tokenizer");
      expect(e.file).toMatch(/tokenizer\.json$/);
    });

    it("a sentencepiece spec with null or malformed pieces is input.tokenizer", async () => {
      for (const [spec, at] of [
        [{ type: "sentencepiece-unigram", pieces: null, reserved: 0 }, "pieces"],
        [
          {
            type: "sentencepiece-unigram",
            pieces: [
              ["<unk>", 0],
              ["a", null],
            ],
            reserved: 1,
          },
          "pieces[1]",
        ],
        [
          {
            type: "sentencepiece-unigram",
            pieces: [
              ["", 0],
              ["a", 1],
            ],
            reserved: 1,
          },
          "pieces[0]",
        ],
        [{ type: "sentencepiece-unigram", pieces: [["<unk>", 0]], reserved: 5 }, "reserved"],
      ] as const) {
        const e = await refused(loadWasm(copy({ "tokenizer.json": JSON.stringify(spec) })));
        expect([e.code, e.at]).toEqual(["input.tokenizer", at]);
      }
    });

    it("more pieces than the model's vocabulary is mismatch.tokenizer", async () => {
      const bigger = { ...tokenizer, pieces: [...tokenizer.pieces, "extra"], scores: [...tokenizer.scores, 0] };
      const e = await refused(loadWasm(copy({ "tokenizer.json": JSON.stringify(bigger) })));
      expect(e.code).toBe("mismatch.tokenizer");
      expect(e.file).toMatch(/tokenizer\.json$/);
    });
  });

  describe("model.wasm", () => {
    const header = [0, 97, 115, 109, 1, 0, 0, 0];
    const cases: [string, number[] | "truncated" | "damaged", string, RegExp][] = [
      ["an empty file", [], "input.wasm", /CompileError/],
      ["bytes that are not wasm", [1, 2, 3, 4, 5, 6, 7, 8, 9], "input.wasm", /CompileError/],
      ["a truncated module", "truncated", "input.wasm", /CompileError/],
      ["a module with a damaged section header", "damaged", "input.wasm", /CompileError/],
      ["a module with nothing in it", header, "input.wasm", /does not export the memory and forward\(\)/],
      // (type () -> ()) (import "a" "b" (func)): the runtime gives no imports.
      ["a module that imports", [...header, 1, 4, 1, 0x60, 0, 0, 2, 7, 1, 1, 0x61, 1, 0x62, 0, 0], "input.wasm", /Import|LinkError/],
      // (func unreachable) (start 0): traps as it is instantiated.
      [
        "a module whose start traps",
        [...header, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 8, 1, 0, 10, 5, 1, 3, 0, 0, 0x0b],
        "runtime.trap",
        /RuntimeError: unreachable/,
      ],
    ];
    it.each(cases)("%s is a one-line SeecError naming model.wasm", async (_what, bytes, code, message) => {
      const original = new Uint8Array(readFileSync(join(stories, "model.wasm")));
      let data: Uint8Array;
      if (bytes === "truncated") data = original.subarray(0, original.length >> 1);
      else if (bytes === "damaged") {
        data = original.slice();
        data[8] = 0x7f; // the first section's id: no such section
      } else data = Uint8Array.from(bytes);
      const e = await refused(loadWasm(copy({ "model.wasm": data })));
      expect(e.code).toBe(code);
      expect(e.file).toMatch(/model\.wasm$/);
      expect(e.message).toMatch(/^model\.wasm /);
      expect(e.message).toMatch(message);
    });
  });

  describe("step()", () => {
    let m: Model;
    beforeAll(async () => {
      m = await loadWasm(copy());
    });

    it.each([
      ["position 2^32", [1], 2 ** 32, "runtime.context", "pos"],
      ["position NaN", [1], NaN, "runtime.input", "pos"],
      ["position 1.5", [1], 1.5, "runtime.input", "pos"],
      ["position -1", [1], -1, "runtime.input", "pos"],
      ["position '3'", [1], "3", "runtime.input", "pos"],
      [`positions past the context (${CONTEXT})`, [1, 2], CONTEXT - 1, "runtime.context", "pos"],
      ["token 'x'", ["x"], 0, "runtime.token", "tokens[0]"],
      ["token 1.5", [1, 1.5], 0, "runtime.token", "tokens[1]"],
      ["token NaN", [NaN], 0, "runtime.token", "tokens[0]"],
      ["token 2^32 (0 as an Int32Array)", [2 ** 32], 0, "runtime.token", "tokens[0]"],
      ["token -1", [-1], 0, "runtime.token", "tokens[0]"],
      ["no tokens", [], 0, "runtime.input", "tokens"],
      ["tokens that are not a list", "abc", 0, "runtime.input", "tokens"],
    ])("refuses %s", async (_what, tokens, pos, code, at) => {
      const e = await rejectsSeec(() => m.step(tokens as number[], pos as number));
      expect([e.code, e.at]).toEqual([code, at]);
      expect(e.toLine()).not.toMatch(/\n/);
    });

    it("runs the last position of the context", async () => {
      expect(await m.step([1], CONTEXT - 1)).toHaveLength(512);
    });
  });

  describe("seeded mutations", () => {
    const EXTREMES: unknown[] = [
      -1,
      0,
      1,
      0.5,
      1e9,
      2 ** 31,
      2 ** 32,
      2 ** 53,
      -(2 ** 31),
      1e308,
      -0,
      null,
      "x",
      "",
      true,
      [],
      {},
      [1e9],
      { max: -1 },
    ];

    /** Every leaf's path (numbers, strings, booleans, nulls) under `json`. */
    const leaves = (json: Json, path: Path = []): Path[] =>
      json !== null && typeof json === "object"
        ? Object.entries(json).flatMap(([k, v]) => leaves(v, [...path, Array.isArray(json) ? Number(k) : k]))
        : [path];

    /** Loads, then (when it loads) runs a step and a few generated tokens: each outcome is success or a one-line, non-internal SeecError. */
    async function check(dir: string, what: string): Promise<string> {
      let e = await outcome(
        loadWasm(dir).then(async (model) => {
          await model.step([1, 2, 3], 0);
          await model.generate("Once", { maxTokens: 3, temperature: 0 });
        }),
      ).catch((x: Error) => {
        throw new Error(`${what}: ${x.message}`);
      });
      if (!e) return "ok";
      expect(e.errorClass, `${what}: ${e.toLine()}`).not.toBe("internal");
      expect(e.toLine(), what).not.toMatch(/\n/);
      if (e.code === "input.manifest") expect(e.file, what).toMatch(/manifest\.json$/);
      return e.code;
    }

    it("600 manifests, one or two fields replaced by extreme values: each loads and runs, or is a one-line non-internal SeecError", async () => {
      const r = rng(26);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
      // The fields the runtime reads (files' sizes and hashes are for people), numbers twice as often.
      const paths = leaves(manifest).filter((p) => p[0] !== "files" && p[0] !== "command");
      const numeric = paths.filter((p) => typeof p.reduce<Json>((o, k) => o[k], manifest) === "number");
      const dir = copy();
      const codes = new Map<string, number>();
      const t0 = performance.now();
      for (let i = 0; i < 600; i++) {
        let edited = manifest;
        const edits: string[] = [];
        for (let n = r() < 0.2 ? 2 : 1; n > 0; n--) {
          const path = r() < 0.7 ? pick(numeric) : pick(paths);
          const value = pick(EXTREMES);
          edited = withValue(edited, path, value);
          edits.push(`${path.join(".")} = ${JSON.stringify(value)}`);
        }
        writeFileSync(join(dir, "manifest.json"), JSON.stringify(edited));
        const code = await check(dir, `mutation ${i}: ${edits.join(", ")}`);
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
      console.log(`600 manifest mutations in ${((performance.now() - t0) / 1000).toFixed(1)} s:`, Object.fromEntries(codes));
      expect(codes.get("input.manifest")).toBeGreaterThan(200);
    }, 60_000);

    it("200 tokenizer.json files, one field replaced by an extreme value: each loads and runs, or is a one-line non-internal SeecError", async () => {
      const r = rng(2626);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
      const top: Path[] = [["type"], ["pieces"], ["scores"], ["bosId"], ["eosId"]];
      const dir = copy();
      const codes = new Map<string, number>();
      for (let i = 0; i < 200; i++) {
        const path = r() < 0.5 ? pick(top) : [pick(["pieces", "scores"]), Math.floor(r() * tokenizer.pieces.length)];
        const value = pick(EXTREMES);
        writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(withValue(tokenizer, path, value)));
        const code = await check(dir, `tokenizer mutation ${i}: ${path.join(".")} = ${JSON.stringify(value)}`);
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
      console.log("200 tokenizer mutations:", Object.fromEntries(codes));
    }, 60_000);
  });
});
