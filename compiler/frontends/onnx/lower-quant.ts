/**
 * The quantization ops ONNX Runtime's quantizer writes — QuantizeLinear and DequantizeLinear (QDQ
 * graphs), DynamicQuantizeLinear with MatMulInteger (`quantize_dynamic`, as transformers.js's
 * `model_quantized.onnx` files are made), ConvInteger, QLinearMatMul and QLinearConv — lowered to
 * the IR's maps, reductions, Linear and MatMul, computing as the ONNX reference does: an integer
 * tensor is held as i32, the products of integers are summed in f32 (exact while a sum stays
 * below 2^24; beyond it the f32 rounding of a sum, about 1e-7 of it), and quantizing rounds half to
 * even and saturates. A quantized weight that is a constant folds at build time into the f32
 * weights of a Linear, so a QDQ graph runs as the float graph it describes.
 */
import { convolve, weightOf, windowsOf } from "./lower-spatial.js";
import { ints } from "./layout-ops.js";
import type { Lowerer, Lowering } from "./lower-ops.js";
import { attr, type OnnxNode } from "./read.js";
import type { OnnxDType, OnnxTensor } from "./tensor.js";

/** The integer range each quantized element type saturates to. */
const RANGES: Partial<Record<OnnxDType, readonly [number, number]>> = {
  uint8: [0, 255],
  int8: [-128, 127],
};

/** The element type QuantizeLinear writes: its zero point's, else output_dtype's, else uint8. */
function quantizedType(l: Lowerer, n: OnnxNode, zeroPoint: string | undefined): OnnxDType {
  if (zeroPoint) return l.onnxDtype(zeroPoint);
  const to = attr(n, "output_dtype", 0);
  return to === 3 ? "int8" : to === 0 || to === 2 ? "uint8" : l.fail(`output_dtype ${to} is not uint8 or int8`);
}

function rangeOf(l: Lowerer, dtype: OnnxDType): readonly [number, number] {
  return RANGES[dtype] ?? l.fail(`quantizing to ${dtype} is not supported (uint8 and int8 are)`);
}

/**
 * A per-tensor (scalar or one element) or per-axis (1-D, one per element of `axis`) parameter as a
 * tensor that broadcasts against x of shape X: [C] becomes [1, …, C, …, 1].
 */
function perAxis(l: Lowerer, name: string, X: number[], axis: number): string {
  const P = l.shape(name);
  const ir = l.ir(name);
  if (P.length === 0 || (P.length === 1 && P[0] === 1)) return l.reshape(ir, []);
  const a = axis < 0 ? axis + X.length : axis;
  if (P.length !== 1 || a < 0 || a >= X.length || P[0] !== X[a])
    l.fail(
      `a scale or zero point of shape [${P.join(", ")}] fits neither per-tensor nor per-axis quantization of [${X.join(", ")}] along axis ${axis}`,
    );
  return l.reshape(
    ir,
    X.map((d, i) => (i === a ? d : 1)),
  );
}

/** round-half-even(x), plus the zero point, saturated to `dtype`'s range: the quantized i32 values. */
function saturate(l: Lowerer, x: string, zeroPoint: string | undefined, dtype: OnnxDType): string {
  const [lo, hi] = rangeOf(l, dtype);
  let q = l.map("round", [x]);
  if (zeroPoint) q = l.map("add", [q, zeroPoint]);
  return l.map("trunc", [l.map("min", [l.map("max", [q, l.scalar(lo)]), l.scalar(hi)])], "i32");
}

/** Blocked quantization (opset 21's block_size) is not read. */
function perTensorOrAxis(l: Lowerer, n: OnnxNode): void {
  if (attr(n, "block_size", 0) > 0) l.fail("blocked quantization (block_size) is not supported");
}

/** y = saturate(round(x / scale) + zero point). */
const quantizeLinear: Lowering = (l, n) => {
  perTensorOrAxis(l, n);
  const [x, scale, zp] = n.inputs;
  const X = l.shape(x),
    axis = attr(n, "axis", 1);
  const dtype = quantizedType(l, n, zp || undefined);
  const scaled = l.map("div", [l.ir(x), perAxis(l, scale, X, axis)]);
  return [saturate(l, scaled, zp ? perAxis(l, zp, X, axis) : undefined, dtype)];
};

/** y = (x − zero point) · scale, in f32. */
const dequantizeLinear: Lowering = (l, n) => {
  perTensorOrAxis(l, n);
  const [x, scale, zp] = n.inputs;
  const X = l.shape(x),
    axis = attr(n, "axis", 1);
  const centred = zp ? l.map("sub", [l.ir(x), perAxis(l, zp, X, axis)], "i32") : l.ir(x);
  return [l.map("mul", [centred, perAxis(l, scale, X, axis)])];
};

/**
 * x quantized to uint8 over its own range (widened to hold 0): scale = (max − min) / 255 (1 when
 * the range is empty, as ONNX Runtime does), zero point = saturate(round(−min / scale)).
 */
const dynamicQuantizeLinear: Lowering = (l, n) => {
  const x = l.ir(n.inputs[0]);
  const all = l.shape(n.inputs[0]).map((_, i) => i);
  const whole = (fn: "min" | "max") => l.reshape(l.reduce(fn, x, all), []);
  const lo = l.map("min", [whole("min"), l.scalar(0)]),
    hi = l.map("max", [whole("max"), l.scalar(0)]);
  const span = l.map("sub", [hi, lo]);
  const scale = l.map("where", [l.map("equal", [span, l.scalar(0)], "i32"), l.scalar(1), l.map("div", [span, l.scalar(255)])]);
  const zeroPoint = saturate(l, l.map("neg", [l.map("div", [lo, scale])]), undefined, "uint8");
  const y = saturate(l, l.map("div", [x, scale]), zeroPoint, "uint8");
  return [y, scale, zeroPoint];
};

/**
 * An integer operand minus its zero point, in f32 (exact: both are small integers). A zero point
 * per row of A (`perRow`, [M]) applies along A's second-to-last axis, per column of B ([N]) along its last.
 */
function centred(l: Lowerer, x: string, zp: string | undefined, perRow: boolean): string {
  const X = l.shape(x);
  if (!zp) return l.map("copy", [l.ir(x)], "f32");
  return l.map("sub", [l.ir(x), perAxis(l, zp, X, perRow ? X.length - 2 : X.length - 1)], "f32");
}

/** A constant B [K, N] minus its zero point, as a Linear's f32 weight [N, K]. */
function centredWeight(l: Lowerer, b: string, zp: string | undefined): string {
  const [K, N] = l.shape(b);
  const w = l.value(b).data;
  const z = zp ? l.value(zp).data : undefined;
  if (z && z.length !== 1 && z.length !== N) l.fail(`b_zero_point has ${z.length} elements for ${N} columns`);
  const wt = new Float32Array(N * K);
  for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) wt[j * K + k] = w[k * N + j] - (z ? z[z.length === 1 ? 0 : j] : 0);
  return l.constantData(wt, [N, K]);
}

/** (A − a_zero_point) · (B − b_zero_point), summed in f32: through Linear when B is a 2-D constant. */
function integerProduct(l: Lowerer, a: string, aZp: string | undefined, b: string, bZp: string | undefined): string {
  const A = centred(l, a, aZp, true);
  const constantB = l.isConstant(b) && l.shape(b).length === 2 && (!bZp || l.isConstant(bZp));
  return constantB ? l.linear(A, centredWeight(l, b, bZp)) : l.matmul(A, undefined, centred(l, b, bZp, false));
}

const matMulInteger: Lowering = (l, n) => {
  const [a, b, aZp, bZp] = n.inputs;
  return [l.map("trunc", [integerProduct(l, a, aZp || undefined, b, bZp || undefined)], "i32")];
};

/** y = saturate(round(acc · a_scale · b_scale / y_scale) + y_zero_point), the multiplier formed first as ONNX Runtime forms it. */
const qlinearMatMul: Lowering = (l, n) => {
  const [a, aScale, aZp, b, bScale, bZp, yScale, yZp] = n.inputs;
  const acc = integerProduct(l, a, aZp || undefined, b, bZp || undefined);
  const Y = l.irShape(acc);
  const multiplier = l.map("div", [l.map("mul", [perAxis(l, aScale, Y, -2), perAxis(l, bScale, Y, -1)]), perAxis(l, yScale, Y, -1)]);
  return [saturate(l, l.map("mul", [acc, multiplier]), yZp ? perAxis(l, yZp, Y, -1) : undefined, quantizedType(l, n, yZp || undefined))];
};

/**
 * A convolution of integers: (x − x_zero_point) ∗ (w − w_zero_point), w's zero point per output
 * channel or one, through the float convolution (padding is then 0, the zero point's own value).
 */
function integerConv(
  l: Lowerer,
  n: OnnxNode,
  x: string,
  xZp: string | undefined,
  w: string,
  wZp: string | undefined,
  bias?: string,
): string {
  const X = l.shape(x),
    W = l.shape(w);
  const [, C, ...spatial] = X;
  const [M, Cg, ...kernel] = W;
  const group = attr(n, "group", 1);
  if (C !== Cg * group || M % group !== 0) l.fail(`the weight [${W.join(", ")}] does not fit ${C} input channels in ${group} group(s)`);
  const xs = xZp ? l.map("sub", [l.ir(x), perAxis(l, xZp, X, 1)], "f32") : l.map("copy", [l.ir(x)], "f32");
  let weight = weightOf(l, w);
  if (wZp) {
    if (weight.data && l.isConstant(wZp)) {
      const z = l.value(wZp).data,
        per = weight.data.length / M;
      weight = { shape: W, data: weight.data.map((v, i) => v - z[z.length === 1 ? 0 : Math.floor(i / per)]) };
    } else weight = { shape: W, ir: l.map("sub", [l.ir(w), perAxis(l, wZp, W, 0)], "f32") };
  } else if (weight.ir) weight = { shape: W, ir: l.map("copy", [weight.ir], "f32") };
  const win = windowsOf(l, n, spatial, ints(l.attrs(), "kernel_shape") ?? kernel, false);
  return convolve(l, xs, weight, bias ? weightOf(l, bias) : undefined, group, win);
}

const convInteger: Lowering = (l, n) => {
  const [x, w, xZp, wZp] = n.inputs;
  return [l.map("trunc", [integerConv(l, n, x, xZp || undefined, w, wZp || undefined)], "i32")];
};

const qlinearConv: Lowering = (l, n) => {
  const [x, xScale, xZp, w, wScale, wZp, yScale, yZp, bias] = n.inputs;
  const acc = integerConv(l, n, x, xZp || undefined, w, wZp || undefined, bias || undefined);
  const Y = l.irShape(acc);
  const multiplier = l.map("div", [l.map("mul", [perAxis(l, xScale, Y, 1), perAxis(l, wScale, Y, 1)]), perAxis(l, yScale, Y, 1)]);
  return [saturate(l, l.map("mul", [acc, multiplier]), yZp ? perAxis(l, yZp, Y, 1) : undefined, quantizedType(l, n, yZp || undefined))];
};

export const QUANT_LOWERINGS: Readonly<Record<string, Lowering>> = {
  QuantizeLinear: quantizeLinear,
  DequantizeLinear: dequantizeLinear,
  DynamicQuantizeLinear: dynamicQuantizeLinear,
  MatMulInteger: matMulInteger,
  QLinearMatMul: qlinearMatMul,
  ConvInteger: convInteger,
  QLinearConv: qlinearConv,
};

/** The ONNX element type of a quantization op's output k (the IR holds every integer as i32). */
export function quantOutputType(node: OnnxNode, k: number, inputs: readonly (OnnxTensor | undefined)[]): OnnxDType | undefined {
  const zeroPointType = (i: number): OnnxDType => inputs[i]?.dtype ?? (attr(node, "output_dtype", 2) === 3 ? "int8" : "uint8");
  switch (node.domain ? "" : node.op) {
    case "QuantizeLinear":
      return zeroPointType(2);
    case "DequantizeLinear":
      return inputs[1]!.dtype;
    case "DynamicQuantizeLinear":
      return k === 1 ? "float32" : "uint8";
    case "MatMulInteger":
    case "ConvInteger":
      return "int32";
    case "QLinearMatMul":
    case "QLinearConv":
      return zeroPointType(7);
  }
  return undefined;
}
