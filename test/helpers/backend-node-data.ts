/**
 * A case of ONNX's backend node suite (../shared/onnx/backend-node) read with its first data set,
 * for both harnesses (test/frontends/onnx-backend-node.test.ts, test/conformance/backend-node.ts).
 *
 * ONNX 1.12 wrote the bfloat16 cases' data unlike their models say, and they are read as the models
 * declare them:
 * - a bfloat16 tensor is stored as uint16, its bits: read as the bfloat16 those bits are;
 * - CastLike's `like` input is stored as one element where the model declares [3, 4]: repeated to
 *   the declared shape (CastLike reads only its type);
 * - its reference truncates float32 to bfloat16, where ONNX's own reference since 1.14 rounds to
 *   nearest even, as ONNX Runtime and PyTorch do and seec does: the expected output of a Cast to
 *   bfloat16 is checked to be that truncation, then replaced by the input rounded to nearest even,
 *   derived here independently of seec's conversion.
 *
 * And MaxUnpool with an output_shape is expected as ONNX Runtime computes it (below).
 */
import { join } from "node:path";
import { readTensorFile, type OnnxModel } from "../../compiler/frontends/onnx/read.js";
import type { OnnxTensor } from "../../compiler/frontends/onnx/tensor.js";

export interface CaseData {
  inputs: OnnxTensor[];
  wants: OnnxTensor[];
}

/** The case's inputs and expected outputs, or undefined when they are not tensors (sequences, optionals, maps). */
export async function readCaseData(dir: string, model: OnnxModel): Promise<CaseData | undefined> {
  const data = join(dir, "test_data_set_0");
  let inputs: OnnxTensor[], wants: OnnxTensor[];
  try {
    inputs = await Promise.all(model.inputs.map((_, k) => readTensorFile(join(data, `input_${k}.pb`))));
    wants = await Promise.all(model.outputs.map((_, k) => readTensorFile(join(data, `output_${k}.pb`))));
  } catch {
    return undefined;
  }
  inputs = inputs.map((t, k) => asDeclared(t, model.inputs[k]));
  wants = wants.map((t, k) => asDeclared(t, model.outputs[k]));
  const node = model.nodes.length === 1 ? model.nodes[0] : undefined;
  if (node && (node.op === "Cast" || node.op === "CastLike") && wants[0].dtype === "bfloat16") {
    const x = inputs[0].data;
    wants[0].data.forEach((w, i) => {
      if (!Object.is(w, truncated(x[i])))
        throw new Error(`${dir}: output[${i}] is ${w}, not ${x[i]} truncated to bfloat16 (${truncated(x[i])})`);
    });
    wants[0] = { ...wants[0], data: Float32Array.from(x, nearestBfloat16) };
  }
  if (node?.op === "MaxUnpool" && inputs.length === 3) wants[0] = unpooledAsOnnxRuntime(dir, inputs, wants[0]);
  return { inputs, wants };
}

/**
 * MaxUnpool with an output_shape: ONNX's reference puts X at I's flat indices in the shape it
 * infers from the attributes and pads the result with zeros to output_shape, where ONNX Runtime (as
 * PyTorch's max_unpool, which exporters translate) reads the indices as flat places in output_shape
 * itself; seec does as ONNX Runtime does. The stored output is checked to be the reference's (the
 * suite's one case: 2 × 2 unpooled to 4 × 4, padded to 5 × 5), then replaced by X at I's places in output_shape.
 */
function unpooledAsOnnxRuntime(dir: string, [x, indices, shape]: OnnxTensor[], want: OnnxTensor): OnnxTensor {
  const [, , H, W] = shape.data.map(Number);
  const padded = new Float32Array(want.data.length);
  x.data.forEach((v, i) => {
    const at = Number(indices.data[i]); // a place in the inferred 4 × 4 plane (one plane here)
    padded[Math.floor(at / 4) * W + (at % 4)] = v;
  });
  if (want.shape.join() !== `1,1,${H},${W}` || padded.some((v, i) => v !== want.data[i]))
    throw new Error(`${dir}: the stored output is not X at I's places in the inferred 4 × 4 output, padded to ${H} × ${W}`);
  const data = new Float32Array(want.data.length);
  x.data.forEach((v, i) => (data[Number(indices.data[i])] = v));
  return { ...want, data };
}

function asDeclared(t: OnnxTensor, declared: OnnxModel["inputs"][number]): OnnxTensor {
  let out = t;
  if (declared.dtype === "bfloat16" && t.dtype === "uint16")
    out = {
      dtype: "bfloat16",
      shape: t.shape,
      data: Float32Array.from(t.data, (bits) => new Float32Array(new Uint32Array([bits << 16]).buffer)[0]),
    };
  const dims = declared.dims;
  if (out.data.length === 1 && dims.every((d): d is number => typeof d === "number") && dims.reduce((a, d) => a * d, 1) > 1) {
    const data = new (out.data.constructor as Float32ArrayConstructor)(dims.reduce((a, d) => a * d, 1)).fill(out.data[0]);
    out = { ...out, shape: [...dims], data };
  }
  return out;
}

/** x's float32 with the low 16 bits of its pattern dropped. */
function truncated(x: number): number {
  const bits = new Uint32Array(new Float32Array([x]).buffer)[0];
  return new Float32Array(new Uint32Array([bits & 0xffff0000]).buffer)[0];
}

/** The number with 8 significant bits nearest x (ties to the even one): bfloat16's normal range. */
export function nearestBfloat16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x),
    step = 2 ** (Math.floor(Math.log2(a)) - 7);
  const q = a / step;
  let r = Math.round(q);
  if (q - Math.floor(q) === 0.5 && r % 2 !== 0) r -= 1;
  return Math.sign(x) * r * step;
}
