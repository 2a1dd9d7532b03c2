// The llama2.c checkpoint reader: the real stories260K, its version-1 re-export, and broken files.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputFile } from "../../compiler/frontends/input-file.js";
import { readLlama2cCheckpoint, readLlama2cFile, type Llama2cWeights } from "../../compiler/frontends/llama2c.js";
import type { DeferredData } from "../../compiler/ir/graph.js";
import { catchSeec } from "../helpers/errors.js";
import { LLAMA2C } from "../helpers/shared.js";

describe.skipIf(!LLAMA2C)("llama2.c checkpoints", () => {
  const bytes = LLAMA2C ? new Uint8Array(readFileSync(LLAMA2C.model)) : new Uint8Array();

  it("reads stories260K's header and weights", () => {
    const { config, weights } = readLlama2cCheckpoint(bytes, "stories260K.bin");
    expect(config).toEqual({
      dim: 64,
      hiddenDim: 172,
      nLayers: 5,
      nHeads: 8,
      nKvHeads: 4,
      vocabSize: 512,
      seqLen: 512,
      sharedClassifier: true,
    });
    expect(weights.tokEmbeddings.length).toBe(512 * 64);
    expect(weights.w2[4].length).toBe(64 * 172);
    expect(weights.output).toBe(weights.tokEmbeddings);
    // The first float after the 28-byte header is the embedding's first element.
    expect(weights.tokEmbeddings[0]).toBe(new DataView(bytes.buffer, bytes.byteOffset).getFloat32(28, true));
  });

  it("reads the same model re-exported in the version-1 layout (magic ak42, norms first)", () => {
    const { config, weights } = readLlama2cCheckpoint(bytes, "stories260K.bin");
    const v1 = readLlama2cCheckpoint(exportVersion1(config, weights), "v1.bin");
    expect(v1.config).toEqual(config);
    for (const key of Object.keys(weights) as (keyof Llama2cWeights)[]) expect(v1.weights[key]).toEqual(weights[key]);
  });

  it("rejects version-2 (Q8_0) checkpoints with a clear error", () => {
    const header = new Uint8Array(256);
    new DataView(header.buffer).setUint32(0, 0x616b3432, true);
    new DataView(header.buffer).setInt32(4, 2, true);
    const e = catchSeec(() => readLlama2cCheckpoint(header, "q8.bin"));
    expect(e.code).toBe("unsupported.checkpoint_version");
    expect(e.hint).toMatch(/--version 1/);
  });

  it.each([3, 28, 1000, bytes.length - 1])("names the byte offset when the file is truncated to %i bytes", (n) => {
    const e = catchSeec(() => readLlama2cCheckpoint(bytes.subarray(0, n), "cut.bin"));
    expect(e.code).toBe("input.truncated");
    expect(e.file).toBe("cut.bin");
    expect(e.at).toMatch(/^byte \d+$/);
  });

  it("rejects bytes after the last tensor", () => {
    const longer = new Uint8Array(bytes.length + 8);
    longer.set(bytes);
    expect(catchSeec(() => readLlama2cCheckpoint(longer, "x.bin")).code).toBe("input.trailing_bytes");
  });

  it("rejects a header whose sizes make no sense before reading weights", () => {
    const bad = bytes.slice();
    new DataView(bad.buffer).setInt32(12, 7, true); // n_heads = 7 does not divide dim 64
    const e = catchSeec(() => readLlama2cCheckpoint(bad, "x.bin"));
    expect(e.code).toBe("input.checkpoint_header");
    expect(e.message).toMatch(/n_heads 7/);
  });

  it("rejects an unknown version, naming it, at byte 4", () => {
    const header = new Uint8Array(256);
    new DataView(header.buffer).setUint32(0, 0x616b3432, true);
    new DataView(header.buffer).setInt32(4, 3, true);
    const e = catchSeec(() => readLlama2cCheckpoint(header, "v3.bin"));
    expect([e.code, e.message, e.file, e.at]).toEqual([
      "input.checkpoint_version",
      "unknown llama2.c checkpoint version 3",
      "v3.bin",
      "byte 4",
    ]);
    const v2 = new Uint8Array(header);
    new DataView(v2.buffer).setInt32(4, 2, true);
    const e2 = catchSeec(() => readLlama2cCheckpoint(v2, "q8.bin"));
    expect([e2.message, e2.file, e2.at]).toEqual(["llama2.c version-2 checkpoints (Q8_0 quantized) are not supported", "q8.bin", "byte 4"]);
  });

  it("names the header field a short file ends in (legacy and version 1)", () => {
    const fields = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"];
    expect(truncated(bytes, 2)).toEqual(["file ends inside the header: needs 4 bytes, 2 left", "byte 0"]);
    // Legacy: the first int is read as a possible magic first, so dim itself is never short.
    for (const [i, f] of fields.entries())
      if (i > 0)
        expect(truncated(bytes, 4 * i + 1)).toEqual([`file ends inside header field ${f}: needs 4 bytes, 1 left`, `byte ${4 * i}`]);
    const v1 = version1(bytes);
    expect(truncated(v1, 6)).toEqual(["file ends inside the version: needs 4 bytes, 2 left", "byte 4"]);
    expect(truncated(v1, 10)).toEqual(["file ends inside header field dim: needs 4 bytes, 2 left", "byte 8"]);
    expect(truncated(v1, 36)).toEqual(["file ends inside the shared-classifier flag: needs 1 bytes, 0 left", "byte 36"]);
  });

  it("names each tensor a truncated legacy file ends in, at its offset in llama2.c's layout", () => {
    // llama2.c's run.c memory_map_weights: embedding, then each kind for all layers, the final norm,
    // freq_cis_real and freq_cis_imag (seq_len * head_size / 2 each), then wcls when not shared.
    const [dim, hidden, layers, kv, vocab, seq, head] = [64, 172, 5, 32, 512, 512, 8];
    const layout: [string, number][] = [["tok_embeddings", vocab * dim]];
    const kinds: [string, number][] = [
      ["attention_norm", dim],
      ["attention.wq", dim * dim],
      ["attention.wk", kv * dim],
      ["attention.wv", kv * dim],
      ["attention.wo", dim * dim],
      ["ffn_norm", dim],
      ["feed_forward.w1", hidden * dim],
      ["feed_forward.w2", dim * hidden],
      ["feed_forward.w3", hidden * dim],
    ];
    for (const [k, n] of kinds) for (let l = 0; l < layers; l++) layout.push([`layers.${l}.${k}`, n]);
    layout.push(["norm", dim], ["the RoPE tables (freq_cis_real, freq_cis_imag)", seq * head]);
    expectLayout(bytes, 28, layout);
    expect(28 + layout.reduce((n, [, c]) => n + 4 * c, 0)).toBe(bytes.length);
  });

  it("names each tensor a truncated version-1 file ends in, at its offset in export.py's layout", () => {
    const [dim, hidden, layers, kv, vocab] = [64, 172, 5, 32, 512];
    const layout: [string, number][] = [];
    const perLayer = (k: string, n: number) => {
      for (let l = 0; l < layers; l++) layout.push([`layers.${l}.${k}`, n]);
    };
    perLayer("attention_norm", dim);
    perLayer("ffn_norm", dim);
    layout.push(["norm", dim], ["tok_embeddings", vocab * dim]);
    perLayer("attention.wq", dim * dim);
    perLayer("attention.wk", kv * dim);
    perLayer("attention.wv", kv * dim);
    perLayer("attention.wo", dim * dim);
    perLayer("feed_forward.w1", hidden * dim);
    perLayer("feed_forward.w2", dim * hidden);
    perLayer("feed_forward.w3", hidden * dim);
    const v1 = version1(bytes);
    expectLayout(v1, 256, layout);
    expect(256 + layout.reduce((n, [, c]) => n + 4 * c, 0)).toBe(v1.length);
  });

  it("reads a legacy file with its own classifier (negative vocab_size) from after the RoPE tables", () => {
    const wcls = Float32Array.from({ length: 512 * 64 }, (_, i) => i / 8);
    const file = new Uint8Array(bytes.length + wcls.byteLength);
    file.set(bytes);
    file.set(new Uint8Array(wcls.buffer), bytes.length);
    new DataView(file.buffer).setInt32(20, -512, true);
    const { config, weights } = readLlama2cCheckpoint(file, "unshared.bin");
    expect([config.vocabSize, config.sharedClassifier]).toEqual([512, false]);
    expect(weights.output).toEqual(wcls);
    expect(weights.tokEmbeddings).toEqual(readLlama2cCheckpoint(bytes, "s.bin").weights.tokEmbeddings);
    const e = catchSeec(() => readLlama2cCheckpoint(file.subarray(0, file.length - 4), "cut.bin"));
    expect([e.message, e.at]).toEqual([
      `file ends inside output (wcls): needs ${wcls.byteLength} bytes, ${wcls.byteLength - 4} left`,
      `byte ${bytes.length}`,
    ]);
  });

  it("reads a version-1 file whose classifier byte is 0 with the output after the last layer", () => {
    const { config, weights } = readLlama2cCheckpoint(bytes, "stories260K.bin");
    const wcls = Float32Array.from({ length: 512 * 64 }, (_, i) => -i / 16);
    const shared = exportVersion1(config, weights);
    const file = new Uint8Array(shared.length + wcls.byteLength);
    file.set(shared);
    file.set(new Uint8Array(wcls.buffer), shared.length);
    file[36] = 0;
    const v1 = readLlama2cCheckpoint(file, "unshared-v1.bin");
    expect(v1.config).toEqual({ ...config, sharedClassifier: false });
    expect(v1.weights.output).toEqual(wcls);
    expect(v1.weights.tokEmbeddings).toEqual(weights.tokEmbeddings);
    const e = catchSeec(() => readLlama2cCheckpoint(file.subarray(0, file.length - 8), "cut.bin"));
    expect([e.message, e.at]).toEqual([
      `file ends inside output: needs ${wcls.byteLength} bytes, ${wcls.byteLength - 8} left`,
      `byte ${shared.length}`,
    ]);
    // A flag of 2 is not 1: not shared either.
    file[36] = 2;
    expect(readLlama2cCheckpoint(file, "flag2.bin").config.sharedClassifier).toBe(false);
  });

  it("says where the bytes after the last tensor start, and why they matter", () => {
    const longer = new Uint8Array(bytes.length + 8);
    longer.set(bytes);
    const e = catchSeec(() => readLlama2cCheckpoint(longer, "x.bin"));
    expect([e.message, e.file, e.at, e.hint]).toEqual([
      "8 bytes follow the last tensor",
      "x.bin",
      `byte ${bytes.length}`,
      "the header does not describe this file: is it a llama2.c checkpoint?",
    ]);
  });

  it("gives a bad header's location and hint", () => {
    const bad = bytes.slice();
    new DataView(bad.buffer).setInt32(12, 7, true);
    const e = catchSeec(() => readLlama2cCheckpoint(bad, "x.bin"));
    expect([e.message, e.file, e.at, e.hint]).toEqual([
      "dim 64 is not a multiple of n_heads 7",
      "x.bin",
      "header",
      "this does not look like a llama2.c checkpoint",
    ]);
  });

  it("reads a file left on disk: the header now, each tensor from the file when it is read", async () => {
    const input = await InputFile.open(LLAMA2C!.model, "model");
    const { config, weights } = readLlama2cFile(input);
    const whole = readLlama2cCheckpoint(bytes, "stories260K.bin");
    expect(config).toEqual(whole.config);
    // Only the 256-byte header was read into memory: every tensor is deferred to the file.
    const deferred = weights.wq[3] as DeferredData;
    expect(deferred.read).toBeTypeOf("function");
    expect(deferred.length).toBe(64 * 64);
    expect(deferred.read()).toEqual(whole.weights.wq[3]);
    expect((weights.tokEmbeddings as DeferredData).read()).toEqual(whole.weights.tokEmbeddings);
    expect(weights.output).toBe(weights.tokEmbeddings);
  });

  it("reads a file on disk shorter than the 256-byte header as truncated, naming the field", async () => {
    const dir = mkdtempSync(join(tmpdir(), "seec-test-"));
    try {
      writeFileSync(join(dir, "short.bin"), bytes.subarray(0, 21));
      const input = await InputFile.open(join(dir, "short.bin"), "model");
      const e = catchSeec(() => readLlama2cFile(input));
      expect([e.code, e.message, e.file, e.at]).toEqual([
        "input.truncated",
        "file ends inside header field vocab_size: needs 4 bytes, 1 left",
        join(dir, "short.bin"),
        "byte 20",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The message and `at` of reading the first `n` bytes of `file` (which must fail as truncated). */
function truncated(file: Uint8Array, n: number): [string, string | undefined] {
  const e = catchSeec(() => readLlama2cCheckpoint(file.subarray(0, n), "cut.bin"));
  expect(e.code).toBe("input.truncated");
  return [e.message, e.at];
}

/** Each tensor of `layout`, from `start`: a file cut 4 bytes into it fails naming it, at its first byte. */
function expectLayout(file: Uint8Array, start: number, layout: [string, number][]): void {
  let at = start;
  for (const [name, floats] of layout) {
    expect(truncated(file, at + 4)).toEqual([`file ends inside ${name}: needs ${floats * 4} bytes, 4 left`, `byte ${at}`]);
    at += floats * 4;
  }
}

/** stories260K re-exported in the version-1 layout. */
function version1(bytes: Uint8Array): Uint8Array {
  const { config, weights } = readLlama2cCheckpoint(bytes, "stories260K.bin");
  return exportVersion1(config, weights);
}

/** The version-1 layout of llama2.c's export.py: 256-byte header, then norms, embedding, weights by kind. */
function exportVersion1(c: ReturnType<typeof readLlama2cCheckpoint>["config"], w: Llama2cWeights): Uint8Array {
  const tensors = [
    ...w.attentionNorm,
    ...w.ffnNorm,
    w.norm,
    w.tokEmbeddings,
    ...w.wq,
    ...w.wk,
    ...w.wv,
    ...w.wo,
    ...w.w1,
    ...w.w2,
    ...w.w3,
  ];
  const floats = tensors.reduce((n, t) => n + t.length, 0);
  const out = new Uint8Array(256 + floats * 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x616b3432, true);
  view.setInt32(4, 1, true);
  [c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.vocabSize, c.seqLen].forEach((v, i) => view.setInt32(8 + 4 * i, v, true));
  out[36] = c.sharedClassifier ? 1 : 0;
  let at = 256;
  for (const t of tensors) {
    out.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength), at);
    at += t.byteLength;
  }
  return out;
}
