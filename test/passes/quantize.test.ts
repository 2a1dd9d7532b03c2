// quantizeInt8: per-row scales, weights that only Linear reads, and what the build reports.
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { quantizeInt8 } from "../../compiler/passes/quantize.js";
import { maxAbsDiff, randomF32 } from "../helpers/random.js";

describe("quantizeInt8", () => {
  function graph() {
    const b = new GraphBuilder("q", { family: "decoder", config: {} });
    b.dim("T", 3);
    const emb = b.constant("emb", randomF32(10 * 8, 1), [10, 8]);
    const x = b.node("Gather", "embed", [emb, b.input("ids", "i32", ["T"])]);
    const h = b.node("Linear", "proj", [x, b.constant("w", randomF32(6 * 8, 2), [6, 8]), b.constant("bias", randomF32(6, 3), [6])]);
    b.output(h);
    b.output(b.node("Linear", "head", [x, emb])); // a tied head: the table is read by Gather too
    return b.finish();
  }

  it("quantizes Linear weights per output row and leaves a weight other ops read in f32", () => {
    const { graph: q, report } = quantizeInt8(graph());
    expect(q.nodes.map((n) => n.op)).toEqual(["Gather", "QLinear", "Linear"]);
    expect(q.values.get("w.int8")!.dtype).toBe("i8");
    expect(q.values.get("emb")!.dtype).toBe("f32");
    const scale = q.values.get("w.scale")!.data as Float32Array;
    const w = graph().values.get("w")!.data as Float32Array;
    for (let n = 0; n < 6; n++) expect(scale[n]).toBeCloseTo(Math.max(...Array.from(w.subarray(n * 8, n * 8 + 8), Math.abs)) / 127, 6);
    expect(report).toMatchObject({ tensors: 1, bytesBefore: 6 * 8 * 4, bytesAfter: 6 * 8 + 6 * 4 });
    expect(report.relativeError).toBeGreaterThan(0);
    expect(report.relativeError).toBeLessThan(0.01);
  });

  it("changes the outputs by no more than int8 rounding allows", () => {
    const g = graph();
    const ids = Int32Array.of(1, 4, 9);
    const before = new Interpreter(g).run({ ids }).proj.data;
    const after = new Interpreter(quantizeInt8(g).graph).run({ ids }).proj.data;
    expect(maxAbsDiff(before, after)).toBeLessThan(0.02);
  });
});
