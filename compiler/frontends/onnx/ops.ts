/**
 * The reference semantics of the ONNX ops seec reads, on whole tensors: what folds shape
 * subgraphs to constants at build time, and the oracle the lowered graph is checked against.
 * Written for clarity, after the ONNX operator specification; floats compute in float32 (the
 * evaluator rounds float16 outputs back to half).
 */
import { SeecError } from "../../../runtime/errors.js";
import { attr, type OnnxAttr } from "./read.js";
import { broadcastShapes, broadcastStrides, erf, MAP_FUNCTIONS, stridesOf } from "../../ir/ops/tensor.js";
import { appendCache, attend, mergeHeads, rotate, splitHeads } from "./attention.js";
import { COMPOSITIONS, NUMBERS, type Composition } from "./elementwise.js";
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

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function fail(ctx: Pick<OpContext, "node">, message: string): never {
  throw new SeecError("input.onnx", message, { at: `node ${ctx.node}` });
}

export function need(t: OnnxTensor | undefined, ctx: OpContext, what: string): OnnxTensor {
  if (!t) fail(ctx, `${what} is missing`);
  return t;
}

export const ints = (ctx: OpContext, key: string): number[] | undefined =>
  Array.isArray(ctx.attrs[key]) ? (ctx.attrs[key] as number[]) : undefined;
const values = (t: OnnxTensor | undefined): number[] | undefined => (t ? Array.from(t.data) : undefined);
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

function elementwise(f: (...x: number[]) => number, outType?: (dtypes: OnnxDType[]) => OnnxDType): OpImpl {
  return (inputs, ctx) => {
    const ts = inputs.map((t, i) => need(t, ctx, `input ${i}`));
    const shape = broadcastShape(
      ts.map((t) => t.shape),
      ctx,
    );
    const idx = ts.map((t) => broadcastIndex(t.shape, shape));
    const dtype = outType ? outType(ts.map((t) => t.dtype)) : ts[0].dtype;
    const out = tensor(dtype, shape);
    const args = new Array<number>(ts.length);
    for (let i = 0; i < out.data.length; i++) {
      for (let k = 0; k < ts.length; k++) args[k] = ts[k].data[idx[k][i]];
      out.data[i] = f(...args);
    }
    return [out];
  };
}

const bool = () => "bool" as const;
const sameAsFirst = (d: OnnxDType[]) => d[0];
const truncate = (x: number) => (Number.isFinite(x) ? Math.trunc(x) : x);

/** Arithmetic: integer tensors keep integer results (division truncates, as C does). */
function arithmetic(f: (a: number, b: number) => number): OpImpl {
  return (inputs, ctx) => {
    const [r] = elementwise(f, sameAsFirst)(inputs, ctx);
    if (!isFloat(r!.dtype)) r!.data.forEach((v, i) => (r!.data[i] = truncate(v)));
    return [r];
  };
}

function unary(f: (x: number) => number): OpImpl {
  return elementwise(f);
}

/** A composition of map functions (elementwise.ts) on numbers, broadcast over the inputs present. */
function composed(c: Composition): OpImpl {
  return (inputs, ctx) => {
    const present = inputs.flatMap((t, k) => (t ? [k] : []));
    if (!inputs[0]) fail(ctx, "input 0 is missing");
    const shape = broadcastShape(
      present.map((k) => inputs[k]!.shape),
      ctx,
    );
    const idx = inputs.map((t) => t && broadcastIndex(t.shape, shape));
    const out = tensor(c.bool ? "bool" : inputs[0].dtype, shape);
    const args: (number | undefined)[] = inputs.map(() => undefined);
    for (let i = 0; i < out.data.length; i++) {
      for (const k of present) args[k] = inputs[k]!.data[idx[k]![i]];
      out.data[i] = c.build(NUMBERS, args, ctx.attrs, ctx.opset);
    }
    if (!isFloat(out.dtype)) out.data.forEach((v, i) => (out.data[i] = truncate(v)));
    return [out];
  };
}

/** Each reduction: start value, step, and what becomes of the total (n: elements reduced). */
const REDUCTIONS = {
  sum: { init: 0, step: (acc: number, v: number) => acc + v, end: (acc: number) => acc },
  mean: { init: 0, step: (acc: number, v: number) => acc + v, end: (acc: number, n: number) => acc / n },
  max: { init: -Infinity, step: Math.max, end: (acc: number) => acc },
  min: { init: Infinity, step: Math.min, end: (acc: number) => acc },
  prod: { init: 1, step: (acc: number, v: number) => acc * v, end: (acc: number) => acc },
  sumsquare: { init: 0, step: (acc: number, v: number) => acc + v * v, end: (acc: number) => acc },
  l1: { init: 0, step: (acc: number, v: number) => acc + Math.abs(v), end: (acc: number) => acc },
  l2: { init: 0, step: (acc: number, v: number) => acc + v * v, end: Math.sqrt },
  logsum: { init: 0, step: (acc: number, v: number) => acc + v, end: Math.log },
  logsumexp: { init: 0, step: (acc: number, v: number) => acc + Math.exp(v), end: Math.log },
};

function reduce(kind: keyof typeof REDUCTIONS): OpImpl {
  return ([x, axesInput], ctx) => {
    const t = need(x, ctx, "data");
    const listed = values(axesInput) ?? ints(ctx, "axes");
    if (listed && listed.length === 0 && attr(ctx, "noop_with_empty_axes", 0)) return [t];
    const axes = new Set((listed && listed.length > 0 ? listed : t.shape.map((_, i) => i)).map((a) => axis(ctx, a, t.shape.length)));
    const keep = attr(ctx, "keepdims", 1) === 1;
    const kept = t.shape.map((d, i) => (axes.has(i) ? 1 : d));
    const { init, step, end } = REDUCTIONS[kind];
    const acc = new Float64Array(size(kept)).fill(init);
    const count = size(t.shape) / Math.max(size(kept), 1);
    const idx = broadcastIndex(kept, t.shape);
    for (let i = 0; i < t.data.length; i++) acc[idx[i]] = step(acc[idx[i]], t.data[i]);
    const out = tensor(
      t.dtype,
      kept,
      acc.map((v) => end(v, count)),
    );
    return [{ ...out, shape: keep ? kept : t.shape.filter((_, i) => !axes.has(i)) }];
  };
}

/** ArgMax (sign 1) or ArgMin (sign −1) along `axis`: the first index of the extreme, or the last with select_last_index. */
function argExtreme(sign: 1 | -1): OpImpl {
  return ([x], ctx) => {
    const t = need(x, ctx, "data");
    const a = axis(ctx, attr(ctx, "axis", 0), t.shape.length);
    const last = attr(ctx, "select_last_index", 0) === 1;
    const n = t.shape[a],
      inner = size(t.shape.slice(a + 1)),
      outer = size(t.shape.slice(0, a));
    const kept = t.shape.map((d, i) => (i === a ? 1 : d));
    const out = tensor("int64", kept);
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < inner; j++) {
        let best = 0;
        for (let k = 1; k < n; k++) {
          const v = sign * t.data[(o * n + k) * inner + j],
            b = sign * t.data[(o * n + best) * inner + j];
          if (v > b || (last && v === b)) best = k;
        }
        out.data[o * inner + j] = best;
      }
    return [
      attr(ctx, "keepdims", 1)
        ? out
        : reshapeTo(
            out,
            t.shape.filter((_, i) => i !== a),
          ),
    ];
  };
}

/**
 * NegativeLogLikelihoodLoss: input [N, C, d...], target [N, d...], weight [C] (optional):
 * loss = −input[n, target, d...] · weight[target], 0 where target is ignore_index; reduced by
 * "none", "sum", or "mean" (the sum over the sum of the weights applied).
 */
function nllLoss(input: OnnxTensor, target: OnnxTensor, weight: OnnxTensor | undefined, ctx: OpContext): OnnxTensor {
  const [N, C] = input.shape,
    inner = size(input.shape.slice(2));
  const ignore = typeof ctx.attrs.ignore_index === "number" ? ctx.attrs.ignore_index : undefined;
  const reduction = typeof ctx.attrs.reduction === "string" ? ctx.attrs.reduction : "mean";
  const loss = tensor(input.dtype, target.shape);
  let total = 0,
    weights = 0;
  for (let n = 0; n < N; n++)
    for (let d = 0; d < inner; d++) {
      const c = target.data[n * inner + d];
      if (c === ignore) continue;
      if (c < 0 || c >= C) fail(ctx, `target ${c} is outside [0, ${C})`);
      const w = weight ? weight.data[c] : 1;
      const l = -input.data[(n * C + c) * inner + d] * w;
      loss.data[n * inner + d] = l;
      total += l;
      weights += w;
    }
  if (reduction === "none") return loss;
  if (reduction !== "sum" && reduction !== "mean") fail(ctx, `reduction "${reduction}" is not none, sum or mean`);
  return tensor(input.dtype, [], [reduction === "sum" ? total : total / weights]);
}

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

export function matmul(a: OnnxTensor, b: OnnxTensor, ctx: OpContext): OnnxTensor {
  const A = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
  const B = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
  const [M, K] = A.slice(-2),
    [K2, N] = B.slice(-2);
  if (K !== K2) fail(ctx, `MatMul of [${a.shape.join(", ")}] and [${b.shape.join(", ")}]: inner dimensions ${K} and ${K2} differ`);
  const batch = broadcastShape([A.slice(0, -2), B.slice(0, -2)], ctx);
  const ai = broadcastIndex(A.slice(0, -2), batch),
    bi = broadcastIndex(B.slice(0, -2), batch);
  const out = tensor(a.dtype, [...batch, M, N]);
  const o = out.data;
  const row = new Float64Array(N);
  for (let p = 0; p < size(batch); p++) {
    const ao = ai[p] * M * K,
      bo = bi[p] * K * N,
      oo = p * M * N;
    for (let i = 0; i < M; i++) {
      row.fill(0);
      for (let k = 0; k < K; k++) {
        const x = a.data[ao + i * K + k],
          bk = bo + k * N;
        for (let j = 0; j < N; j++) row[j] += x * b.data[bk + j];
      }
      o.set(row, oo + i * N);
    }
  }
  const shape = [...batch, ...(a.shape.length === 1 ? [] : [M]), ...(b.shape.length === 1 ? [] : [N])];
  return { ...out, shape };
}

function transpose(t: OnnxTensor, perm: number[]): OnnxTensor {
  const s = stridesOf(t.shape);
  return view(
    t,
    perm.map((p) => t.shape[p]),
    perm.map((p) => s[p]),
  );
}

/** Normalizes x over its axes from `axis` on; returns (x - mean) / sqrt(var + eps) (or x / rms). */
export function normalize(
  x: OnnxTensor,
  from: number,
  epsilon: number,
  rms: boolean,
): { y: Float32Array; mean: Float32Array; inv: Float32Array } {
  const inner = size(x.shape.slice(from));
  const outer = x.data.length / inner;
  const y = new Float32Array(x.data.length),
    mean = new Float32Array(outer),
    inv = new Float32Array(outer);
  for (let r = 0; r < outer; r++) {
    let m = 0;
    if (!rms) {
      for (let i = 0; i < inner; i++) m += x.data[r * inner + i];
      m /= inner;
    }
    let v = 0;
    for (let i = 0; i < inner; i++) v += (x.data[r * inner + i] - m) ** 2;
    const k = 1 / Math.sqrt(v / inner + epsilon);
    for (let i = 0; i < inner; i++) y[r * inner + i] = (x.data[r * inner + i] - m) * k;
    mean[r] = m;
    inv[r] = k;
  }
  return { y, mean, inv };
}

export function scaled(x: OnnxTensor, y: Float32Array, scale?: OnnxTensor, bias?: OnnxTensor): OnnxTensor {
  const out = tensor(x.dtype, x.shape, y);
  const si = scale && broadcastIndex(scale.shape, x.shape),
    bi = bias && broadcastIndex(bias.shape, x.shape);
  for (let i = 0; i < out.data.length; i++) out.data[i] = out.data[i] * (scale ? scale.data[si![i]] : 1) + (bias ? bias.data[bi![i]] : 0);
  return out;
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

/** Start, end, step of a Slice on a dimension of size `dim`, clamped as the spec says. */
function sliceRange(start: number, end: number, step: number, dim: number): [number, number] {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) ((s = clamp(s, 0, dim)), (e = clamp(e, 0, dim)));
  else ((s = clamp(s, -1, dim - 1)), (e = clamp(e, -1, dim - 1)));
  return [s, Math.max(0, Math.ceil((e - s) / step))];
}

/** ONNX Attention (opset 23): 4D [B, N, S, H] or 3D [B, S, N·H] inputs, KV cache, causal or masked, grouped heads. */
function onnxAttention([q, k, v, mask, pastKey, pastValue]: (OnnxTensor | undefined)[], ctx: OpContext): OnnxTensor[] {
  const Q = need(q, ctx, "Q"),
    K = need(k, ctx, "K"),
    V = need(v, ctx, "V");
  const threeD = Q.shape.length === 3;
  const q4 = threeD ? splitHeads(Q, attr(ctx, "q_num_heads", 1)) : Q;
  const k4 = threeD ? splitHeads(K, attr(ctx, "kv_num_heads", 1)) : K;
  const v4 = threeD ? splitHeads(V, attr(ctx, "kv_num_heads", 1)) : V;
  const keys = appendCache(pastKey, k4),
    vals = appendCache(pastValue, v4);
  const [B, N, S, H] = q4.shape,
    T = keys.shape[2];
  const scale = attr(ctx, "scale", 1 / Math.sqrt(H));
  const causal = attr(ctx, "is_causal", 0) === 1;
  const softcap = attr(ctx, "softcap", 0);
  const maskIndex = mask && broadcastIndex(mask.shape, [B, N, S, T]);
  const bias = (b: number, h: number, i: number, j: number) => {
    if (causal && j > i + T - S) return -Infinity;
    if (!mask) return 0;
    const m = mask.data[maskIndex![((b * N + h) * S + i) * T + j]];
    return mask.dtype === "bool" ? (m ? 0 : -Infinity) : m;
  };
  if (softcap > 0) fail(ctx, "Attention with softcap is not supported");
  const y = attend({ q: q4, k: keys, v: vals, scale, bias, dtype: Q.dtype });
  return [threeD ? mergeHeads(y) : y, keys, vals];
}

/** ONNX RotaryEmbedding (opset 23): X [B, N, S, H] (or [B, S, N·H] with num_heads), caches by position. */
function onnxRotary([x, cos, sin, positions]: (OnnxTensor | undefined)[], ctx: OpContext): OnnxTensor[] {
  const X = need(x, ctx, "X"),
    C = need(cos, ctx, "cos_cache"),
    Sn = need(sin, ctx, "sin_cache");
  const threeD = X.shape.length === 3;
  const x4 = threeD ? splitHeads(X, attr(ctx, "num_heads", 0) || fail(ctx, "3D RotaryEmbedding input needs num_heads")) : X;
  const [, , S, H] = x4.shape;
  const rotary = attr(ctx, "rotary_embedding_dim", 0) || H;
  const position = positions ? (b: number, s: number) => positions.data[b * S + s] : (b: number, s: number) => b * S + s;
  const y = rotate(x4, C, Sn, position, rotary, attr(ctx, "interleaved", 0) === 1);
  return [threeD ? mergeHeads(y) : y];
}

export const ONNX_OPS: Readonly<Record<string, OpImpl>> = {
  Attention: onnxAttention,
  RotaryEmbedding: onnxRotary,
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
  Size: ([x], ctx) => [tensor("int64", [], [size(need(x, ctx, "data").shape)])],
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
    if (size(out) !== t.data.length) fail(ctx, `cannot reshape [${t.shape.join(", ")}] to [${want.join(", ")}]`);
    return [reshapeTo(t, out)];
  },
  Flatten: ([x], ctx) => {
    const t = need(x, ctx, "input");
    const given = attr(ctx, "axis", 1),
      r = t.shape.length;
    if (!Number.isInteger(given) || given < -r || given > r)
      fail(ctx, `axis ${given} is out of range for Flatten of a tensor of rank ${r}`);
    const a = given < 0 ? given + r : given;
    return [reshapeTo(t, [size(t.shape.slice(0, a)), size(t.shape.slice(a))])];
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
    const outer = size(shape.slice(0, a)),
      inner = size(shape.slice(a + 1));
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
    const outer = size(t.shape.slice(0, a)),
      inner = size(t.shape.slice(a + 1)),
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
  GatherElements: ([x, indices], ctx) => {
    const t = need(x, ctx, "data"),
      ix = need(indices, ctx, "indices");
    const a = axis(ctx, attr(ctx, "axis", 0), t.shape.length);
    if (ix.shape.length !== t.shape.length) fail(ctx, `GatherElements indices have rank ${ix.shape.length}, the data ${t.shape.length}`);
    const K = t.shape[a],
      ts = stridesOf(t.shape),
      is = stridesOf(ix.shape);
    const out = tensor(t.dtype, ix.shape);
    for (let i = 0; i < out.data.length; i++) {
      let k = ix.data[i];
      if (k < 0) k += K;
      if (k < 0 || k >= K) fail(ctx, `GatherElements index ${ix.data[i]} is outside [0, ${K})`);
      let at = 0;
      for (let d = 0, r = i; d < is.length; d++) {
        const c = Math.floor(r / is[d]);
        r -= c * is[d];
        at += (d === a ? k : c) * ts[d];
      }
      out.data[i] = t.data[at];
    }
    return [out];
  },
  /** Ones on the k-th diagonal of a matrix of the input's shape (which is all it reads). */
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
  Trilu: ([x, kIn], ctx) => {
    const t = need(x, ctx, "input");
    const k = kIn ? kIn.data[0] : 0;
    const upper = attr(ctx, "upper", 1) === 1;
    const [R, C] = t.shape.slice(-2);
    const out = tensor(t.dtype, t.shape, t.data);
    for (let i = 0; i < out.data.length; i++) {
      const c = i % C,
        r = Math.floor(i / C) % R;
      if (upper ? c - r < k : c - r > k) out.data[i] = 0;
    }
    return [out];
  },
  Where: elementwise(
    (c, a, b) => (c ? a : b),
    (d) => d[1],
  ),
  Add: arithmetic((a, b) => a + b),
  Sub: arithmetic((a, b) => a - b),
  Mul: arithmetic((a, b) => a * b),
  Div: arithmetic((a, b) => a / b),
  Mod: (inputs, ctx) => arithmetic(attr(ctx, "fmod", 0) ? (a, b) => a % b : (a, b) => a - Math.floor(a / b) * b)(inputs, ctx),
  Pow: elementwise((a, b) => a ** b, sameAsFirst),
  Sum: elementwise((...xs) => xs.reduce((a, b) => a + b, 0)),
  Max: elementwise((...xs) => Math.max(...xs)),
  Min: elementwise((...xs) => Math.min(...xs)),
  Mean: elementwise((...xs) => xs.reduce((a, b) => a + b, 0) / xs.length),
  Equal: elementwise((a, b) => (a === b ? 1 : 0), bool),
  Less: elementwise((a, b) => (a < b ? 1 : 0), bool),
  LessOrEqual: elementwise((a, b) => (a <= b ? 1 : 0), bool),
  Greater: elementwise((a, b) => (a > b ? 1 : 0), bool),
  GreaterOrEqual: elementwise((a, b) => (a >= b ? 1 : 0), bool),
  And: elementwise((a, b) => (a && b ? 1 : 0), bool),
  Or: elementwise((a, b) => (a || b ? 1 : 0), bool),
  Not: unary((a) => (a ? 0 : 1)),
  Neg: unary((a) => -a),
  Abs: unary(Math.abs),
  Sqrt: unary(Math.sqrt),
  Reciprocal: unary((a) => 1 / a),
  Exp: unary(Math.exp),
  Log: unary(Math.log),
  Erf: unary(erf),
  Tanh: unary(Math.tanh),
  Sigmoid: unary((a) => 1 / (1 + Math.exp(-a))),
  Relu: unary((a) => Math.max(a, 0)),
  Sin: unary(Math.sin),
  Cos: unary(Math.cos),
  Gelu: (inputs, ctx) => unary(MAP_FUNCTIONS[ctx.attrs.approximate === "tanh" ? "geluTanh" : "gelu"].f)(inputs, ctx),
  MatMul: ([a, b], ctx) => [matmul(need(a, ctx, "A"), need(b, ctx, "B"), ctx)],
  Gemm: ([a, b, c], ctx) => {
    let A = need(a, ctx, "A"),
      B = need(b, ctx, "B");
    if (attr(ctx, "transA", 0)) A = transpose(A, [1, 0]);
    if (attr(ctx, "transB", 0)) B = transpose(B, [1, 0]);
    const alpha = attr(ctx, "alpha", 1),
      beta = attr(ctx, "beta", 1);
    const y = matmul(A, B, ctx);
    const ci = c && broadcastIndex(c.shape, y.shape);
    for (let i = 0; i < y.data.length; i++) y.data[i] = alpha * y.data[i] + (c ? beta * c.data[ci![i]] : 0);
    return [y];
  },
  Softmax: ([x], ctx) => {
    const t = need(x, ctx, "input");
    const a = axis(ctx, attr(ctx, "axis", ctx.opset >= 13 ? -1 : 1), t.shape.length);
    // Opset < 13 normalizes over the flattened axes from `axis` on; 13+ over that one axis.
    const moved = ctx.opset >= 13 && a !== t.shape.length - 1;
    const perm = t.shape
      .map((_, i) => i)
      .filter((i) => i !== a)
      .concat(a);
    const src = moved ? transpose(t, perm) : t;
    const inner = ctx.opset >= 13 ? t.shape[a] : size(t.shape.slice(a));
    const out = tensor(t.dtype, src.shape);
    for (let r = 0; r < src.data.length / inner; r++) {
      let m = -Infinity,
        sum = 0;
      for (let i = 0; i < inner; i++) m = Math.max(m, src.data[r * inner + i]);
      for (let i = 0; i < inner; i++) sum += out.data[r * inner + i] = Math.exp(src.data[r * inner + i] - m);
      for (let i = 0; i < inner; i++) out.data[r * inner + i] /= sum;
    }
    return [
      moved
        ? transpose(
            out,
            perm.map((_, i) => perm.indexOf(i)),
          )
        : out,
    ];
  },
  ReduceMean: reduce("mean"),
  ReduceSum: reduce("sum"),
  ReduceMax: reduce("max"),
  ReduceSumSquare: reduce("sumsquare"),
  ReduceMin: reduce("min"),
  ReduceProd: reduce("prod"),
  ReduceL1: reduce("l1"),
  ReduceL2: reduce("l2"),
  ReduceLogSum: reduce("logsum"),
  ReduceLogSumExp: reduce("logsumexp"),
  ArgMax: argExtreme(1),
  ArgMin: argExtreme(-1),
  Hardmax: ([x], ctx) => {
    const t = need(x, ctx, "input");
    const a = axis(ctx, attr(ctx, "axis", ctx.opset >= 13 ? -1 : 1), t.shape.length);
    // Opset < 13 takes the flattened axes from `axis` on as one; 13+ that one axis.
    const flatShape = ctx.opset >= 13 ? t.shape : [size(t.shape.slice(0, a)), size(t.shape.slice(a))];
    const at = ctx.opset >= 13 ? a : 1;
    const [index] = argExtreme(1)([reshapeTo(t, flatShape)], { ...ctx, attrs: { axis: at, keepdims: 1 } });
    const n = flatShape[at],
      inner = size(flatShape.slice(at + 1));
    const out = tensor(t.dtype, t.shape);
    for (let i = 0; i < out.data.length; i++) {
      const outer = Math.floor(i / (n * inner)),
        k = Math.floor(i / inner) % n;
      out.data[i] = +(index!.data[outer * inner + (i % inner)] === k);
    }
    return [out];
  },
  NegativeLogLikelihoodLoss: ([x, target, weight], ctx) => [nllLoss(need(x, ctx, "input"), need(target, ctx, "target"), weight, ctx)],
  SoftmaxCrossEntropyLoss: ([scores, labels, weights], ctx) => {
    const [logProb] = ONNX_OPS.LogSoftmax([need(scores, ctx, "scores")], { ...ctx, opset: 13, attrs: { axis: 1 } });
    return [nllLoss(logProb!, need(labels, ctx, "labels"), weights, ctx), logProb];
  },
  LogSoftmax: (inputs, ctx) => {
    const [p] = ONNX_OPS.Softmax(inputs, ctx);
    p!.data.forEach((v, i) => (p!.data[i] = Math.log(v)));
    return [p];
  },
  /** Inference: the input unchanged, and a mask of ones; training mode (random) is not supported. */
  Dropout: ([x, , training], ctx) => {
    const t = need(x, ctx, "data");
    if (training && training.data[0])
      throw new SeecError("unsupported.onnx_op", "Dropout in training mode (random) is not supported", { at: `node ${ctx.node}` });
    return [t, tensor("bool", t.shape, new Float64Array(t.data.length).fill(1))];
  },
  ...Object.fromEntries(Object.entries(COMPOSITIONS).map(([op, c]) => [op, composed(c)])),
  LayerNormalization: ([x, scale, bias], ctx) => {
    const t = need(x, ctx, "X");
    const from = axis(ctx, attr(ctx, "axis", -1), t.shape.length);
    const { y, mean, inv } = normalize(t, from, attr(ctx, "epsilon", 1e-5), false);
    const stats = t.shape.map((d, i) => (i < from ? d : 1));
    return [scaled(t, y, scale, bias), tensor("float32", stats, mean), tensor("float32", stats, inv)];
  },
  SimplifiedLayerNormalization: ([x, scale], ctx) => {
    const t = need(x, ctx, "X");
    const from = axis(ctx, attr(ctx, "axis", -1), t.shape.length);
    const { y, inv } = normalize(t, from, attr(ctx, "epsilon", 1e-5), true);
    return [
      scaled(t, y, scale),
      tensor(
        "float32",
        t.shape.map((d, i) => (i < from ? d : 1)),
        inv,
      ),
    ];
  },
  /** (x − mean) / sqrt(variance + epsilon) over the spatial axes of [N, C, ...], then scale[c] and bias[c]. */
  InstanceNormalization: ([x, scale, bias], ctx) => {
    const t = need(x, ctx, "input");
    const perChannel = (v: OnnxTensor) => reshapeTo(v, [t.shape[1], ...t.shape.slice(2).map(() => 1)]);
    const { y } = normalize(t, 2, attr(ctx, "epsilon", 1e-5), false);
    return [scaled(t, y, perChannel(need(scale, ctx, "scale")), perChannel(need(bias, ctx, "B")))];
  },
  RMSNormalization: ([x, scale], ctx) => {
    const t = need(x, ctx, "X");
    const from = axis(ctx, attr(ctx, "axis", -1), t.shape.length);
    return [scaled(t, normalize(t, from, attr(ctx, "epsilon", 1e-5), true).y, scale)];
  },
};
