/**
 * Resize (opset 10 on), separable: along each axis whose size changes, every output position is a
 * weighted sum of a few input positions (1 for nearest, 2 linear, 4 cubic). With the axis moved
 * first, tap t of every output is a Gather of the rows it reads, scaled by a constant column of
 * weights; the taps summed, plus the extrapolation value where tf_crop_and_resize falls outside the
 * input. Only taps of nonzero weight are read, so an infinity reaches only the outputs that use it.
 * The weights follow ONNX's reference implementation (the suite's data): the coordinate
 * transformation, the n nearest neighbours of the edge-padded input, nearest, linear and cubic
 * coefficients, exclude_outside. Where align_corners meets a scale whose output length is not a
 * whole number, ONNX Runtime divides by the rounded length instead and the two differ.
 */
import { elementCount } from "../../ir/graph.js";
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

/** Each output position's taps (input index → weight, zero weights left out), or undefined where it extrapolates. */
function axisTaps(a: AxisResize, s: Settings): (Map<number, number> | undefined)[] {
  return range(a.output).map((x) => {
    const o = original(x, a, s.transform);
    if (o === undefined) return undefined;
    const floor = Math.floor(o);
    const c = coefficients(Number.isInteger(o) ? 1 : o - floor, s);
    const n = c.length;
    // The n positions nearest o in the input edge-padded by ⌈n/2⌉ (ties to the lower), in order.
    const pad = Math.ceil(n / 2),
      length = a.input + 2 * pad,
      at = o + pad;
    const centre = Math.min(Math.max(Math.floor(at), 0), length - 1);
    const chosen = range(2 * n + 3)
      .map((i) => centre - n - 1 + i)
      .filter((i) => i >= 0 && i < length)
      .sort((p, q) => Math.abs(at - p) - Math.abs(at - q) || p - q)
      .slice(0, n)
      .sort((p, q) => p - q)
      .map((i) => i - pad);
    if (s.excludeOutside) {
      chosen.forEach((i, k) => (c[k] = i < 0 || i >= a.input ? 0 : c[k]));
      const total = c.reduce((u, v) => u + v, 0);
      c.forEach((v, k) => (c[k] = v / total));
    }
    const taps = new Map<number, number>();
    chosen.forEach((i, k) => {
      const at = Math.min(Math.max(i, 0), a.input - 1);
      taps.set(at, (taps.get(at) ?? 0) + c[k]);
    });
    for (const [i, w] of taps) if (w === 0) taps.delete(i);
    return taps;
  });
}

/** x [K, rest] resized along its first axis: Σ over tap slots of Gather(rows) · weights, plus the extrapolation value. */
function applyTaps(l: Lowerer, table: string, taps: (Map<number, number> | undefined)[], extrapolate: number): string {
  const m = taps.length;
  const slots = Math.max(1, ...taps.map((t) => t?.size ?? 0));
  const lists = taps.map((t) => [...(t ?? [])]);
  let y: string | undefined;
  for (let k = 0; k < slots; k++) {
    const ids = Int32Array.from(lists, (t) => t[k]?.[0] ?? 0);
    const w = Float32Array.from(lists, (t) => t[k]?.[1] ?? 0);
    const rows = l.gatherRows(table, l.constantData(ids, [m]));
    const used = lists.every((t) => t[k] !== undefined);
    const allOne = w.every((v) => v === 1);
    let term = allOne ? rows : l.map("mul", [rows, l.constantData(w, [m, 1])]);
    // Outputs with fewer taps read row 0 for this slot: kept out by where (0 · ∞ would be NaN).
    if (!used)
      term = l.map("where", [
        l.constantData(
          Float32Array.from(lists, (t) => +(t[k] !== undefined)),
          [m, 1],
        ),
        term,
        l.scalar(0),
      ]);
    y = y ? l.map("add", [y, term]) : term;
  }
  if (taps.some((t) => t === undefined))
    y = l.map("where", [
      l.constantData(
        Float32Array.from(taps, (t) => +(t === undefined)),
        [m, 1],
      ),
      l.scalar(extrapolate),
      y!,
    ]);
  return y!;
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
  const given = (name: string | undefined) => (name && elementCount(l.shape(name)) > 0 ? Array.from(l.value(name).data) : undefined);
  const [roiIn, scalesIn, sizesIn] = l.opset < 11 ? [undefined, n.inputs[1], undefined] : n.inputs.slice(1);
  const roi = given(roiIn),
    scales = given(scalesIn),
    sizes = given(sizesIn);
  if (!scales && !sizes) l.fail("Resize needs scales or sizes");
  if ((sizes ?? scales)!.length !== X.length)
    l.fail(`Resize's ${sizes ? "sizes" : "scales"} has ${(sizes ?? scales)!.length} values for an input of rank ${X.length}`);
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
    // The axis first, the rest flattened: a table whose rows the taps gather.
    const Y = l.irShape(y);
    const perm = [d, ...range(X.length).filter((i) => i !== d)];
    const back = range(X.length).map((i) => perm.indexOf(i));
    const rest = perm.slice(1).map((i) => Y[i]);
    const table = l.reshape(l.transpose(y, perm), [Y[d], elementCount(rest)]);
    const resized = applyTaps(l, table, axisTaps(a, s), attr(n, "extrapolation_value", 0));
    y = l.transpose(l.reshape(resized, [output, ...rest]), back);
  }
  return [y];
};

export const RESIZE_LOWERINGS: Readonly<Record<string, Lowering>> = { Resize: resizeOp };
