/**
 * The ops of convolutional and audio front ends, lowered to the IR ops every backend has: Pad,
 * Conv, ConvTranspose, MaxPool, MaxUnpool, AveragePool, the global pools, BatchNormalization (inference),
 * MeanVarianceNormalization, LRN, DepthToSpace and SpaceToDepth. A window op reads its padded
 * input once per kernel offset, as a strided copy of the output's shape (im2col: kernel-size
 * copies, each as large as the output), then reduces the stacked copies (pools) or multiplies them
 * by the weights through Linear or MatMul (Conv), so a convolution runs on the same matmul kernels
 * as a transformer.
 */
import { elementCount } from "../../ir/graph.js";
import { stridesOf } from "../../ir/ops/tensor.js";
import { ints } from "./layout-ops.js";
import { argExtreme, type Lowerer, type Lowering } from "./lower-ops.js";
import { attr, type OnnxNode } from "./read.js";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

type PadMode = "constant" | "edge" | "reflect" | "wrap";

/** x with `begins[d]` elements before and `ends[d]` after each axis d (negative: cropped), filled as `mode` says. */
export function pad(l: Lowerer, x: string, begins: number[], ends: number[], mode: PadMode, value = 0, integer = false): string {
  let y = x;
  for (let d = 0; d < begins.length; d++) {
    let shape = l.irShape(y);
    const cropBegin = Math.max(0, -begins[d]),
      cropEnd = Math.max(0, -ends[d]);
    if (cropBegin || cropEnd) y = l.slice(y, d, cropBegin, shape[d] - cropBegin - cropEnd);
    shape = l.irShape(y);
    const before = Math.max(0, begins[d]),
      after = Math.max(0, ends[d]);
    if (!before && !after) continue;
    const n = shape[d];
    if (mode === "reflect" && (before >= n || after >= n))
      l.fail(`reflect padding of ${Math.max(before, after)} needs an axis longer than that (axis ${d} has ${n})`);
    const filler = integer ? l.constantData(Int32Array.of(value), []) : l.scalar(value);
    const fill = (count: number) =>
      l.expand(
        filler,
        shape.map((s, i) => (i === d ? count : s)),
      );
    // Source index along d of padded positions −k (before) and n − 1 + k (after), k ≥ 1.
    const source = (k: number, side: "before" | "after") =>
      mode === "edge"
        ? side === "before"
          ? 0
          : n - 1
        : mode === "reflect"
          ? side === "before"
            ? k
            : n - 1 - k
          : side === "before"
            ? n - (k % n || n)
            : (k - 1) % n;
    const side = (count: number, where: "before" | "after") => {
      if (count === 0) return [];
      if (mode === "constant") return [fill(count)];
      const ks = where === "before" ? range(count).map((i) => count - i) : range(count).map((i) => i + 1);
      return ks.map((k) => l.slice(y, d, source(k, where), 1));
    };
    y = l.concat([...side(before, "before"), y, ...side(after, "after")], d);
  }
  return y;
}

/** Pad: pads and constant_value as inputs (opset ≥ 11) or attributes, optional axes (opset 18). */
const padOp: Lowering = (l, n) => {
  const [data, padsIn, valueIn, axesIn] = n.inputs;
  const X = l.shape(data);
  const mode = (typeof n.attrs.mode === "string" ? n.attrs.mode : "constant") as PadMode;
  if (!["constant", "edge", "reflect", "wrap"].includes(mode)) l.fail(`Pad mode "${mode}" is not constant, edge, reflect or wrap`);
  const pads = padsIn ? Array.from(l.value(padsIn).data) : (ints(l.attrs(), "pads") ?? []);
  const axes = axesIn ? Array.from(l.value(axesIn).data, (a) => (a < 0 ? a + X.length : a)) : range(X.length);
  if (pads.length !== 2 * axes.length) l.fail(`Pad has ${pads.length} pads for ${axes.length} axes`);
  const begins = X.map(() => 0),
    ends = X.map(() => 0);
  axes.forEach((a, i) => {
    begins[a] = pads[i];
    ends[a] = pads[axes.length + i];
  });
  const value = valueIn ? l.value(valueIn).data[0] : attr(n, "value", 0);
  return [pad(l, l.ir(data), begins, ends, mode, value, !l.isFloat(data))];
};

/** Where a window op's kernel sits over each spatial axis, and the output's spatial shape. */
interface Windows {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Padding before and after each spatial axis (after includes what ceil_mode's last windows reach past). */
  begins: number[];
  ends: number[];
  /** The explicit padding after each axis (without ceil_mode's overhang). */
  declaredEnds: number[];
  out: number[];
}

export function windowsOf(l: Lowerer, n: OnnxNode, spatial: number[], kernel: number[], ceil: boolean): Windows {
  const k = spatial.length;
  const strides = ints(l.attrs(), "strides") ?? spatial.map(() => 1);
  const dilations = ints(l.attrs(), "dilations") ?? spatial.map(() => 1);
  const autoPad = typeof n.attrs.auto_pad === "string" ? n.attrs.auto_pad : "NOTSET";
  const span = (d: number) => dilations[d] * (kernel[d] - 1) + 1;
  let begins: number[], ends: number[];
  if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") {
    const total = spatial.map((s, d) => Math.max(0, (Math.ceil(s / strides[d]) - 1) * strides[d] + span(d) - s));
    const small = total.map((t) => Math.floor(t / 2));
    begins = autoPad === "SAME_UPPER" ? small : total.map((t, d) => t - small[d]);
    ends = total.map((t, d) => t - begins[d]);
  } else if (autoPad === "VALID") {
    begins = spatial.map(() => 0);
    ends = spatial.map(() => 0);
  } else if (autoPad === "NOTSET") {
    const pads = ints(l.attrs(), "pads") ?? new Array(2 * k).fill(0);
    begins = pads.slice(0, k);
    ends = pads.slice(k);
  } else return l.fail(`auto_pad "${autoPad}" is not NOTSET, SAME_UPPER, SAME_LOWER or VALID`);
  const out = spatial.map((s, d) => {
    const room = s + begins[d] + ends[d] - span(d);
    if (room < 0)
      l.fail(`the kernel (${span(d)} with dilation) is larger than the padded input (${s + begins[d] + ends[d]}) on spatial axis ${d}`);
    let o = (ceil ? Math.ceil(room / strides[d]) : Math.floor(room / strides[d])) + 1;
    // As ONNX Runtime and PyTorch: no window starts in the padding after the input.
    if (ceil && (o - 1) * strides[d] >= s + begins[d]) o--;
    return o;
  });
  const declaredEnds = ends;
  ends = ends.map((e, d) => Math.max(e, (out[d] - 1) * strides[d] + span(d) - spatial[d] - begins[d]));
  return { kernel, strides, dilations, begins, ends, declaredEnds, out };
}

/** The padded x [N, C, ...spatial] read once per kernel offset, stacked: [N, C, kernel size, ...out]. */
function windows(l: Lowerer, xp: string, w: Windows): string {
  const P = l.irShape(xp),
    S = stridesOf(P);
  const [N, C] = P;
  const offsets = range(elementCount(w.kernel)).map((i) => {
    let rest = i,
      offset = 0;
    for (let d = w.kernel.length - 1; d >= 0; d--) {
      offset += (rest % w.kernel[d]) * w.dilations[d] * S[2 + d];
      rest = Math.floor(rest / w.kernel[d]);
    }
    return offset;
  });
  const strides = [S[0], S[1], ...w.out.map((_, d) => S[2 + d] * w.strides[d])];
  const views = offsets.map((offset) => l.copy(xp, [N, C, ...w.out], strides, offset, [N, C, 1, ...w.out]));
  return l.concat(views, 2);
}

const kernelShape = (l: Lowerer) => {
  const k = ints(l.attrs(), "kernel_shape");
  if (!k) l.fail("kernel_shape is required");
  return k;
};

/** A convolution's weight [M, C / group, ...kernel]: constant values, or an IR tensor computed at run time. */
export interface Weight {
  shape: number[];
  data?: Float32Array;
  ir?: string;
}

/**
 * x [N, C, ...spatial] convolved with w over the windows `win` (padding included): im2col, then
 * one Linear (constant weights, the bias folded in) or MatMul per group. [N, M, ...win.out].
 */
export function convolve(l: Lowerer, x: string, w: Weight, bias: Weight | undefined, group: number, win: Windows): string {
  const [N, , ...spatial] = l.irShape(x);
  const [M, Cg, ...kernel] = w.shape;
  const xp = pad(l, x, [0, 0, ...win.begins], [0, 0, ...win.ends], "constant");
  const cols = windows(l, xp, win); // [N, C, KK, ...out]
  const KK = elementCount(kernel),
    O = elementCount(win.out),
    Mg = M / group;
  const toRows = (t: string) => l.reshape(l.transpose(t, [0, ...range(spatial.length).map((d) => 3 + d), 1, 2]), [N * O, Cg * KK]);
  const foldBias = w.data && bias?.data;
  const outs = range(group).map((g) => {
    const rows = toRows(group === 1 ? cols : l.slice(cols, 1, g * Cg, Cg));
    if (w.data) {
      const wg = w.data.slice(g * Mg * Cg * KK, (g + 1) * Mg * Cg * KK);
      const b = foldBias ? l.constantData(bias!.data!.slice(g * Mg, (g + 1) * Mg), [Mg]) : undefined;
      return l.linear(rows, l.constantData(wg, [Mg, Cg * KK]), b);
    }
    const wg = l.reshape(group === 1 ? w.ir! : l.slice(w.ir!, 0, g * Mg, Mg), [Mg, Cg * KK]);
    return l.matmul(rows, undefined, l.transpose(wg, [1, 0]));
  });
  let y = l.concat(outs, 1); // [N·O, M]
  if (bias && !foldBias) y = l.map("add", [y, l.reshape(bias.ir ?? l.constantData(bias.data!, [M]), [1, M])]);
  const spatialLast = l.reshape(y, [N, ...win.out, M]);
  return l.transpose(spatialLast, [0, spatial.length + 1, ...range(spatial.length).map((d) => d + 1)]);
}

/** An ONNX weight or bias input as a Weight: its values when constant. */
export function weightOf(l: Lowerer, name: string): Weight {
  return l.isConstant(name)
    ? { shape: l.shape(name), data: Float32Array.from(l.value(name).data) }
    : { shape: l.shape(name), ir: l.ir(name) };
}

/** Conv of x [N, C, ...spatial] by W [M, C / group, ...kernel]. */
const convOp: Lowering = (l, n) => {
  const [x, wName, bName] = n.inputs;
  const X = l.shape(x),
    W = l.shape(wName);
  if (!l.isFloat(x)) l.fail("Conv of an integer tensor is not supported");
  const [, C, ...spatial] = X;
  const [M, Cg, ...kernel] = W;
  const group = attr(n, "group", 1);
  if (C !== Cg * group || M % group !== 0) l.fail(`Conv's weight [${W.join(", ")}] does not fit ${C} input channels in ${group} group(s)`);
  const win = windowsOf(l, n, spatial, ints(l.attrs(), "kernel_shape") ?? kernel, false);
  return [convolve(l, l.ir(x), weightOf(l, wName), bName ? weightOf(l, bName) : undefined, group, win)];
};

/**
 * ConvTranspose of x [N, C, ...spatial] by W [C, M / group, ...kernel], as the Conv it equals: x
 * with stride − 1 zeros after each element (a concatenation, axis by axis), padded by
 * dilation · (kernel − 1) less the pads (output_padding after), convolved at stride 1 with the
 * kernel flipped and its channel axes swapped.
 */
const convTransposeOp: Lowering = (l, n) => {
  const [x, wName, bName] = n.inputs;
  const X = l.shape(x),
    W = l.shape(wName);
  if (!l.isFloat(x)) l.fail("ConvTranspose of an integer tensor is not supported");
  const [, C, ...spatial] = X;
  const [Cw, Mg, ...kernel] = W;
  const group = attr(n, "group", 1);
  if (Cw !== C || C % group !== 0) l.fail(`ConvTranspose's weight [${W.join(", ")}] does not fit ${C} input channels in ${group} group(s)`);
  const k = spatial.length;
  const strides = ints(l.attrs(), "strides") ?? spatial.map(() => 1);
  const dilations = ints(l.attrs(), "dilations") ?? spatial.map(() => 1);
  const outputPadding = ints(l.attrs(), "output_padding") ?? spatial.map(() => 0);
  const span = (d: number) => dilations[d] * (kernel[d] - 1) + 1;
  const full = (d: number) => strides[d] * (spatial[d] - 1) + outputPadding[d] + span(d);
  const autoPad = typeof n.attrs.auto_pad === "string" ? n.attrs.auto_pad : "NOTSET";
  const outputShape = ints(l.attrs(), "output_shape");
  let begins: number[], ends: number[];
  if (outputShape || autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") {
    const wanted = outputShape ? outputShape.slice(-k) : spatial.map((s, d) => s * strides[d]);
    const total = wanted.map((o, d) => full(d) - o);
    const half = total.map((t) => Math.floor(t / 2));
    begins = autoPad === "SAME_UPPER" ? half : total.map((t, d) => t - half[d]);
    ends = total.map((t, d) => t - begins[d]);
  } else {
    const pads = ints(l.attrs(), "pads") ?? new Array(2 * k).fill(0);
    begins = pads.slice(0, k);
    ends = pads.slice(k);
  }
  // Zeros between the elements, axis by axis: each element followed by stride − 1 zeros ([.., n, 1]
  // beside [.., n, s − 1], read as [.., n·s]), the zeros after the last one cut.
  let up = l.ir(x);
  for (let d = 0; d < k; d++) {
    if (strides[d] === 1) continue;
    const shape = l.irShape(up),
      axisAt = 2 + d;
    const before = shape.slice(0, axisAt + 1),
      after = shape.slice(axisAt + 1);
    const column = l.reshape(up, [...before, 1, ...after]);
    const zeros = l.expand(l.scalar(0), [...before, strides[d] - 1, ...after]);
    const spread = l.reshape(l.concat([column, zeros], axisAt + 1), [...shape.slice(0, axisAt), spatial[d] * strides[d], ...after]);
    up = l.slice(spread, axisAt, 0, strides[d] * (spatial[d] - 1) + 1);
  }
  const edge = (d: number) => dilations[d] * (kernel[d] - 1);
  const upBegins = range(k).map((d) => edge(d) - begins[d]),
    upEnds = range(k).map((d) => edge(d) - ends[d] + outputPadding[d]);
  const padded = pad(l, up, [0, 0, ...upBegins], [0, 0, ...upEnds], "constant");
  const P = l.irShape(padded).slice(2);
  // The kernel flipped on every spatial axis, [C, Mg, ...] → [M, C / group, ...] group by group.
  const Cg = C / group,
    KK = elementCount(kernel),
    M = Mg * group;
  const flipIndex = (kk: number) => KK - 1 - kk; // reversing every axis of a row-major kernel reverses its flat index
  let w: Weight;
  if (l.isConstant(wName)) {
    const src = l.value(wName).data;
    const data = new Float32Array(M * Cg * KK);
    for (let g = 0; g < group; g++)
      for (let m = 0; m < Mg; m++)
        for (let c = 0; c < Cg; c++)
          for (let kk = 0; kk < KK; kk++) data[((g * Mg + m) * Cg + c) * KK + kk] = src[((g * Cg + c) * Mg + m) * KK + flipIndex(kk)];
    w = { shape: [M, Cg, ...kernel], data };
  } else {
    const reverse = new Float32Array(KK * KK);
    for (let kk = 0; kk < KK; kk++) reverse[kk * KK + flipIndex(kk)] = 1;
    const flipped = l.linear(l.reshape(l.ir(wName), [C * Mg, KK]), l.constantData(reverse, [KK, KK])); // [C·Mg, KK]
    const swapped = l.transpose(l.reshape(flipped, [group, Cg, Mg, KK]), [0, 2, 1, 3]);
    w = { shape: [M, Cg, ...kernel], ir: l.reshape(swapped, [M, Cg, ...kernel]) };
  }
  const win: Windows = {
    kernel,
    strides: kernel.map(() => 1),
    dilations,
    begins: kernel.map(() => 0),
    ends: kernel.map(() => 0),
    declaredEnds: kernel.map(() => 0),
    out: P.map((p, d) => p - edge(d)),
  };
  return [convolve(l, padded, w, bName ? weightOf(l, bName) : undefined, group, win)];
};

/** MaxUnpool's one-hot of (output place, input element) pairs per plane: refused past this many elements. */
const MAX_UNPOOL_PAIRS = 2 ** 26;

/**
 * MaxUnpool: zeros of the output's shape ((in − 1) · stride − pads + kernel per spatial axis, or
 * output_shape, known at build time), each element of X put at the flat index I gives it (as
 * MaxPool's Indices count, over the whole tensor; with an output_shape, places in that shape, as
 * ONNX Runtime and PyTorch read them). Per plane of N·C, a comparison of each output place with the
 * plane's indices (I less the plane's offset, at run time) and a where, never a product: an index
 * outside its own plane, which MaxPool never gives, lands nowhere.
 */
const maxUnpoolOp: Lowering = (l, n) => {
  const [x, indices, outputShape] = n.inputs;
  if (!l.isFloat(x)) l.fail("MaxUnpool of an integer tensor is not supported");
  const X = l.shape(x);
  const [N, C, ...spatial] = X;
  if (spatial.length < 1) l.fail(`MaxUnpool's X [${X.join(", ")}] needs a spatial axis`);
  const I = l.shape(indices);
  if (I.length !== X.length || I.some((d, i) => d !== X[i]))
    l.fail(`MaxUnpool's I [${I.join(", ")}] must have X's shape [${X.join(", ")}]`);
  const kernel = kernelShape(l);
  const k = spatial.length;
  const strides = ints(l.attrs(), "strides") ?? spatial.map(() => 1);
  const pads = ints(l.attrs(), "pads") ?? new Array(2 * k).fill(0);
  let out = spatial.map((s, d) => (s - 1) * strides[d] - pads[d] - pads[k + d] + kernel[d]);
  if (outputShape) {
    const given = Array.from(l.value(outputShape).data, Number);
    if (given.length !== X.length || given[0] !== N || given[1] !== C)
      l.fail(`MaxUnpool's output_shape [${given.join(", ")}] must be [${N}, ${C}, ...] with ${k} spatial sizes`);
    out = given.slice(2);
  }
  if (out.some((d) => !(Number.isInteger(d) && d >= 1))) l.fail(`MaxUnpool's output would be [${[N, C, ...out].join(", ")}]`);
  const planes = N * C,
    K = elementCount(out),
    L = elementCount(spatial);
  if (planes * K * L > MAX_UNPOOL_PAIRS)
    l.fail(`MaxUnpool pairs ${planes * K} output places with ${L} inputs each: past ${MAX_UNPOOL_PAIRS} elements`);
  if (planes * K > 2 ** 24) l.fail(`MaxUnpool's output of ${planes * K} elements: past 2^24, which its indices count exactly`);
  const offsets = l.constantData(
    Int32Array.from(range(planes), (p) => p * K),
    [planes, 1, 1],
  );
  const local = l.map("sub", [l.reshape(l.ir(indices), [planes, 1, L]), offsets], "i32");
  const places = l.constantData(Int32Array.from(range(K)), [1, K, 1]);
  const hits = l.map("equal", [local, places], "i32"); // [planes, K, L]
  const values = l.reshape(l.ir(x), [planes, 1, L]);
  const y = l.reduce("sum", l.map("where", [hits, values, l.scalar(0)]), [2]);
  return [l.reshape(y, [N, C, ...out])];
};

/**
 * MaxPool and AveragePool: the stacked windows reduced (padding −∞ for max; for average, divided
 * by each window's count); int8 and uint8 max-pooled in f32, exactly. MaxPool's Indices: each window's
 * first largest element, as its flat index in x (row-major, or with storage_order 1 the spatial
 * axes column-major).
 */
const poolOp =
  (kind: "max" | "average"): Lowering =>
  (l, n) => {
    const x = n.inputs[0];
    const X = l.shape(x);
    // 8-bit integers pool exactly in f32 (ONNX's MaxPool takes int8 and uint8), and come back as integers.
    const small = l.onnxDtype(x) === "int8" || l.onnxDtype(x) === "uint8";
    if (!l.isFloat(x) && !(small && kind === "max"))
      l.fail(
        `${kind === "max" ? "MaxPool of an integer tensor other than int8 and uint8" : "AveragePool of an integer tensor"} is not supported`,
      );
    const [N, C, ...spatial] = X;
    const win = windowsOf(l, n, spatial, kernelShape(l), attr(n, "ceil_mode", 0) === 1);
    const input = l.isFloat(x) ? l.ir(x) : l.map("copy", [l.ir(x)], "f32");
    const xp = pad(l, input, [0, 0, ...win.begins], [0, 0, ...win.ends], "constant", kind === "max" ? -Infinity : 0);
    const stacked = windows(l, xp, win);
    const out = [N, C, ...win.out];
    if (kind === "max") {
      const pooled = l.reshape(l.reduce("max", stacked, [2]), out);
      const y = l.isFloat(x) ? pooled : l.map("trunc", [pooled], "i32");
      return n.outputs[1] && l.isUsed(n.outputs[1]) ? [y, maxIndices(l, n, stacked, X, win)] : [y];
    }
    // Each output's divisor: the window's elements inside the input, or inside the declared padding too (count_include_pad).
    const includePad = attr(n, "count_include_pad", 0) === 1;
    const counts = new Float32Array(elementCount(win.out));
    counts.forEach((_, i) => {
      let rest = i,
        count = 1;
      for (let d = spatial.length - 1; d >= 0; d--) {
        const o = rest % win.out[d];
        rest = Math.floor(rest / win.out[d]);
        let inside = 0;
        for (let j = 0; j < win.kernel[d]; j++) {
          const p = o * win.strides[d] + j * win.dilations[d] - win.begins[d]; // position in the unpadded input
          inside += +(includePad ? p >= -win.begins[d] && p < spatial[d] + win.declaredEnds[d] : p >= 0 && p < spatial[d]);
        }
        count *= inside;
      }
      counts[i] = count;
    });
    const sum = l.reshape(l.reduce("sum", stacked, [2]), out);
    return [l.map("div", [sum, l.constantData(counts, [1, 1, ...win.out])])];
  };

/** The flat index in x [N, C, ...spatial] of each window's first largest element (stacked: [N, C, kernel elements, ...out]). */
function maxIndices(l: Lowerer, n: OnnxNode, stacked: string, X: number[], win: Windows): string {
  const [N, C, ...spatial] = X;
  if (elementCount(X) > 2 ** 24)
    l.fail(`MaxPool's Indices of ${elementCount(X)} elements: past 2^24, which the f32 arithmetic here counts exactly`);
  const columnMajor = attr(n, "storage_order", 0) === 1;
  // Where each spatial axis steps in x's flat index within one (n, c) plane.
  const step = spatial.map((_, d) => elementCount(columnMajor ? spatial.slice(0, d) : spatial.slice(d + 1)));
  const KK = elementCount(win.kernel),
    outs = elementCount(win.out);
  // For each kernel element and output position, the element's flat spatial index (0 in the padding, which a max never picks).
  const at = new Float32Array(KK * outs);
  for (let kk = 0; kk < KK; kk++)
    for (let i = 0; i < outs; i++) {
      let restK = kk,
        restO = i,
        flat = 0,
        inside = true;
      for (let d = spatial.length - 1; d >= 0; d--) {
        const j = restK % win.kernel[d],
          o = restO % win.out[d];
        restK = Math.floor(restK / win.kernel[d]);
        restO = Math.floor(restO / win.out[d]);
        const p = o * win.strides[d] + j * win.dilations[d] - win.begins[d];
        inside &&= p >= 0 && p < spatial[d];
        flat += p * step[d];
      }
      at[kk * outs + i] = inside ? flat : 0;
    }
  const first = argExtreme(l, stacked, 2, "max", false); // [N, C, 1, ...out]
  const iota = l.constantData(Float32Array.from(range(KK)), [1, 1, KK, ...win.out.map(() => 1)]);
  const picked = l.reduce(
    "sum",
    l.map("where", [l.map("equal", [iota, first]), l.constantData(at, [1, 1, KK, ...win.out]), l.scalar(0)]),
    [2],
  );
  const plane = elementCount(spatial);
  const base = l.constantData(
    Float32Array.from(range(N * C), (nc) => nc * plane),
    [N, C, 1, ...win.out.map(() => 1)],
  );
  return l.reshape(l.map("trunc", [l.map("add", [picked, base])], "i32"), [N, C, ...win.out]);
}

const globalPoolOp =
  (fn: "mean" | "max"): Lowering =>
  (l, n) => {
    const X = l.shape(n.inputs[0]);
    if (!l.isFloat(n.inputs[0])) l.fail("a global pool of an integer tensor is not supported");
    const axes = range(X.length).filter((i) => i >= 2);
    return [
      l.reshape(
        l.reduce(fn, l.ir(n.inputs[0]), axes),
        X.map((d, i) => (i < 2 ? d : 1)),
      ),
    ];
  };

/** BatchNormalization at inference: (x − mean) / √(var + ε) · scale + B, per channel (axis 1). */
const batchNormOp: Lowering = (l, n) => {
  if (attr(n, "training_mode", 0) === 1 || n.outputs.slice(1).some((o) => o && l.isUsed(o)))
    l.fail("BatchNormalization in training mode (running statistics as outputs) is not supported");
  const [x, scale, bias, mean, variance] = n.inputs;
  const X = l.shape(x);
  const perChannel = (onnx: string) => l.reshape(l.ir(onnx), [X[1], ...X.slice(2).map(() => 1)]);
  const inv = l.map("reciprocal", [l.map("sqrt", [l.map("add", [perChannel(variance), l.scalar(attr(n, "epsilon", 1e-5))])])]);
  const y = l.map("mul", [l.map("sub", [l.ir(x), perChannel(mean)]), l.map("mul", [inv, perChannel(scale)])]);
  return [l.map("add", [y, perChannel(bias)])];
};

/** MeanVarianceNormalization: (x − E[x]) / (√(E[x²] − E[x]²) + 1e-9) over `axes` (default N, H, W), as ONNX's function body has it. */
const mvnOp: Lowering = (l, n) => {
  const X = l.shape(n.inputs[0]);
  const axes = (ints(l.attrs(), "axes") ?? [0, 2, 3]).map((a) => (a < 0 ? a + X.length : a));
  const x = l.ir(n.inputs[0]);
  const mean = l.reduce("mean", x, axes);
  const variance = l.map("sub", [l.reduce("mean", l.map("mul", [x, x]), axes), l.map("mul", [mean, mean])]);
  return [l.map("div", [l.map("sub", [x, mean]), l.map("add", [l.map("sqrt", [variance]), l.scalar(1e-9)])])];
};

/** LRN: x / (bias + α/size · Σ x² over the `size` channels around each)^β, the window a sum of shifted slices. */
const lrnOp: Lowering = (l, n) => {
  const X = l.shape(n.inputs[0]);
  const width = attr(n, "size", 0);
  if (!(width >= 1)) l.fail("LRN needs a size of at least 1");
  const x = l.ir(n.inputs[0]);
  const before = Math.floor((width - 1) / 2),
    after = Math.ceil((width - 1) / 2);
  const squares = pad(
    l,
    l.map("mul", [x, x]),
    X.map((_, i) => (i === 1 ? before : 0)),
    X.map((_, i) => (i === 1 ? after : 0)),
    "constant",
  );
  const sum = range(width)
    .map((k) => l.slice(squares, 1, k, X[1]))
    .reduce((acc, t) => l.map("add", [acc, t]));
  const scaled = l.map("add", [l.scalar(attr(n, "bias", 1)), l.map("mul", [sum, l.scalar(attr(n, "alpha", 1e-4) / width)])]);
  return [l.map("div", [x, l.map("pow", [scaled, l.scalar(attr(n, "beta", 0.75))])])];
};

/** DepthToSpace (DCR or CRD) and SpaceToDepth of [N, C, H, W]: a reshape, a transpose, a reshape. */
const depthToSpaceOp: Lowering = (l, n) => {
  const [N, C, H, W] = l.shape(n.inputs[0]);
  const b = attr(n, "blocksize", 0);
  if (b < 1 || C % (b * b) !== 0) l.fail(`blocksize ${b} does not divide ${C} channels into b² blocks`);
  const crd = n.attrs.mode === "CRD";
  const x = l.reshape(l.ir(n.inputs[0]), crd ? [N, C / (b * b), b, b, H, W] : [N, b, b, C / (b * b), H, W]);
  const t = l.transpose(x, crd ? [0, 1, 4, 2, 5, 3] : [0, 3, 4, 1, 5, 2]);
  return [l.reshape(t, [N, C / (b * b), H * b, W * b])];
};

const spaceToDepthOp: Lowering = (l, n) => {
  const [N, C, H, W] = l.shape(n.inputs[0]);
  const b = attr(n, "blocksize", 0);
  if (b < 1 || H % b !== 0 || W % b !== 0) l.fail(`blocksize ${b} does not divide the ${H} × ${W} image`);
  const x = l.reshape(l.ir(n.inputs[0]), [N, C, H / b, b, W / b, b]);
  return [l.reshape(l.transpose(x, [0, 3, 5, 1, 2, 4]), [N, C * b * b, H / b, W / b])];
};

export const SPATIAL_LOWERINGS: Readonly<Record<string, Lowering>> = {
  Pad: padOp,
  Conv: convOp,
  ConvTranspose: convTransposeOp,
  MaxPool: poolOp("max"),
  MaxUnpool: maxUnpoolOp,
  AveragePool: poolOp("average"),
  GlobalAveragePool: globalPoolOp("mean"),
  GlobalMaxPool: globalPoolOp("max"),
  BatchNormalization: batchNormOp,
  MeanVarianceNormalization: mvnOp,
  LRN: lrnOp,
  DepthToSpace: depthToSpaceOp,
  SpaceToDepth: spaceToDepthOp,
};
