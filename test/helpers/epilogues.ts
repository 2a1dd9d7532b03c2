/** A small graph with every kind of matmul epilogue passes/fuse-epilogues.ts folds, and two it must not. */
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { quantizeInt8 } from "../../compiler/passes/quantize.js";
import { randomF32 } from "./random.js";

/**
 * x: [T ≤ 9, 13].  s = a(x) + p(x), with the residual projection p computed after a (as in USE-Lite);
 * h = relu(c1(s)) over 21 columns; s2 = s + relu(c2(h)); u = shared(s2) + s2 and t = tanh(shared(s2))
 * (shared has two readers: not fused); g = last(u) is an output, and so is relu(g) (not fused).
 * `int8`: the Linears as QLinear (quantizeInt8).
 */
export function epilogueGraph({ int8 = false } = {}): Graph {
  const b = new GraphBuilder("epilogues", { family: "graph", config: {} });
  b.dim("T", 9);
  const x = b.input("x", "f32", ["T", 13]);
  let seed = 1;
  const linear = (name: string, input: string, K: number, N: number, bias = true) =>
    b.node("Linear", name, [
      input,
      b.constant(`${name}.w`, randomF32(N * K, seed++), [N, K]),
      ...(bias ? [b.constant(`${name}.b`, randomF32(N, seed++), [N])] : []),
    ]);
  const a = linear("a", x, 13, 6);
  const s = b.node("Add", "s", [a, linear("p", x, 13, 6, false)]);
  const h = b.node("Relu", "h", [linear("c1", s, 6, 21)]);
  const s2 = b.node("Add", "s2", [s, b.node("Relu", "r2", [linear("c2", h, 21, 6, false)])]);
  const shared = linear("shared", s2, 6, 6);
  b.output(b.node("Tanh", "t", [shared]));
  const g = linear("g", b.node("Add", "u", [shared, s2]), 6, 5);
  b.output(g);
  b.output(b.node("Relu", "gr", [g]));
  const graph = b.finish();
  return int8 ? quantizeInt8(graph).graph : graph;
}
