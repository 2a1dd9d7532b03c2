// The TF.js weight reader: manifest order across shards, every dtype, quantized weights, and broken files.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontends/load.js";
import { readTfjsGraph } from "../../compiler/frontends/tfjs.js";
import { SeecError } from "../../runtime/errors.js";
import { tmpDir } from "../helpers/compile.js";
import { USE_DIR } from "../helpers/use-lite.js";

/** Writes model.json and two shards holding the given raw weight bytes, split mid-way. */
function writeModel(dir: string, weights: { name: string; shape: number[]; dtype: string; quantization?: object }[], bytes: Uint8Array) {
  mkdirSync(dir, { recursive: true });
  const cut = Math.floor(bytes.length / 2);
  writeFileSync(join(dir, "shard1"), bytes.subarray(0, cut));
  writeFileSync(join(dir, "shard2"), bytes.subarray(cut));
  writeFileSync(join(dir, "model.json"), JSON.stringify({ modelTopology: { node: [{ name: "x", op: "Placeholder" }] }, weightsManifest: [{ paths: ["shard1", "shard2"], weights }] }));
}

const concat = (...parts: ArrayBufferView[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
    at += p.byteLength;
  }
  return out;
};

describe("TF.js graph-model weights", () => {
  it("reads float32, int32, bool, uint8- and uint16-quantized and float16 weights across shards in manifest order", async () => {
    const dir = join(await tmpDir(), "m");
    const weights = [
      { name: "f", shape: [3], dtype: "float32" },
      { name: "i", shape: [2], dtype: "int32" },
      { name: "b", shape: [3], dtype: "bool" },
      { name: "q8", shape: [2], dtype: "float32", quantization: { dtype: "uint8", scale: 0.5, min: -1 } },
      { name: "q16", shape: [2], dtype: "float32", quantization: { dtype: "uint16", scale: 0.25, min: 0 } },
      { name: "h", shape: [3], dtype: "float32", quantization: { dtype: "float16" } },
    ];
    const bytes = concat(Float32Array.of(1.5, -2, 3), Int32Array.of(7, -9), Uint8Array.of(1, 0, 1), Uint8Array.of(0, 4), Uint16Array.of(8, 400), Uint16Array.of(0x3c00, 0xc000, 0x3555));
    writeModel(dir, weights, bytes);
    const g = await readTfjsGraph(dir);
    const value = (n: string) => Array.from(g.weights.get(n)!.data);
    expect(value("f")).toEqual([1.5, -2, 3]);
    expect(value("i")).toEqual([7, -9]);
    expect(value("b")).toEqual([1, 0, 1]);
    expect(value("q8")).toEqual([-1, 1]);
    expect(value("q16")).toEqual([2, 100]);
    expect(value("h")[0]).toBe(1);
    expect(value("h")[1]).toBe(-2);
    expect(value("h")[2]).toBeCloseTo(0.33325, 4);
    expect(g.nodes).toEqual([{ name: "x", op: "Placeholder", inputs: [], attr: {} }]);
  });

  it("names the weight the shards end inside", async () => {
    const dir = join(await tmpDir(), "m");
    writeModel(dir, [{ name: "a", shape: [2], dtype: "float32" }, { name: "big", shape: [100], dtype: "float32" }], new Uint8Array(40));
    const e = await readTfjsGraph(dir).catch((x) => x);
    expect(e).toBeInstanceOf(SeecError);
    expect(e.code).toBe("input.truncated");
    expect(e.at).toBe("weight big");
  });

  it("refuses shards longer than the manifest, and JSON that is not a graph model", async () => {
    const dir = join(await tmpDir(), "m");
    writeModel(dir, [{ name: "a", shape: [2], dtype: "float32" }], new Uint8Array(12));
    expect((await readTfjsGraph(dir).catch((x) => x)).message).toMatch(/the shards hold 12 bytes; the manifest describes 8/);
    writeFileSync(join(dir, "model.json"), '{"format": "layers-model"}');
    expect((await readTfjsGraph(dir).catch((x) => x)).code).toBe("input.tfjs");
  });
});

describe("a TF.js model given as a folder", () => {
  it("an npm package folder is read through the one model.json below it (USE-Lite keeps it in dist/)", async () => {
    const { graph, format } = await loadModel({ model: join(USE_DIR, "..") });
    expect(format).toBe("tfjs");
    expect(graph.model.config.vocabSize).toBe(8002);
  });

  it("a folder with no model.json at or below it names the file it looked for", async () => {
    const dir = await tmpDir();
    await expect(loadModel({ model: dir })).rejects.toMatchObject({ code: "io.not_found", file: join(dir, "model.json") });
  });
});
