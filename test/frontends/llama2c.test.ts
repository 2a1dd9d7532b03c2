// The llama2.c checkpoint reader: the real stories260K, its version-1 re-export, and broken files.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readLlama2cCheckpoint, type Llama2cWeights } from "../../compiler/frontends/llama2c.js";
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
});

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
