/**
 * The ONNX ops the frontend evaluates itself, on ONNX tensors (int64 exact in a Float64Array):
 * the sources of shapes (Constant, Shape, Size, Range, ConstantOfShape, EyeLike), casts, and
 * the ops that only move data (reshapes, transposes, slices, gathers, concatenation). The
 * lowering needs their outputs' shapes before it can write them as IR (a Reshape's IR is a copy
 * to the output's shape), and shape subgraphs carry int64 values (INT64_MAX as "to the end")
 * that the IR's i32 cannot hold. Every other op folds through its lowering and the IR
 * interpreter (fold-ir.ts).
 */
import { SeecError } from "../../../runtime/errors.js";
import { elementCount } from "../../ir/graph.js";
import { attr, type OnnxAttr } from "./read.js";
import { broadcastShapes, broadcastStrides, stridesOf } from "../../ir/ops/tensor.js";
import { checkSize, DATA_TYPES, isFloat, tensor, type OnnxDType, type OnnxTensor } from "./tensor.js";

export type OpImpl = (inputs: (OnnxTensor | undefined)[], ctx: OpContext) => (OnnxTensor | undefined)[];

export interface OpContext {
  attrs: Record<string, OnnxAttr>;
  /** The default domain's opset version (where attributes moved to inputs). */
  opset: number;
  node: string;
  /** How many outputs the node names (Split without sizes divides into that many). */
  outputs: number;
}

export function fail(ctx: Pick<OpContext, "node">, message: string): never {
  throw new SeecError("input.onnx", message, { at: `node ${ctx.node}` });
}

export function need(t: OnnxTensor | undefined, ctx: OpContext, what: string): OnnxTensor {
  if (!t) fail(ctx, `${what} is missing`);
  return t;
}

export const ints = (ctx: OpContext, key: string): number[] | undefined =>
  Array.isArray(ctx.attrs[key]) ? (ctx.attrs[key] as number[]) : undefined;
export const values = (t: OnnxTensor | undefined): number[] | undefined => (t ? Array.from(t.data) : undefined);
/** An axis attribute or input as an index from 0, refused (naming the node) outside [-rank, rank). */
export function axis(ctx: Pick<OpContext, "node">, a: number, rank: number): number {
  if (!Number.isInteger(a) || a < -rank || a >= rank) fail(ctx, `axis ${a} is out of range for a tensor of rank ${rank}`);
  return a < 0 ? a + rank : a;
}

/** The broadcast shape of several shapes (numpy rules); shapes that do not broadcast are the model's error. */
export function broadcastShape(shapes: readonly (readonly number[])[], ctx: OpContext): number[] {
  return broadcastShapes(shapes, (message) => fail(ctx, message));
}

/** For each element of `out`, the flat index into a tensor of `shape` broadcast to it. */
export function broadcastIndex(shape: readonly number[], out: readonly number[]): Int32Array {
  return stridedIndex(out, broadcastStrides(shape, out));
}

/** For each element of `shape`, offset + Σ i_d · strides[d]: where a strided view reads it. */
function stridedIndex(shape: readonly number[], strides: readonly number[], offset = 0): Int32Array {
  const idx = new Int32Array(checkSize(shape, "a view"));
  const os = stridesOf(shape);
  for (let i = 0; i < idx.length; i++) {
    let r = i,
      k = offset;
    for (let d = 0; d < shape.length; d++) {
      const c = Math.floor(r / os[d]);
      r -= c * os[d];
      k += c * strides[d];
    }
    idx[i] = k;
  }
  return idx;
}

export const truncate = (x: number) => (Number.isFinite(x) ? Math.trunc(x) : x);

function reshapeTo(t: OnnxTensor, shape: number[]): OnnxTensor {
  return { dtype: t.dtype, shape, data: t.data };
}

/** y[i] = t[offset + Σ i_d · strides[d]] over `shape`: a strided view of t, copied. */
function view(t: OnnxTensor, shape: number[], strides: number[], offset = 0): OnnxTensor {
  return tensor(
    t.dtype,
    shape,
    Array.from(stridedIndex(shape, strides, offset), (k) => t.data[k]),
  );
}

/** The box [starts, starts + shape) with `steps` out of t. */
function sliceBox(t: OnnxTensor, starts: number[], steps: number[], shape: number[]): OnnxTensor {
  const s = stridesOf(t.shape);
  return view(
    t,
    shape,
    s.map((st, d) => st * steps[d]),
    starts.reduce((a, b, d) => a + b * s[d], 0),
  );
}

function transpose(t: OnnxTensor, perm: number[]): OnnxTensor {
  const s = stridesOf(t.shape);
  return view(
    t,
    perm.map((p) => t.shape[p]),
    perm.map((p) => s[p]),
  );
}
function castTo(t: OnnxTensor, dtype: OnnxDType): OnnxTensor {
  const out = tensor(dtype, t.shape);
  for (let i = 0; i < t.data.length; i++) {
    const v = t.data[i];
    out.data[i] = dtype === "bool" ? (v !== 0 ? 1 : 0) : isFloat(dtype) ? v : truncate(v);
  }
  return out;
}

/** Where a Slice starts on every axis, its step, and the shape it takes (from inputs, or opset < 10 attributes). */
export function sliceParams(
  dims: readonly number[],
  [startsIn, endsIn, axesIn, stepsIn]: (OnnxTensor | undefined)[],
  ctx: OpContext,
): { begin: number[]; step: number[]; shape: number[] } {
  const starts = values(startsIn) ?? ints(ctx, "starts") ?? [];
  const ends = values(endsIn) ?? ints(ctx, "ends") ?? [];
  const axes = (values(axesIn) ?? ints(ctx, "axes") ?? starts.map((_, i) => i)).map((a) => axis(ctx, a, dims.length));
  const steps = values(stepsIn) ?? starts.map(() => 1);
  const begin = dims.map(() => 0),
    step = dims.map(() => 1),
    shape = dims.slice();
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length)
    fail(ctx, `Slice has ${starts.length} starts, ${ends.length} ends, ${axes.length} axes and ${steps.length} steps; they pair up`);
  if (steps.some((st) => !Number.isSafeInteger(st) || st === 0))
    fail(ctx, `Slice steps [${steps.join(", ")}] must be nonzero whole numbers`);
  if (new Set(axes).size !== axes.length) fail(ctx, `Slice names an axis twice: [${axes.join(", ")}]`);
  axes.forEach((a, i) => {
    const [s, n] = sliceRange(starts[i], ends[i], steps[i], dims[a]);
    begin[a] = s;
    step[a] = steps[i];
    shape[a] = n;
  });
  return { begin, step, shape };
}

/**
 * Start, end, step of a Slice on a dimension of size `dim`, clamped as the spec says: stepping
 * backwards, the start to [0, dim − 1] (a start before the first element reads that element, as
 * ONNX Runtime does) and the end to [−1, dim − 1].
 */
function sliceRange(start: number, end: number, step: number, dim: number): [number, number] {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) ((s = clamp(s, 0, dim)), (e = clamp(e, 0, dim)));
  else ((s = clamp(s, 0, dim - 1)), (e = clamp(e, -1, dim - 1)));
  return [s, Math.max(0, Math.ceil((e - s) / step))];
}

export const LAYOUT_OPS: Readonly<Record<string, OpImpl>> = {
  Identity: ([x]) => [x],
  Constant: (_, ctx) => {
    const a = ctx.attrs;
    if (a.value && typeof a.value === "object" && "data" in a.value) return [a.value];
    if (typeof a.value_float === "number") return [tensor("float32", [], [a.value_float])];
    if (typeof a.value_int === "number") return [tensor("int64", [], [a.value_int])];
    if (Array.isArray(a.value_floats)) return [tensor("float32", [a.value_floats.length], a.value_floats as number[])];
    if (Array.isArray(a.value_ints)) return [tensor("int64", [a.value_ints.length], a.value_ints as number[])];
    fail(ctx, "Constant has no value seec reads");
  },
  ConstantOfShape: ([shape], ctx) => {
    const v = ctx.attrs.value as OnnxTensor | undefined;
    const out = tensor(v?.dtype ?? "float32", values(shape) ?? []);
    out.data.fill(v ? v.data[0] : 0);
    return [out];
  },
  Shape: ([x], ctx) => {
    const dims = need(x, ctx, "data").shape;
    const r = dims.length;
    const clamp = (a: number) => (a < 0 ? Math.max(0, a + r) : Math.min(r, a));
    const start = clamp(attr(ctx, "start", 0));
    const end = clamp(attr(ctx, "end", r));
    const kept = dims.slice(start, Math.max(start, end));
    return [tensor("int64", [kept.length], kept)];
  },
  Size: ([x], ctx) => [tensor("int64", [], [elementCount(need(x, ctx, "data").shape)])],
  Cast: ([x], ctx) => [
    castTo(
      need(x, ctx, "input"),
      DATA_TYPES[attr(ctx, "to", 1)] ??
        (() => {
          throw new SeecError("unsupported.onnx_dtype", `Cast to element type ${ctx.attrs.to}, which seec does not read`, {
            at: `node ${ctx.node}`,
          });
        })(),
    ),
  ],
  CastLike: ([x, like], ctx) => [castTo(need(x, ctx, "input"), need(like, ctx, "target_type").dtype)],
  Reshape: ([x, shape], ctx) => {
    const t = need(x, ctx, "data");
    const want = values(shape) ?? [];
    const allowZero = attr(ctx, "allowzero", 0) === 1;
    if (want.some((d) => !Number.isSafeInteger(d) || d < -1) || want.filter((d) => d === -1).length > 1)
      fail(ctx, `Reshape to [${want.join(", ")}]: dimensions are whole numbers from 0, with at most one -1`);
    const dims = want.map((d, i) => (d === 0 && !allowZero ? t.shape[i] : d));
    const known = dims.reduce((a, d) => (d === -1 ? a : a * d), 1);
    const out = dims.map((d) => (d === -1 ? t.data.length / known : d));
    // A -1 the other dimensions do not divide would come out fractional ([2, 3] to [4, -1]: 1.5).
    if (elementCount(out) !== t.data.length || !out.every(Number.isSafeInteger))
      fail(ctx, `cannot reshape [${t.shape.join(", ")}] to [${want.join(", ")}]`);
    return [reshapeTo(t, out)];
  },
  Flatten: ([x], ctx) => {
    const t = need(x, ctx, "input");
    const given = attr(ctx, "axis", 1),
      r = t.shape.length;
    if (!Number.isInteger(given) || given < -r || given > r)
      fail(ctx, `axis ${given} is out of range for Flatten of a tensor of rank ${r}`);
    const a = given < 0 ? given + r : given;
    return [reshapeTo(t, [elementCount(t.shape.slice(0, a)), elementCount(t.shape.slice(a))])];
  },
  Squeeze: ([x, axesInput], ctx) => {
    const t = need(x, ctx, "data");
    const listed = values(axesInput) ?? ints(ctx, "axes");
    const axes = new Set(listed ? listed.map((a) => axis(ctx, a, t.shape.length)) : t.shape.flatMap((d, i) => (d === 1 ? [i] : [])));
    return [
      reshapeTo(
        t,
        t.shape.filter((_, i) => !axes.has(i)),
      ),
    ];
  },
  Unsqueeze: ([x, axesInput], ctx) => {
    const t = need(x, ctx, "data");
    const listed = values(axesInput) ?? ints(ctx, "axes") ?? [];
    const rank = t.shape.length + listed.length;
    const axes = new Set(listed.map((a) => axis(ctx, a, rank)));
    const shape: number[] = [];
    for (let i = 0, k = 0; i < rank; i++) shape.push(axes.has(i) ? 1 : t.shape[k++]);
    return [reshapeTo(t, shape)];
  },
  Transpose: ([x], ctx) => {
    const t = need(x, ctx, "data");
    const perm = ints(ctx, "perm") ?? t.shape.map((_, i) => t.shape.length - 1 - i);
    if (perm.length !== t.shape.length || [...perm].sort((a, b) => a - b).some((p, i) => p !== i))
      fail(ctx, `perm [${perm.join(", ")}] is not a permutation of the ${t.shape.length} axes of [${t.shape.join(", ")}]`);
    return [transpose(t, perm)];
  },
  Concat: (inputs, ctx) => {
    const ts = inputs.filter((t): t is OnnxTensor => !!t);
    if (ts.length === 0) fail(ctx, "Concat has no inputs");
    const a = axis(ctx, attr(ctx, "axis", 0), ts[0].shape.length);
    const shape = ts[0].shape.slice();
    shape[a] = ts.reduce((n, t) => n + t.shape[a], 0);
    const out = tensor(ts[0].dtype, shape);
    const outer = elementCount(shape.slice(0, a)),
      inner = elementCount(shape.slice(a + 1));
    let offset = 0;
    for (const t of ts) {
      const w = t.shape[a] * inner;
      for (let o = 0; o < outer; o++) out.data.set(t.data.subarray(o * w, (o + 1) * w), o * shape[a] * inner + offset);
      offset += w;
    }
    return [out];
  },
  Split: ([x, splitInput], ctx) => {
    const t = need(x, ctx, "input");
    const a = axis(ctx, attr(ctx, "axis", 0), t.shape.length);
    const count = attr(ctx, "num_outputs", 0) || ctx.outputs;
    const split =
      values(splitInput) ??
      ints(ctx, "split") ??
      (() => {
        const each = Math.ceil(t.shape[a] / count);
        return Array.from({ length: count }, (_, i) => Math.max(0, Math.min(each, t.shape[a] - i * each)));
      })();
    if (split.some((n) => !Number.isSafeInteger(n) || n < 0) || split.reduce((s, n) => s + n, 0) !== t.shape[a])
      fail(ctx, `split [${split.join(", ")}] does not divide axis ${a} of [${t.shape.join(", ")}]`);
    let start = 0;
    return split.map((n) => {
      const starts = t.shape.map((_, d) => (d === a ? start : 0));
      start += n;
      return sliceBox(
        t,
        starts,
        t.shape.map(() => 1),
        t.shape.map((d, k) => (k === a ? n : d)),
      );
    });
  },
  Slice: ([x, startsIn, endsIn, axesIn, stepsIn], ctx) => {
    const t = need(x, ctx, "data");
    const { begin, step, shape } = sliceParams(t.shape, [startsIn, endsIn, axesIn, stepsIn], ctx);
    return [sliceBox(t, begin, step, shape)];
  },
  Gather: ([x, indices], ctx) => {
    const t = need(x, ctx, "data"),
      ix = need(indices, ctx, "indices");
    const a = axis(ctx, attr(ctx, "axis", 0), t.shape.length);
    const outer = elementCount(t.shape.slice(0, a)),
      inner = elementCount(t.shape.slice(a + 1)),
      n = t.shape[a];
    const out = tensor(t.dtype, [...t.shape.slice(0, a), ...ix.shape, ...t.shape.slice(a + 1)]);
    const m = ix.data.length;
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < m; j++) {
        let k = ix.data[j];
        if (k < 0) k += n;
        if (k < 0 || k >= n) fail(ctx, `Gather index ${ix.data[j]} is outside [0, ${n})`);
        out.data.set(t.data.subarray((o * n + k) * inner, (o * n + k + 1) * inner), (o * m + j) * inner);
      }
    return [out];
  },
  EyeLike: ([x], ctx) => {
    const t = need(x, ctx, "input");
    const [R, C] = t.shape;
    const dtype = typeof ctx.attrs.dtype === "number" ? DATA_TYPES[ctx.attrs.dtype] : t.dtype;
    if (!dtype) fail(ctx, `EyeLike to element type ${ctx.attrs.dtype}, which seec does not read`);
    const k = attr(ctx, "k", 0);
    const out = tensor(dtype, t.shape);
    for (let r = 0; r < R; r++) if (r + k >= 0 && r + k < C) out.data[r * C + r + k] = 1;
    return [out];
  },
  Expand: ([x, shape], ctx) => {
    const t = need(x, ctx, "input");
    const out = broadcastShape([t.shape, values(shape) ?? []], ctx);
    return [view(t, out, broadcastStrides(t.shape, out))];
  },
  Tile: ([x, repeats], ctx) => {
    const t = need(x, ctx, "input");
    const reps = values(repeats) ?? [];
    // [r0, d0, r1, d1, ...] read with stride 0 over each repeat is the tiled tensor.
    const s = stridesOf(t.shape);
    const tiled = view(
      t,
      t.shape.flatMap((d, i) => [reps[i], d]),
      t.shape.flatMap((_, i) => [0, s[i]]),
    );
    return [{ ...tiled, shape: t.shape.map((d, i) => d * reps[i]) }];
  },
  Range: ([start, limit, delta], ctx) => {
    const [s, l, d] = [start, limit, delta].map((t, i) => need(t, ctx, `input ${i}`).data[0]);
    if (!Number.isFinite(s) || !Number.isFinite(l) || !Number.isFinite(d) || d === 0) fail(ctx, `Range(${s}, ${l}, ${d}) does not count`);
    const n = Math.max(0, Math.ceil((l - s) / d));
    checkSize([n], "Range's output");
    return [
      tensor(
        start!.dtype,
        [n],
        Array.from({ length: n }, (_, i) => s + i * d),
      ),
    ];
  },
};
