/**
 * Resize (opset 10 on), separable: along each axis whose size changes, every output position is a
 * weighted sum of input positions, so the axis moved last goes through Linear with a constant
 * [out, in] matrix (and, for tf_crop_and_resize, a bias holding the extrapolation value where a
 * position falls outside the input). The weights follow ONNX's reference implementation: the
 * coordinate transformation, the n nearest neighbours of the edge-padded input, nearest, linear
 * and cubic coefficients, exclude_outside.
 */
import { attr } from "./read.js";
import type { Lowerer, Lowering } from "./lower-ops.js";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

interface AxisResize {
  input: number;
  output: number;
  /** The scale the coordinate transformation divides by (sizes given: output / input). */
  scale: number;
  roi: [number, number];
}

interface Settings {
  mode: string;
  transform: string;
  nearest: string;
  cubicA: number;
  excludeOutside: boolean;
}

function coefficients(ratio: number, s: Settings): number[] {
  if (s.mode === "nearest") {
    if (Number.isInteger(ratio)) return [0, 1];
    if (s.nearest === "round_prefer_floor") return [+(ratio <= 0.5), +(ratio > 0.5)];
    if (s.nearest === "round_prefer_ceil") return [+(ratio < 0.5), +(ratio >= 0.5)];
    return s.nearest === "floor" ? [1, 0] : [0, 1];
  }
  if (s.mode === "linear") return [1 - ratio, ratio];
  const A = s.cubicA,
    r = ratio,
    q = 1 - ratio;
  return [
    ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A,
    ((A + 2) * r - (A + 3)) * r * r + 1,
    ((A + 2) * q - (A + 3)) * q * q + 1,
    ((A * (q + 1) - 5 * A) * (q + 1) + 8 * A) * (q + 1) - 4 * A,
  ];
}

/** The input coordinate of output position x, or undefined where tf_crop_and_resize extrapolates. */
function original(x: number, a: AxisResize, transform: string): number | undefined {
  const width = a.scale * a.input; // as the reference has it: scale × input, not the rounded output size
  switch (transform) {
    case "align_corners":
      return width === 1 ? 0 : (x * (a.input - 1)) / (width - 1);
    case "asymmetric":
      return x / a.scale;
    case "tf_half_pixel_for_nn":
      return (x + 0.5) / a.scale;
    case "pytorch_half_pixel":
      return width === 1 ? -0.5 : (x + 0.5) / a.scale - 0.5;
    case "tf_crop_and_resize": {
      const [start, end] = a.roi;
      const o =
        (width === 1 ? ((end - start) * (a.input - 1)) / 2 : (x * (end - start) * (a.input - 1)) / (width - 1)) + start * (a.input - 1);
      return o < 0 || o > a.input - 1 ? undefined : o;
    }
    default:
      return (x + 0.5) / a.scale - 0.5; // half_pixel
  }
}

/** The [output, input] weights of one axis, and which outputs take the extrapolation value. */
function axisWeights(a: AxisResize, s: Settings): { weights: Float32Array; outside: boolean[] } {
  const weights = new Float32Array(a.output * a.input);
  const outside = range(a.output).map(() => false);
  for (let x = 0; x < a.output; x++) {
    const o = original(x, a, s.transform);
    if (o === undefined) {
      outside[x] = true;
      continue;
    }
    const floor = Math.floor(o);
    const c = coefficients(Number.isInteger(o) ? 1 : o - floor, s);
    const n = c.length;
    // The n positions nearest o in the input edge-padded by ⌈n/2⌉ (ties to the lower), in order.
    const pad = Math.ceil(n / 2),
      length = a.input + 2 * pad,
      at = o + pad;
    const centre = Math.min(Math.max(Math.floor(at), 0), length - 1);
    const candidates = range(2 * n + 3)
      .map((i) => centre - n - 1 + i)
      .filter((i) => i >= 0 && i < length);
    const chosen = candidates
      .sort((p, q) => Math.abs(at - p) - Math.abs(at - q) || p - q)
      .slice(0, n)
      .sort((p, q) => p - q)
      .map((i) => i - pad);
    if (s.excludeOutside) {
      chosen.forEach((i, k) => (c[k] = i < 0 || i >= a.input ? 0 : c[k]));
      const total = c.reduce((u, v) => u + v, 0);
      c.forEach((v, k) => (c[k] = v / total));
    }
    chosen.forEach((i, k) => (weights[x * a.input + Math.min(Math.max(i, 0), a.input - 1)] += c[k]));
  }
  return { weights, outside };
}

const resizeOp: Lowering = (l, n) => {
  const x = n.inputs[0];
  const X = l.shape(x);
  if (!l.isFloat(x)) l.fail("Resize of an integer tensor is not supported");
  if (attr(n, "antialias", 0) !== 0) l.fail("Resize with antialias is not supported");
  if (n.attrs.axes !== undefined) l.fail("Resize with axes is not supported");
  if (typeof n.attrs.keep_aspect_ratio_policy === "string" && n.attrs.keep_aspect_ratio_policy !== "stretch")
    l.fail(`Resize's keep_aspect_ratio_policy "${n.attrs.keep_aspect_ratio_policy}" is not supported`);
  const text = (key: string, fallback: string) => (typeof n.attrs[key] === "string" ? (n.attrs[key] as string) : fallback);
  const s: Settings = {
    mode: text("mode", "nearest"),
    transform: l.opset < 11 ? "asymmetric" : text("coordinate_transformation_mode", "half_pixel"),
    nearest: l.opset < 11 ? "floor" : text("nearest_mode", "round_prefer_floor"),
    cubicA: attr(n, "cubic_coeff_a", -0.75),
    excludeOutside: attr(n, "exclude_outside", 0) === 1,
  };
  if (!["nearest", "linear", "cubic"].includes(s.mode)) l.fail(`Resize mode "${s.mode}" is not nearest, linear or cubic`);
  const given = (name: string | undefined) =>
    name && l.shape(name).reduce((a, b) => a * b, 1) > 0 ? Array.from(l.value(name).data) : undefined;
  const [roiIn, scalesIn, sizesIn] = l.opset < 11 ? [undefined, n.inputs[1], undefined] : n.inputs.slice(1);
  const roi = given(roiIn),
    scales = given(scalesIn),
    sizes = given(sizesIn);
  if (!scales && !sizes) l.fail("Resize needs scales or sizes");
  let y = l.ir(x);
  for (let d = 0; d < X.length; d++) {
    const output = sizes ? sizes[d] : Math.floor(X[d] * scales![d]);
    const a: AxisResize = {
      input: X[d],
      output,
      scale: sizes ? output / X[d] : scales![d],
      roi: roi ? [roi[d], roi[X.length + d]] : [0, 1],
    };
    if (!(output >= 1)) l.fail(`Resize gives axis ${d} a size of ${output}`);
    if (a.output === a.input && a.scale === 1 && s.transform !== "tf_crop_and_resize") continue;
    const { weights, outside } = axisWeights(a, s);
    const perm = [...range(X.length).filter((i) => i !== d), d];
    const back = range(X.length).map((i) => perm.indexOf(i));
    const extrapolate = attr(n, "extrapolation_value", 0);
    const bias = outside.some(Boolean)
      ? l.constantData(
          Float32Array.from(outside, (o) => (o ? extrapolate : 0)),
          [output],
        )
      : undefined;
    y = l.transpose(l.linear(l.transpose(y, perm), l.constantData(weights, [output, a.input]), bias), back);
  }
  return [y];
};

export const RESIZE_LOWERINGS: Readonly<Record<string, Lowering>> = { Resize: resizeOp };
