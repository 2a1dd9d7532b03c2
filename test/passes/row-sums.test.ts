// rowSums: each QLinear of a wasm-relaxed build gets its int8 weight rows' sums (attribute
// `sums: 1`, an i32 [N] input after the scales) for the relaxed kernel's offset activations
// (kernels-relaxed/linear-q8s.ts). A weight two QLinears read is summed once; a QGather of a tied
// table is left as it is; the reference semantics do not change; and only wasm-relaxed runs it.
import { describe, expect, it } from "vitest";
import { compileArtifact } from "../../compiler/build.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { quantizeInt8 } from "../../compiler/passes/quantize.js";
import { rowSums } from "../../compiler/passes/row-sums.js";
import { randomF32 } from "../helpers/random.js";

/** logits = tied(relu(up(embed(tokens))) + down(embed(tokens))), quantized to int8: `tied` shares its weight with the Gather. */
function quantizedDecoder() {
  const b = new GraphBuilder("tiny", { family: "graph", config: {} });
  b.dim("T", 6);
  const tokens = b.input("tokens", "i32", ["T"]);
  const table = b.constant("embed", randomF32(10 * 8, 1), [10, 8]);
  const x = b.node("Gather", "x", [table, tokens]);
  const up = b.node("Linear", "up", [x, b.constant("up.w", randomF32(24 * 8, 2), [24, 8]), b.constant("up.b", randomF32(24, 3), [24])]);
  const down = b.node("Linear", "down", [b.node("Relu", "h", [up]), b.constant("down.w", randomF32(8 * 24, 4), [8, 24])]);
  b.output(b.node("Linear", "logits", [b.node("Add", "sum", [down, x]), table]));
  return quantizeInt8(b.finish()).graph;
}

describe("rowSums", () => {
  it("gives each QLinear its weight rows' sums after the scales, and leaves the QGather and what the model computes", () => {
    const before = quantizedDecoder();
    const { graph, summed } = rowSums(before);
    expect(summed).toBe(3);
    const linears = graph.nodes.filter((n) => n.op === "QLinear");
    expect(linears.map((n) => [n.inputs.slice(1), n.attrs.sums])).toEqual(
      before.nodes
        .filter((n) => n.op === "QLinear")
        .map((n) => [[n.inputs[1], n.inputs[2], `${n.inputs[1]}.sums`, ...n.inputs.slice(3)], 1]),
    );
    expect(graph.nodes.find((n) => n.op === "QGather")).toEqual(before.nodes.find((n) => n.op === "QGather"));
    for (const n of linears) {
      const w = graph.values.get(n.inputs[1])!,
        sums = graph.values.get(n.inputs[3])!;
      const [N, K] = w.shape as number[];
      const q = w.data as Int8Array;
      expect(sums).toMatchObject({ kind: "const", dtype: "i32", shape: [N] });
      expect(Array.from(sums.data!)).toEqual(
        Array.from({ length: N }, (_, r) => q.subarray(r * K, (r + 1) * K).reduce((a, v) => a + v, 0)),
      );
    }
    const feeds = { tokens: Int32Array.of(3, 0, 9, 4) };
    expect(new Interpreter(graph).run(feeds).logits.data).toEqual(new Interpreter(before).run(feeds).logits.data);
    // Run again, it adds nothing.
    expect(rowSums(graph).summed).toBe(0);
  });

  it("runs for wasm-relaxed, whose relaxed module calls the kernel that reads them; not for wasm-simd", async () => {
    const b = new GraphBuilder("one", { family: "graph", config: {} });
    b.dim("T", 4);
    b.output(b.node("Linear", "y", [b.input("x", "f32", ["T", 8]), b.constant("w", randomF32(8 * 8, 5), [8, 8])]));
    const graph = quantizeInt8(b.finish()).graph;
    const program = async (target: "wasm-simd" | "wasm-relaxed") =>
      (await compileArtifact({ graph, format: "graph" }, { target })).files.get("src/model.ts") as string;
    expect(await program("wasm-relaxed")).toMatch(/qlinearSums\(/);
    expect(await program("wasm-simd")).not.toMatch(/qlinearSums\(/);
  });
});
