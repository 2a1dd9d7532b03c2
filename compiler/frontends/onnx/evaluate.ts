/**
 * Runs an ONNX graph on given inputs the way seec compiles it: lowered to IR at the inputs'
 * shapes (lower.ts), then run by the IR's reference interpreter. What the tests hold against
 * ONNX Runtime's outputs for the same graphs.
 */
import { Interpreter } from "../../ir/interpreter.js";
import { bindInputs, onnxGraph } from "./lower.js";
import type { OnnxModel } from "./read.js";
import { checkOps } from "./support.js";
import { isFloat, roundToType, tensor, type OnnxTensor } from "./tensor.js";

/** The graph's outputs for the given inputs. */
export function evaluateOnnx(model: OnnxModel, feeds: ReadonlyMap<string, OnnxTensor>): Map<string, OnnxTensor> {
  checkOps(model);
  const shapes = Object.fromEntries([...feeds].map(([name, t]) => [name, t.shape]));
  const { graph, outputTypes } = onnxGraph("evaluate", model, bindInputs(model, shapes));
  const data = Object.fromEntries(
    [...feeds].map(([name, t]) => [name, isFloat(t.dtype) ? Float32Array.from(t.data) : Int32Array.from(t.data)]),
  );
  const results = new Interpreter(graph).run(data);
  return new Map(
    model.outputs.map((o) => {
      const r = results[o.name];
      // An output the graph declares no type for has the type folding found, as the build gives it (index.ts).
      const dtype = o.dtype ?? outputTypes[o.name] ?? (r.data instanceof Float32Array ? "float32" : "int64");
      return [o.name, roundToType(tensor(dtype, r.shape, r.data))];
    }),
  );
}
