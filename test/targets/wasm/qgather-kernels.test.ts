// QGather (an int8 embedding table with one f32 scale per row, passes/quantize.ts) on the wasm
// kernels (kernels/indexing.ts, the same code in every flavour) against the reference interpreter:
// equal to the bit (one f32 multiply an element), for D not a multiple of 4 or 16, repeated and
// edge ids, T from 1 to 7, nothing written past a call's rows, and from a table tied to a classifier
// (which the SIMD builds store "n4k16": passes/weight-layout.ts); an id outside the table is refused, not read.
import v8 from "node:v8";
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../../compiler/ir/builder.js";
import { Interpreter } from "../../../compiler/ir/interpreter.js";
import { quantizeInt8 } from "../../../compiler/passes/quantize.js";
import { compileAndLoad } from "../../helpers/compile.js";
import { guardPast } from "../../helpers/output-guard.js";
import { randomF32 } from "../../helpers/random.js";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd");

/** Gather from a V × D table, quantized to int8 (QGather); `tied`: a classifier reads the table too (QLinear). */
function qgatherGraph(V: number, D: number, tied = false) {
  const b = new GraphBuilder("qgather", { family: "decoder", config: {} });
  b.dim("T", 7);
  const table = randomF32(V * D, V * 7 + D, 0.8);
  table.fill(0, 0, D); // row 0 all zero: scale 1
  const emb = b.constant("emb", table, [V, D]);
  const out = b.node("Gather", "out", [emb, b.input("ids", "i32", ["T"])]);
  b.output(out);
  if (tied) b.output(b.node("Linear", "logits", [out, emb]));
  const q = quantizeInt8(b.finish()).graph;
  expect(q.nodes.map((n) => n.op)).toEqual(tied ? ["QGather", "QLinear"] : ["QGather"]);
  return q;
}

describe.each(["wasm-simd", "wasm-relaxed", "wasm"] as const)("%s QGather matches the reference interpreter", (target) => {
  it.each([
    [5, 1, false],
    [17, 3, false],
    [33, 64, false],
    [512, 61, false],
    [300, 288, false],
    [300, 288, true],
    [36, 64, true],
  ])("V=%i, D=%i (tied: %s), T = 1 to 7, to the bit", async (V, D, tied) => {
    const graph = qgatherGraph(V, D, tied);
    const model = await compileAndLoad(graph, target);
    expect(model.backend).toBe(target);
    const ref = new Interpreter(graph);
    for (let T = 1; T <= 7; T++) {
      const ids = Int32Array.from({ length: T }, (_, t) => [0, V - 1, 1, V - 1, Math.floor(V / 2), 0, 2 % V][t]);
      const want = ref.run({ ids }).out.data as Float32Array;
      const guard = guardPast(model, "out", T * D);
      const got = (await model.run({ ids })).out as Float32Array;
      expect(got.length).toBe(T * D);
      expect(Array.from(got), `T=${T}`).toEqual(Array.from(want));
      expect(guard.written(), guard.message()).toBe(-1);
    }
  });

  it("refuses an id outside the table", async () => {
    const model = await compileAndLoad(qgatherGraph(9, 4), target);
    await expect(model.run({ ids: Int32Array.of(1, 9) })).rejects.toThrow();
  });
});
