/** A graph shaped like USE-Lite's last layer, small, for the pooling tests (passes/pool-early.ts). */
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { quantizeInt8 } from "../../compiler/passes/quantize.js";
import { randomF32 } from "./random.js";

/**
 * pool(conv2(relu(conv1(r))) + r), r = residual(x), x: [T ≤ 9, 13]. A hidden width of 1026 crosses
 * the wasm kernel's 1024-column chunks, into one of 2 (the kernel takes four weight rows at a time
 * over a multiple of 4 columns, one otherwise). `int8`: its Linears as QLinear (quantizeInt8).
 */
export function encoderTail({ int8 = false } = {}): Graph {
  const H = 1026;
  const b = new GraphBuilder("tail", { family: "encoder", config: {} });
  b.dim("T", 9);
  const x = b.input("x", "f32", ["T", 13]);
  const residual = b.node("Linear", "residual", [x, b.constant("wr", randomF32(13 * 6, 1), [6, 13])]);
  const hidden = b.node("Relu", "relu", [
    b.node("Linear", "conv1", [residual, b.constant("w1", randomF32(6 * H, 2), [H, 6]), b.constant("b1", randomF32(H, 3), [H])]),
  ]);
  const sum = b.node("Add", "sum", [
    b.node("Linear", "conv2", [hidden, b.constant("w2", randomF32(H * 6, 4), [6, H]), b.constant("b2", randomF32(6, 5), [6])]),
    residual,
  ]);
  b.output(b.node("Tanh", "out", [b.node("MeanRows", "pool", [sum])]));
  const graph = b.finish();
  return int8 ? quantizeInt8(graph).graph : graph;
}
