// Seeded, bounded fuzzing of every input format and of the command line: each case must end in a
// valid result or a SeecError, never another exception, a hang or a size-driven allocation.
import { readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import onnxProto from "onnx-proto";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readGguf } from "../../compiler/frontends/gguf.js";
import { llamaToGguf } from "../../compiler/frontends/gguf/export-llama.js";
import { readLlama2cCheckpoint } from "../../compiler/frontends/llama2c.js";
import { loadOnnx } from "../../compiler/frontends/onnx/index.js";
import { readLlama2cTokenizer } from "../../compiler/frontends/llama2c-tokenizer.js";
import { readTfjsGraph, type TfGraph } from "../../compiler/frontends/tfjs.js";
import { tfjsEncoderGraph } from "../../compiler/frontends/tfjs-encoder.js";
import { readSee, writeSee } from "../../compiler/factors/format.js";
import { rng } from "../../compiler/util/random.js";
import { SeecError } from "../../runtime/errors.js";
import { Sampler } from "../../runtime/sampler.js";
import { seecIn } from "../helpers/cli.js";
import { tmpDir } from "../helpers/compile.js";
import { randomFactors } from "../helpers/see.js";
import { LLAMA2C, sharedPath } from "../helpers/shared.js";
import { USE_DIR } from "../helpers/use-lite.js";

/** SEEC_FUZZ=long multiplies the counts by 50: 5,340 inputs in CI, about 265,000 in the soak. */
const SCALE = process.env.SEEC_FUZZ === "long" ? 50 : 1;
const ONNX = sharedPath("onnx");
const { onnx } = onnxProto;

/** Runs f; returns "ok" or the SeecError's code. Any other exception fails the test. */
function outcome(f: () => unknown): string {
  try {
    f();
    return "ok";
  } catch (e) {
    if (!(e instanceof SeecError)) throw new Error(`not a SeecError: ${(e as Error)?.stack ?? e}`);
    if (e.code.startsWith("internal.")) throw new Error(`bad input reported as a seec bug: ${e.code}: ${e.message}`);
    return e.code;
  }
}

/** outcome() for work that returns a promise. */
async function outcomeOf(f: () => Promise<unknown>): Promise<string> {
  try {
    await f();
    return "ok";
  } catch (e) {
    return outcome(() => {
      throw e;
    });
  }
}

/** Byte-level mutations: flips, overwrites with extreme values, truncation, extension. */
function mutate(bytes: Uint8Array, r: () => number, hot = bytes.length): Uint8Array {
  const kind = Math.floor(r() * 4);
  if (kind === 0) return bytes.slice(0, Math.floor(r() * bytes.length));
  if (kind === 1) {
    const out = new Uint8Array(bytes.length + 1 + Math.floor(r() * 64));
    out.set(bytes);
    return out;
  }
  const out = bytes.slice();
  const n = 1 + Math.floor(r() * 8);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * Math.min(hot, out.length));
    if (kind === 2) out[at] ^= 1 << Math.floor(r() * 8);
    else
      new DataView(out.buffer).setInt32(
        Math.min(at & ~3, out.length - 4),
        [0, -1, 0x7fffffff, -0x80000000, 1 << 24][Math.floor(r() * 5)],
        true,
      );
  }
  return out;
}

function tally(outcomes: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const o of outcomes) t[o] = (t[o] ?? 0) + 1;
  return t;
}

describe("fuzzing", () => {
  it.skipIf(!LLAMA2C)("llama2.c checkpoints: 400 mutated and truncated files", () => {
    const good = new Uint8Array(readFileSync(LLAMA2C!.model));
    const r = rng(1);
    const outcomes = Array.from({ length: 400 * SCALE }, (_, i) =>
      outcome(() => readLlama2cCheckpoint(mutate(good, r, i % 2 ? 64 : good.length), "fuzz.bin")),
    );
    console.log("checkpoints", tally(outcomes));
    expect(Object.keys(tally(outcomes)).length).toBeGreaterThan(2);
  });

  it.skipIf(!LLAMA2C)("llama2.c tokenizers: 400 mutated and truncated files", () => {
    const good = new Uint8Array(readFileSync(LLAMA2C!.tokenizer));
    const r = rng(2);
    const outcomes = Array.from({ length: 400 * SCALE }, () => outcome(() => readLlama2cTokenizer(mutate(good, r), "fuzz.bin", 512)));
    console.log("tokenizers", tally(outcomes));
    expect(tally(outcomes)["input.truncated"]).toBeGreaterThan(0);
  });

  it.skipIf(!LLAMA2C)("GGUF files: 400 mutated and truncated stories260K (Q4_0, with its tokenizer)", () => {
    const { config, weights } = readLlama2cCheckpoint(new Uint8Array(readFileSync(LLAMA2C!.model)), "m.bin");
    const tokenizer = readLlama2cTokenizer(new Uint8Array(readFileSync(LLAMA2C!.tokenizer)), "t.bin", config.vocabSize);
    const good = llamaToGguf(config, weights, tokenizer, { name: "fuzz", type: "q4_0" }).bytes;
    // Half the mutations land in the metadata and tensor infos (the first 12 KB), where the counts and offsets are.
    const r = rng(9);
    const outcomes = Array.from({ length: 400 * SCALE }, (_, i) =>
      outcome(() => readGguf(mutate(good, r, i % 2 ? 12_000 : good.length), "fuzz.gguf")),
    );
    console.log("gguf", tally(outcomes));
    expect(tally(outcomes)["input.gguf"]).toBeGreaterThan(0);
    expect(tally(outcomes)["input.truncated"]).toBeGreaterThan(0);
  });

  it(".see files: 1000 mutated bytes, headers and metadata", () => {
    const f = randomFactors(
      {
        vocab: 13,
        dim: 10,
        rank: 2,
        slots: [
          ["m", 3],
          ["m", 3],
          ["s", 2, true],
        ],
        norm: true,
      },
      3,
    );
    const good = writeSee(f);
    const headerLength = Number(new DataView(good.buffer).getBigUint64(0, true));
    const header = new TextDecoder().decode(good.subarray(8, 8 + headerLength));
    const r = rng(3);
    const withHeader = (json: string) => {
      const h = new TextEncoder().encode(json);
      const out = new Uint8Array(8 + h.length + good.length - 8 - headerLength);
      new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
      out.set(h, 8);
      out.set(good.subarray(8 + headerLength), 8 + h.length);
      return out;
    };
    const outcomes: string[] = [];
    for (let i = 0; i < 500 * SCALE; i++) outcomes.push(outcome(() => readSee(mutate(good, r, 8 + headerLength), "fuzz.see")));
    for (let i = 0; i < 500 * SCALE; i++) {
      // Replace one number in the header (shapes, offsets, or the SEE metadata) by an extreme or nearby value.
      const numbers = [...header.matchAll(/-?\d+(\.\d+)?/g)];
      const m = numbers[Math.floor(r() * numbers.length)];
      const value = ["0", "-1", "1e9", "3", "null", '"x"', "[]", String(Number(m[0]) + 1)][Math.floor(r() * 8)];
      outcomes.push(
        outcome(() => readSee(withHeader(header.slice(0, m.index) + value + header.slice(m.index! + m[0].length)), "fuzz.see")),
      );
    }
    console.log(".see", tally(outcomes));
    expect(outcomes.filter((o) => o === "ok").length).toBeLessThan(outcomes.length);
  });

  it("TF.js graphs: 300 graphs with nodes removed, renamed or rewired, and weights reshaped", async () => {
    const real = await readTfjsGraph(USE_DIR);
    const r = rng(4);
    const errors: SeecError[] = [];
    const outcomes = Array.from({ length: 300 * SCALE }, () => {
      const nodes = real.nodes.map((n) => ({ ...n, inputs: [...n.inputs] }));
      const weights = new Map(real.weights);
      const pick = () => Math.floor(r() * nodes.length);
      for (let k = 0; k < 1 + Math.floor(r() * 3); k++) {
        const i = pick(),
          kind = Math.floor(r() * 4);
        if (kind === 0) nodes.splice(i, 1);
        else if (kind === 1) nodes[i].name += "_renamed";
        else if (kind === 2 && nodes[i].inputs.length) nodes[i].inputs[0] = nodes[pick()].name;
        else {
          const w = [...weights.keys()][Math.floor(r() * weights.size)];
          const t = weights.get(w)!;
          weights.set(w, {
            ...t,
            shape: [...t.shape].reverse().concat(t.shape.length ? [] : [2]),
            data: t.data.subarray(0, Math.max(0, t.data.length - 1)),
          });
        }
      }
      const g: TfGraph = { file: "fuzz/model.json", nodes, weights };
      return outcome(() => {
        try {
          return tfjsEncoderGraph("fuzz", g);
        } catch (e) {
          if (e instanceof SeecError) errors.push(e);
          throw e;
        }
      });
    });
    console.log("tfjs", tally(outcomes));
    // outcome() already failed the test on anything but a SeecError, and on internal.* codes.
    // Each refusal is the TF.js frontend's own: a malformed graph (input.) or one it cannot
    // lower (unsupported.), with a message of one line; and the mutations are noticed.
    expect(errors.length).toBe(outcomes.filter((o) => o !== "ok").length);
    expect(errors.length).toBeGreaterThan(outcomes.length / 2);
    for (const e of errors) {
      expect(["input.tfjs_graph", "unsupported.tfjs_graph"], e.message).toContain(e.code);
      expect(e.message.trim().length, e.code).toBeGreaterThan(0);
      expect(e.message, e.code).not.toMatch(/\n/);
    }
  });

  it.skipIf(!ONNX)(
    "ONNX graphs from real exporters: 1000 with nodes removed, rewired or retyped, attributes, dims and bytes mutated",
    async () => {
      const dir = await tmpDir();
      // (phi_layer_standard_ops_weights_as_inputs is left out: lowering it takes 8 s, 2,143 strided copies.)
      const graphs = ["gpt2_past_tiny_pt16", "bert_distilbert_tiny_hf_pt110", "gpt2_tiny_ort_fused_contrib"].map(
        (d) => new Uint8Array(readFileSync(join(ONNX!, d, "model.onnx"))),
      );
      const r = rng(7);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
      const extreme = () => pick([-1, 0, 1, 3, -3, 1e9, -1e9, 2 ** 31, 2 ** 53]);
      const outcomes: string[] = [];
      let slowest = 0;
      for (let i = 0; i < 1000 * SCALE; i++) {
        const good = pick(graphs);
        let bytes: Uint8Array;
        if (i % 4 === 3) bytes = mutate(good, r);
        else {
          const m = onnx.ModelProto.decode(good);
          const g = m.graph!;
          const nodes = g.node!;
          for (let k = 0; k < 1 + Math.floor(r() * 3); k++) {
            const n = pick(nodes);
            const kind = Math.floor(r() * 7);
            const attrs = (n.attribute ?? []).filter((a) => a.type === 2 || a.type === 7);
            if (kind === 0) nodes.splice(nodes.indexOf(n), 1);
            else if (kind === 1 && n.input?.length) n.input[Math.floor(r() * n.input.length)] = pick(pick(nodes).output ?? [""]);
            else if (kind === 2)
              n.opType = pick([
                "Softmax",
                "Transpose",
                "Reshape",
                "Gather",
                "Concat",
                "ReduceMean",
                "MatMul",
                "Slice",
                "Unsqueeze",
                "Split",
              ]);
            else if (kind === 3 && attrs.length) {
              const a = pick(attrs);
              if (a.type === 2) a.i = extreme();
              else if (a.ints?.length) a.ints[Math.floor(r() * a.ints.length)] = extreme();
            } else if (kind === 4 && g.initializer?.length) {
              const t = pick(g.initializer);
              if (t.dims?.length) t.dims[Math.floor(r() * t.dims.length)] = extreme();
            } else if (kind === 5 && g.input?.length) {
              const dims = pick(g.input).type?.tensorType?.shape?.dim;
              if (dims?.length) dims[Math.floor(r() * dims.length)] = { dimValue: extreme() };
            } else if (g.output?.length) g.output[0].name = pick(["", "nowhere", pick(nodes).output?.[0] ?? ""]);
          }
          bytes = onnx.ModelProto.encode(m).finish();
        }
        writeFileSync(join(dir, "model.onnx"), bytes);
        const start = performance.now();
        outcomes.push(await outcomeOf(() => loadOnnx(join(dir, "model.onnx"), "fuzz", {})));
        slowest = Math.max(slowest, performance.now() - start);
      }
      console.log("onnx", tally(outcomes), `slowest ${slowest.toFixed(0)} ms`);
      expect(Object.keys(tally(outcomes)).length).toBeGreaterThan(2);
      expect(slowest).toBeLessThan(10_000);
      expect(process.memoryUsage().rss).toBeLessThan(3 * 2 ** 30);
    },
    300_000 * SCALE,
  );

  it(
    "TF.js model.json files: 200 with numbers, strings and bytes mutated, and shards cut short",
    async () => {
      const dir = await tmpDir();
      const text = readFileSync(join(USE_DIR, "model.json"), "utf8");
      const shards = readdirSync(USE_DIR).filter((f) => f.startsWith("group"));
      const r = rng(8);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
      const numbers = [...text.matchAll(/-?\d+(\.\d+)?(e-?\d+)?/g)];
      const strings = [...text.matchAll(/"[^"]*"/g)];
      const outcomes: string[] = [];
      for (let i = 0; i < 200 * SCALE; i++) {
        for (const f of shards) symlinkSync(join(USE_DIR, f), join(dir, f));
        let json = text;
        const kind = i % 4;
        if (kind === 0) {
          const m = pick(numbers);
          json =
            text.slice(0, m.index) +
            pick(["0", "-1", "1e9", "0.5", "null", '"x"', "[]", "{}", "NaN", String(Number(m[0]) + 1)]) +
            text.slice(m.index! + m[0].length);
        } else if (kind === 1) {
          const m = pick(strings);
          json =
            text.slice(0, m.index) +
            pick(['"int32"', '"float16"', '""', '"Const"', '"MatMul"', '"../x"', "null", "7", JSON.stringify(pick(strings)[0])]) +
            text.slice(m.index! + m[0].length);
        } else if (kind === 2) json = new TextDecoder().decode(mutate(new TextEncoder().encode(text), r));
        else {
          const f = pick(shards);
          rmSync(join(dir, f));
          writeFileSync(join(dir, f), readFileSync(join(USE_DIR, f)).subarray(0, Math.floor(r() * 4096)));
        }
        writeFileSync(join(dir, "model.json"), json);
        outcomes.push(await outcomeOf(async () => tfjsEncoderGraph("fuzz", await readTfjsGraph(join(dir, "model.json")))));
        for (const f of shards) rmSync(join(dir, f));
      }
      console.log("tfjs model.json", tally(outcomes));
      expect(outcomes.filter((o) => o === "ok").length).toBeLessThan(outcomes.length / 2);
    },
    300_000 * SCALE,
  );

  it("the runtime API's generation options: 2000 random option sets", () => {
    const r = rng(6);
    const values = [0, 1, -1, 0.5, 1.5, 1e-45, 1e300, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 64, "7", null, [], {}, true];
    const pick = () => values[Math.floor(r() * values.length)] as number;
    const logits = Float32Array.from({ length: 16 }, () => r() * 10 - 5);
    const outcomes = Array.from({ length: 2000 * SCALE }, () =>
      outcome(() => {
        const sampler = new Sampler({ temperature: pick(), topP: pick(), seed: pick() });
        const t = sampler.sample(logits);
        if (!Number.isInteger(t) || t < 0 || t >= logits.length) throw new Error(`sampled ${t}`);
      }),
    );
    console.log("generation options", tally(outcomes));
    expect(Object.keys(tally(outcomes)).sort()).toEqual(["ok", "runtime.option"]);
  });

  it("the command line: 40 random argument lists exit with a documented code and one line", async () => {
    const r = rng(5);
    const words = [
      "build",
      "run",
      "inspect",
      "factorize",
      "eval",
      "--json",
      "--ratio",
      "0",
      "-1",
      "abc",
      "--method",
      "nope",
      "--see",
      "/nonexistent.see",
      "-o",
      "--target",
      "wasm",
      "--max-chunk",
      "99999999",
      "--tokenizer",
      join(USE_DIR, "vocab.json"),
      USE_DIR,
      "--nll",
      "--stsb",
      "--text",
      "--epochs",
      "1e9",
      "--explain",
      "",
      "x".repeat(300),
    ];
    for (let i = 0; i < 40; i++) {
      const args = Array.from({ length: 1 + Math.floor(r() * 5) }, () => words[Math.floor(r() * words.length)]);
      // Each run in its own empty directory: relative outputs land there, and a failure leaves nothing.
      const cwd = await tmpDir();
      const res = await seecIn(cwd, ...args);
      expect([0, 2, 3, 4, 5, 8], `seec ${args.join(" ")}\n${res.stderr}`).toContain(res.code);
      expect(res.stderr).not.toMatch(/internal error|\n\s+at /);
      if (res.code !== 0) {
        expect(res.stderr.trim().split("\n"), `seec ${args.join(" ")}`).toHaveLength(1);
        expect(readdirSync(cwd), `seec ${args.join(" ")} left files behind`).toEqual([]);
      }
    }
  });
});
