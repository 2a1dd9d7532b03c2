// Inputs past the 2 GiB that one Node buffer call takes, exercised without holding them in memory:
// sparse files and generators of zero chunks stand in for multi-GiB checkpoints and weights.
import { execFileSync } from "node:child_process";
import { appendFileSync, openSync, closeSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HASH_CHUNK_BYTES, sha256, sha256Chunks, writeArtifact } from "../../compiler/artifact.js";
import type { FileContent, Later, Pieces } from "../../compiler/util/file-content.js";
import { build, compileArtifact } from "../../compiler/build.js";
import { InputFile, STREAM_ABOVE_BYTES } from "../../compiler/frontends/input-file.js";
import { isDeferred, readValues } from "../../compiler/ir/graph.js";
import { llamaGraph, type LlamaConfig } from "../../compiler/frontends/llama-graph.js";
import { readLlama2cCheckpoint } from "../../compiler/frontends/llama2c.js";
import { loadModel, readInput } from "../../compiler/frontends/load.js";
import { quantizeInt8 } from "../../compiler/passes/quantize.js";
import { quantizeQ4 } from "../../compiler/passes/quantize-q4.js";
import type { TargetName } from "../../targets/registry.js";
import { tmpDir } from "../helpers/compile.js";
import { rejectsSeec } from "../helpers/errors.js";
import { LLAMA2C } from "../helpers/shared.js";

const GiB = 1024 ** 3;

describe("hashing in chunks", () => {
  it("hashes 2.25 GiB produced lazily exactly as sha256sum hashes the same bytes on disk", async () => {
    const zeros = 2.25 * GiB;
    const tail = Buffer.from("seec\n");
    function* chunks(): Generator<Uint8Array> {
      // One chunk larger than HASH_CHUNK_BYTES, so that its split is exercised too; the rest reuse one buffer.
      const big = new Uint8Array(2 * HASH_CHUNK_BYTES + 1);
      yield big;
      const chunk = new Uint8Array(HASH_CHUNK_BYTES);
      let left = zeros - big.byteLength;
      for (; left >= chunk.byteLength; left -= chunk.byteLength) yield chunk;
      yield chunk.subarray(0, left);
      yield tail;
    }
    const dir = await tmpDir();
    const file = join(dir, "weights.bin");
    try {
      writeFileSync(file, "");
      truncateSync(file, zeros);
      appendFileSync(file, tail);
      const expected = execFileSync("sha256sum", [file], { encoding: "utf8" }).split(" ")[0];
      expect(sha256Chunks(chunks())).toBe(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("hashes small buffers and strings as one update does", () => {
    expect(sha256("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256(new TextEncoder().encode("abc"))).toBe(sha256("abc"));
    expect(sha256Chunks([Buffer.from("a"), Buffer.from(""), Buffer.from("bc")])).toBe(sha256("abc"));
  });

  it("makes a file of pieces once, hashed as it is written, and the manifest last, from those hashes", async () => {
    let made = 0;
    const weights: Pieces = {
      byteLength: 6,
      *pieces() {
        made++;
        yield Uint8Array.of(1, 2, 3);
        yield Uint8Array.of(4, 5, 6);
      },
    };
    const manifest: Later = { made: (sha256s) => JSON.stringify(Object.fromEntries(sha256s)) };
    const dir = await tmpDir();
    try {
      await writeArtifact(
        join(dir, "a"),
        new Map<string, FileContent | Later>([
          ["manifest.json", manifest],
          ["weights.bin", weights],
          ["x.txt", "hi"],
        ]),
      );
      expect(made).toBe(1);
      const sum = (name: string) => execFileSync("sha256sum", [join(dir, "a", name)], { encoding: "utf8" }).split(" ")[0];
      expect(JSON.parse(readFileSync(join(dir, "a", "manifest.json"), "utf8"))).toEqual({
        "weights.bin": sum("weights.bin"),
        "x.txt": sum("x.txt"),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * A Llama graph of zero weights in which every layer shares one buffer per shape, so that a model
 * whose plan declares gigabytes of weights costs a few hundred MiB to describe.
 */
function zeroLlama(shape: Omit<LlamaConfig, "sharedClassifier">, context?: number) {
  const c: LlamaConfig = { ...shape, sharedClassifier: true };
  const kvDim = (c.dim / c.nHeads) * c.nKvHeads;
  const shared = new Map<number, Float32Array>();
  const zeros = (n: number) => shared.get(n) ?? shared.set(n, new Float32Array(n)).get(n)!;
  const perLayer = (n: number) => Array.from({ length: c.nLayers }, () => zeros(n));
  const embedding = zeros(c.vocabSize * c.dim);
  const weights = {
    tokEmbeddings: embedding,
    attentionNorm: perLayer(c.dim),
    wq: perLayer(c.dim * c.dim),
    wk: perLayer(kvDim * c.dim),
    wv: perLayer(kvDim * c.dim),
    wo: perLayer(c.dim * c.dim),
    ffnNorm: perLayer(c.dim),
    w1: perLayer(c.hiddenDim * c.dim),
    w2: perLayer(c.dim * c.hiddenDim),
    w3: perLayer(c.hiddenDim * c.dim),
    norm: zeros(c.dim),
    output: embedding,
  };
  return llamaGraph("zeros", c, weights, { maxChunk: 1, context });
}

const compile = (graph: ReturnType<typeof zeroLlama>, target: TargetName = "wasm-simd") =>
  compileArtifact({ graph, format: "graph" }, { target });

describe("a memory plan past wasm32's 4 GiB", () => {
  it("is budget.memory naming the regions and the --context that fits, which then builds", async () => {
    // Small weights, a KV cache of 4 GiB: 8 layers x 2^20 positions x 64 floats x K and V.
    const shape = { dim: 64, hiddenDim: 128, nLayers: 8, nHeads: 4, nKvHeads: 4, vocabSize: 256, seqLen: 1 << 20 };
    const e = await rejectsSeec(() => compile(zeroLlama(shape)));
    expect(e.code).toBe("budget.memory");
    expect(e.message).toMatch(
      /^the model needs 4\.\d GiB of linear memory; wasm32 addresses at most 4 GiB \(weights [\d.]+ MiB, activations [\d.]+ KiB, state 4\.00 GiB/,
    );
    expect(e.hint).toMatch(/^what would fit: --context \d+ or less \(the KV cache takes 4\.00 GiB at context 1048576\)/);
    const context = Number(/--context (\d+)/.exec(e.hint!)![1]);
    expect(context).toBeGreaterThan(900_000);
    const fits = await compile(zeroLlama(shape, context));
    expect(fits.manifest.memory.pages).toBeLessThanOrEqual(65536);
  });

  it("names int8 when the weights are the bulk, and is raised before the weights are packed or asc runs", async () => {
    // 4.3 GiB of f32 Linear weights (26 layers of 168 MiB) that int8 brings to about 1.1 GiB.
    const shape = { dim: 2048, hiddenDim: 5632, nLayers: 26, nHeads: 32, nKvHeads: 4, vocabSize: 512, seqLen: 256 };
    const started = performance.now();
    // The scalar target reads the weights as written, so nothing copies the shared buffers.
    const e = await rejectsSeec(() => compile(zeroLlama(shape), "wasm"));
    expect(e.code).toBe("budget.memory");
    expect(e.message).toMatch(/wasm32 addresses at most 4 GiB \(weights 4\.\d\d GiB, activations [\d.]+ KiB, state [\d.]+ MiB/);
    expect(e.hint).toMatch(/^what would fit: --quantize int8 \(the Linear weights and the embedding shrink by 3\.\d\d GiB\)$/);
    // Packing 4.3 GiB of weights or compiling with asc would take far longer than planning.
    expect(performance.now() - started).toBeLessThan(30_000);
  });
});

describe("checkpoints past 2 GiB", () => {
  it("reads a 2.1 GiB llama2.c checkpoint (sparse) in chunks, the bytes past 2 GiB where they belong", async () => {
    // Legacy layout: 7 int32, then the weights; 11 layers of 196 MiB put the final norm past 2 GiB.
    const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen] = [2048, 5632, 11, 32, 32, 512, 256];
    const perLayer = 2 * dim + 4 * dim * dim + 3 * hiddenDim * dim;
    const floats = vocabSize * dim + nLayers * perLayer + dim + seqLen * (dim / nHeads);
    const size = 28 + 4 * floats;
    expect(size).toBeGreaterThan(2 * GiB);
    // The last element of the final norm: the RoPE tables (seqLen x headSize floats) follow it.
    const marker = size - 4 * seqLen * (dim / nHeads) - 4;
    const dir = await tmpDir();
    const file = join(dir, "big.bin");
    try {
      writeFileSync(file, new Uint8Array(new Int32Array([dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen]).buffer));
      truncateSync(file, size);
      const fd = openSync(file, "r+");
      writeSync(fd, new Uint8Array(new Float32Array([1.5]).buffer), 0, 4, marker);
      closeSync(fd);
      const bytes = await readInput(file, "model");
      expect(bytes.byteLength).toBe(size);
      const { config, weights } = readLlama2cCheckpoint(bytes, file);
      expect(config).toEqual({ dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen, sharedClassifier: true });
      expect(weights.w3[nLayers - 1].length).toBe(hiddenDim * dim);
      expect(weights.norm[dim - 1]).toBe(1.5);
      expect(weights.norm[dim - 2]).toBe(0);
      // Views of the bytes read, not copies: the build does not hold the checkpoint twice.
      expect(weights.norm.buffer).toBe(bytes.buffer);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads the same weights from an unaligned copy of a checkpoint as from an aligned one", () => {
    const header = [8, 16, 1, 2, 2, 4, 4]; // dim, hidden, layers, heads, kv heads, vocab, seq_len
    const floats = 4 * 8 + (2 * 8 + 4 * 8 * 8 + 3 * 16 * 8) + 8 + 4 * 4;
    const values = Float32Array.from({ length: floats }, (_, i) => i / 7);
    const aligned = new Uint8Array(28 + 4 * floats);
    aligned.set(new Uint8Array(new Int32Array(header).buffer));
    aligned.set(new Uint8Array(values.buffer), 28);
    const unaligned = new Uint8Array(aligned.byteLength + 1).subarray(1);
    unaligned.set(aligned);
    const a = readLlama2cCheckpoint(aligned, "aligned.bin").weights;
    const b = readLlama2cCheckpoint(unaligned, "unaligned.bin").weights;
    expect(a.w2[0].buffer).toBe(aligned.buffer);
    expect(b.w2[0].buffer).not.toBe(unaligned.buffer);
    expect(b).toEqual(a);
    expect(a.norm[7]).toBe(values[floats - 16 - 1]);
  });

  it("refuses a GGUF file over 4 GiB before reading it, saying why and what to use instead", async () => {
    const dir = await tmpDir();
    const file = join(dir, "huge.gguf");
    try {
      writeFileSync(file, "GGUF");
      truncateSync(file, 4 * GiB + 1);
      const e = await rejectsSeec(() => loadModel({ model: file }));
      expect(e.code).toBe("unsupported.too_large");
      expect(e.message).toBe(
        "the model is 4294967297 bytes (4.00 GiB); seec reads files of its kind up to 4 GiB, the most a wasm32 artifact addresses (llama2.c checkpoints of any size, tensor by tensor)",
      );
      expect(e.hint).toMatch(/GGUF Q8_0 or Q4_0/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("checkpoints left in their file", () => {
  it("reads a 4.4 GB llama2.c checkpoint (sparse, TinyLlama's shape) tensor by tensor, when a pass reads them", async () => {
    // Legacy layout, an untied classifier: its last value lies past 4 GiB.
    const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen] = [2048, 5632, 22, 32, 4, 32000, 2048];
    const kvDim = (dim / nHeads) * nKvHeads;
    const perLayer = 2 * dim + 2 * dim * dim + 2 * kvDim * dim + 3 * hiddenDim * dim;
    const floats = 2 * vocabSize * dim + nLayers * perLayer + dim + seqLen * (dim / nHeads);
    const size = 28 + 4 * floats;
    expect(size).toBeGreaterThan(4 * GiB);
    const dir = await tmpDir();
    const file = join(dir, "tinyllama.bin");
    try {
      writeFileSync(file, new Uint8Array(new Int32Array([dim, hiddenDim, nLayers, nHeads, nKvHeads, -vocabSize, seqLen]).buffer));
      truncateSync(file, size);
      const fd = openSync(file, "r+");
      writeSync(fd, new Uint8Array(new Float32Array([2.5]).buffer), 0, 4, size - 4); // the classifier's last value
      writeSync(fd, new Uint8Array(new Float32Array([-1]).buffer), 0, 4, size - 4 * (vocabSize * dim + seqLen * (dim / nHeads) + 1)); // the final norm's last
      closeSync(fd);
      const rss = process.memoryUsage().rss;
      const { graph } = await loadModel({ model: file, streamAbove: STREAM_ABOVE_BYTES });
      // Nothing of the 4.4 GB is held: each tensor is read when its values are.
      expect(process.memoryUsage().rss - rss).toBeLessThan(256 * 1024 ** 2);
      const head = graph.values.get("output.weight")!;
      expect(isDeferred(head)).toBe(true);
      expect(head.shape).toEqual([vocabSize, dim]);
      expect(Array.from(readValues(head, vocabSize * dim - 3, 3))).toEqual([0, 0, 2.5]);
      const norm = graph.values.get("norm.weight")!.data as Float32Array;
      expect([norm.length, norm[dim - 1], norm[dim - 2]]).toEqual([dim, -1, 0]);
      // Only the build leaves a checkpoint in its file (distillation reads every weight at every step): others read it whole.
      expect((await rejectsSeec(() => loadModel({ model: file }))).code).toBe("unsupported.too_large");
      // Its f32 weights do not fit wasm32: the build says so from the plan, without reading them.
      const started = performance.now();
      const e = await rejectsSeec(() => build({ model: file, noTokenizer: true, target: "wasm-simd", out: join(dir, "out") }));
      expect(e.code).toBe("budget.memory");
      expect(e.hint).toMatch(/^what would fit: --quantize int8 \(the Linear weights and the embedding shrink by 3\.\d\d GiB\)$/);
      expect(performance.now() - started).toBeLessThan(20_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!LLAMA2C)(
    "builds an artifact bit for bit the same from a checkpoint left in its file as from one read whole",
    async () => {
      const dir = await tmpDir();
      try {
        for (const quantize of [undefined, "int8", "q4"] as const) {
          const common = { model: LLAMA2C!.model, tokenizer: LLAMA2C!.tokenizer, target: "wasm-simd" as const, quantize };
          const whole = await build({ ...common, out: join(dir, `whole-${quantize}`) });
          const streamed = await build({ ...common, out: join(dir, `streamed-${quantize}`), streamAbove: 0 });
          expect(streamed.manifest.files).toEqual(whole.manifest.files);
          expect(streamed.quantization).toEqual(whole.quantization);
        }
        // What the quantizers make of weights left in the file is made again when it is written, not held.
        const { graph } = await loadModel({ model: LLAMA2C!.model, tokenizer: LLAMA2C!.tokenizer, streamAbove: 0 });
        for (const [quantize, suffix] of [
          [quantizeInt8, ".int8"],
          [quantizeQ4, ".q4"],
        ] as const) {
          const made = [...quantize(graph).graph.values.values()].filter((v) => v.name.endsWith(suffix));
          expect(made.length).toBeGreaterThan(0);
          expect(made.filter((v) => !isDeferred(v)).map((v) => v.name)).toEqual([]);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );

  it("refuses to read on when the file has changed since the build began reading it", async () => {
    const dir = await tmpDir();
    const file = join(dir, "m.bin");
    try {
      writeFileSync(file, new Uint8Array(64));
      const input = await InputFile.open(file, "model");
      expect(Array.from(input.f32s(8, 2).read())).toEqual([0, 0]);
      truncateSync(file, 40);
      const e = await rejectsSeec(async () => input.f32s(8, 2).read());
      expect(e.code).toBe("io.read");
      expect(e.message).toBe("cannot read the model: it changed while seec built from it (64 bytes when read began, now 40)");
      expect(e.at).toBe("byte 8");
      // Replaced by another file of the same size (a training run writing its next checkpoint).
      writeFileSync(file, new Uint8Array(64));
      const again = await InputFile.open(file, "model");
      writeFileSync(`${file}.next`, new Uint8Array(64).fill(9));
      renameSync(`${file}.next`, file);
      const replaced = await rejectsSeec(async () => again.f32s(0, 1).read());
      expect(replaced.message).toBe("cannot read the model: it changed while seec built from it (it was rewritten or replaced)");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
