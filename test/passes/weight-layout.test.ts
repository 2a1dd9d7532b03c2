// transposeSmallWeights: a model whose matmul weights fit in cache gets them stored [K, N] for the
// SIMD kernels (kernels/linear-kn.ts); a tied weight that Gather also reads, a model too big, and
// the targets whose kernels read [N, K] (scalar, WebGPU) keep them as written.
import { describe, expect, it } from "vitest";
import { compileArtifact } from "../../compiler/build.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { CACHED_WEIGHT_BYTES, transposeSmallWeights } from "../../compiler/passes/weight-layout.js";
import { maxAbsDiff, randomF32 } from "../helpers/random.js";

/** logits = tied(relu(up(embed(tokens))) + embed(tokens)): `tied` shares its weight with the Gather; up is N × 8. */
function decoderLike(N = 24) {
  const b = new GraphBuilder("tiny", { family: "graph", config: {} });
  b.dim("T", 6);
  const tokens = b.input("tokens", "i32", ["T"]);
  const table = b.constant("embed", randomF32(10 * 8, 1), [10, 8]);
  const x = b.node("Gather", "x", [table, tokens]);
  const h = b.node("Relu", "h", [b.node("Linear", "up", [x, b.constant("up.w", randomF32(N * 8, 2), [N, 8]), b.constant("up.b", randomF32(N, 3), [N])])]);
  const down = b.node("Linear", "down", [h, b.constant("down.w", randomF32(8 * N, 4), [8, N])]);
  b.output(b.node("Linear", "logits", [b.node("Add", "sum", [down, x]), table]));
  return b.finish();
}

describe("transposeSmallWeights", () => {
  it("stores small models' Linear weights [K, N], in their places, and leaves a weight Gather also reads", () => {
    const before = decoderLike();
    const { graph, transposed } = transposeSmallWeights(before);
    expect(transposed).toBe(2);
    expect(graph.nodes.map((n) => `${n.name} ${n.inputs[1] ?? ""} ${n.attrs.layout ?? ""}`.trim())).toEqual(["x tokens", "up up.w.kn kn", "h", "down down.w.kn kn", "sum x", "logits embed"]);
    expect([...graph.values.values()].filter((v) => v.kind === "const").map((v) => `${v.name} [${v.shape.join(", ")}]`)).toEqual(["embed [10, 8]", "up.w.kn [8, 24]", "up.b [24]", "down.w.kn [24, 8]"]);
    const tokens = Int32Array.of(3, 9, 0, 4, 4);
    expect(maxAbsDiff(new Interpreter(graph).run({ tokens }).logits.data, new Interpreter(before).run({ tokens }).logits.data)).toBeLessThan(1e-5);
  });

  it(`leaves a model whose matmul weights pass ${CACHED_WEIGHT_BYTES} bytes as written`, () => {
    const N = Math.ceil(CACHED_WEIGHT_BYTES / 64) + 8; // up and down: 2 · N · 8 · 4 bytes
    expect(transposeSmallWeights(decoderLike(N)).transposed).toBe(0);
  });

  it.each([
    ["wasm-simd", true], ["wasm-relaxed", true], ["wasm", false], ["webgpu", false],
  ] as const)("the %s target's program reads transposed weights: %s", async (target, kn) => {
    const { files } = await compileArtifact({ graph: decoderLike(), format: "graph" }, { target });
    expect((files.get("src/model.ts") as string).includes("linearKN(")).toBe(kn);
  });
});
