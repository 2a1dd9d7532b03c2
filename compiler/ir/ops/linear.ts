/**
 * The Linear family. Linear: y[t, n] = act(sum_k x[t, k] · w[n, k] + b[n]) + r[t, n]. Weights are
 * [out, in], as PyTorch and llama2.c store them. The bias, the activation and the residual r are
 * each optional: a frontend writes Linear with at most a bias, and passes/fuse-epilogues.ts folds
 * a following Relu (attribute `activation: "relu"`) and residual Add (attribute `residual: 1`,
 * r the last input) into it, so a backend finishes the rows in the matmul's own call. A backend
 * may also store the weights in another order (attribute `layout`, see WeightLayout).
 */
import type { Attrs, ValueType } from "../graph.js";
import type { OpDef, Tensor, VjpStep } from "./op.js";
import { dOut, expectRank, f32, fail, oneOf } from "./op.js";
import { perText } from "./per-text.js";

export type Activation = "relu";

/**
 * How a Linear's weights are stored (passes/weight-layout.ts picks one for the SIMD kernels):
 * "nk" as written, [N, K]; "kn" transposed, [K, N]; "n4" shape [N, K] in groups of four rows
 * interleaved by four columns (each group's columns k..k+3 hold its four rows in turn; N and K
 * multiples of 4); "n4k16" likewise by sixteen columns, one 16-byte vector of int8 weights (N a
 * multiple of 4, K of 16; QLinear's).
 */
export type WeightLayout = "nk" | "kn" | "n4" | "n4k16";

/** Every layout, for checking an attribute. */
const LAYOUTS = { nk: 1, kn: 1, n4: 1, n4k16: 1 };

/** Where element (n, k) of an N × K weight stored in `layout` sits. */
export function weightIndex(layout: WeightLayout, N: number, K: number): (n: number, k: number) => number {
  if (layout === "kn") return (n, k) => k * N + n;
  if (layout === "n4") return (n, k) => (n & ~3) * K + (k & ~3) * 4 + (n & 3) * 4 + (k & 3);
  if (layout === "n4k16") return (n, k) => (n & ~3) * K + (k & ~15) * 4 + (n & 3) * 16 + (k & 15);
  return (n, k) => n * K + k;
}

/** An N × K weight as written ([N, K], row-major) stored in `layout`. */
export function storeWeights<T extends Float32Array | Int8Array>(written: T, N: number, K: number, layout: WeightLayout): T {
  const out = new (written.constructor as new (length: number) => T)(N * K),
    at = weightIndex(layout, N, K);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[at(n, k)] = written[n * K + k];
  return out;
}

/** A Linear-family node's operands by role (tensor names or tensors, as the inputs are). */
export interface LinearOperands<T> {
  x: T;
  w: T;
  /** QLinear's per-row scales. */
  scale?: T;
  /** QLinear's row sums of its int8 weights (attribute `sums: 1`), for kernels whose activations carry an offset. */
  sums?: T;
  bias?: T;
  residual?: T;
  activation?: Activation;
  /** How w is stored. */
  layout: WeightLayout;
}

/** Splits a Linear-family node's inputs by role: x, w, (scale,) (sums,) (bias,) (residual). */
export function linearOperands<T>(op: string, inputs: readonly T[], attrs: Attrs): LinearOperands<T> {
  const int8 = op === "QLinear" || op === "MeanQLinear";
  const sums = int8 && attrs.sums === 1;
  const [x, w] = inputs;
  const rest = inputs.slice(int8 ? (sums ? 4 : 3) : 2);
  const residual = attrs.residual === 1 ? rest.pop() : undefined;
  const activation = attrs.activation === undefined ? undefined : oneOf<Activation>(attrs, "activation", { relu: 1 });
  return {
    x,
    w,
    scale: int8 ? inputs[2] : undefined,
    sums: sums ? inputs[3] : undefined,
    bias: rest[0],
    residual,
    activation,
    layout: attrs.layout === undefined ? "nk" : oneOf<WeightLayout>(attrs, "layout", LAYOUTS),
  };
}

export const Linear: OpDef = {
  infer: (inputs, attrs, node) => inferLinear(linearOperands("Linear", inputs, attrs), node),
  run: (inputs, attrs) => runLinear(linearOperands("Linear", inputs, attrs)),
  vjp: linearVjp,
};

/**
 * QLinear: Linear with int8 weights and one f32 scale per output row:
 * y[t, n] = act(scale[n] · sum_k x[t, k] · w[n, k] + b[n]) + r[t, n].
 * With attribute `sums: 1` the input after the scales holds each weight row's sum, i32 [N]
 * (passes/row-sums.ts): the relaxed-SIMD kernel adds an offset to its 7-bit activations and takes
 * it out again through them; the result is the same.
 */
export const QLinear: OpDef = {
  infer(inputs, attrs, node) {
    const ops = linearOperands("QLinear", inputs, attrs);
    if (ops.w.dtype !== "i8") fail(node, "weight must be i8");
    if (ops.sums) {
      const N = ops.w.shape[0];
      if (ops.sums.dtype !== "i32" || ops.sums.shape.length !== 1 || ops.sums.shape[0] !== N) fail(node, `the row sums must be i32 [${N}]`);
      if (ops.layout !== "nk" && ops.layout !== "n4k16")
        fail(node, `row sums need the weight in rows ("nk" or "n4k16"), not "${ops.layout}"`);
    }
    return inferLinear(ops, node);
  },
  run: (inputs, attrs) => runLinear(linearOperands("QLinear", inputs, attrs)),
};

/**
 * MeanLinear: the mean of Linear's T output rows, as [1, N] (zeros when T = 0):
 * y[n] = sum_k mean_t(x[t, k]) · w[n, k] (+ b[n]). The mean commutes with the affine map, so
 * backends average x first and run one row, not T (passes/pool-early.ts makes these). With a bias,
 * it may take the texts' lengths after it (per-text.ts): a row per text, zeros for an empty one.
 */
export const MeanLinear: OpDef = perText(meanOf(Linear), 3, [0]);

/** MeanQLinear: MeanLinear with QLinear's int8 weights and per-row scales. */
export const MeanQLinear: OpDef = perText(meanOf(QLinear), 4, [0]);

function inferLinear({ x, w, scale, bias, residual, activation, layout }: LinearOperands<ValueType>, node: string): ValueType[] {
  expectRank(node, "x", x.shape, 2);
  expectRank(node, "weight", w.shape, 2);
  if (!Object.hasOwn(LAYOUTS, layout)) fail(node, `unknown weight layout "${layout}"`);
  const [N, K] = layout === "kn" ? [w.shape[1], w.shape[0]] : w.shape;
  if (layout === "n4" && [N, K].some((d) => typeof d !== "number" || d % 4))
    fail(node, `weight layout "n4" needs both dimensions a multiple of 4, got [${N}, ${K}]`);
  if (layout === "n4k16" && w.dtype !== "i8") fail(node, `weight layout "n4k16" is for int8 weights, not ${w.dtype}`);
  if (layout === "n4k16" && (typeof N !== "number" || N % 4 || typeof K !== "number" || K % 16))
    fail(node, `weight layout "n4k16" needs N a multiple of 4 and K of 16, got [${N}, ${K}]`);
  if (x.shape[1] !== K) fail(node, `x has ${x.shape[1]} features but the weight expects ${K}`);
  for (const [what, t] of [
    ["scale", scale],
    ["bias", bias],
  ] as const)
    if (t && (t.shape.length !== 1 || t.shape[0] !== N)) fail(node, `${what} must be [${N}]`);
  const shape = [x.shape[0], N];
  if (residual && (residual.shape.length !== 2 || residual.shape.some((d, i) => d !== shape[i])))
    fail(node, `the residual must be [${shape.join(", ")}], got [${residual.shape.join(", ")}]`);
  if (activation !== undefined && activation !== "relu") fail(node, `unknown activation "${activation}"`);
  return [{ dtype: "f32", shape }];
}

function runLinear({ x, w, scale, bias, residual, activation, layout }: LinearOperands<Tensor>): Tensor[] {
  const [T, K] = x.shape;
  const N = w.shape[layout === "kn" ? 1 : 0];
  const at = weightIndex(layout, N, K);
  const xs = f32(x),
    ws = w.data,
    ss = scale ? f32(scale) : undefined,
    bs = bias ? f32(bias) : undefined,
    rs = residual ? f32(residual) : undefined;
  // Rows as written are read directly (distillation runs this interpreter in its inner loop).
  const sums = layout === "nk" ? matmulNT(xs, ws, T, N, K) : undefined;
  const y = new Float32Array(T * N);
  for (let t = 0; t < T; t++)
    for (let n = 0; n < N; n++) {
      let s = sums ? sums[t * N + n] : 0;
      if (layout !== "nk") for (let k = 0; k < K; k++) s += xs[t * K + k] * ws[at(n, k)];
      s = s * (ss ? ss[n] : 1) + (bs ? bs[n] : 0);
      if (activation === "relu") s = Math.max(0, s);
      y[t * N + n] = s + (rs ? rs[t * N + n] : 0);
    }
  return [{ shape: [T, N], data: y }];
}

/**
 * x·wᵀ for x [T, K] and w [N, K], four weight rows at a time (each x element loaded once for four),
 * in double precision as the other layouts' sums are (the reference semantics do not depend on the layout).
 */
function matmulNT(xs: Float32Array, ws: ArrayLike<number>, T: number, N: number, K: number): Float64Array {
  const y = new Float64Array(T * N);
  for (let t = 0; t < T; t++) {
    const x = t * K;
    let n = 0;
    for (; n + 4 <= N; n += 4) {
      const o0 = n * K,
        o1 = o0 + K,
        o2 = o1 + K,
        o3 = o2 + K;
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0;
      for (let k = 0; k < K; k++) {
        const v = xs[x + k];
        s0 += v * ws[o0 + k];
        s1 += v * ws[o1 + k];
        s2 += v * ws[o2 + k];
        s3 += v * ws[o3 + k];
      }
      y[t * N + n] = s0;
      y[t * N + n + 1] = s1;
      y[t * N + n + 2] = s2;
      y[t * N + n + 3] = s3;
    }
    for (; n < N; n++) {
      let s = 0;
      for (let k = 0, o = n * K; k < K; k++) s += xs[x + k] * ws[o + k];
      y[t * N + n] = s;
    }
  }
  return y;
}

/**
 * Linear's reverse mode, with z the pre-activation: dz = dy (· [z > 0] under ReLU, read from
 * y − r); dx = dz·W, dW = dzᵀ·x, db = Σ_t dz, dr = dy. Weights in any layout, gradients in it too.
 */
function linearVjp(step: VjpStep): (Float32Array | undefined)[] {
  const { x, w, bias, residual, activation, layout } = linearOperands("Linear", step.inputs, step.attrs);
  const [T, K] = x.shape;
  const N = w.shape[layout === "kn" ? 1 : 0];
  const at = weightIndex(layout, N, K);
  const xs = f32(x),
    ws = f32(w),
    dy = dOut(step);
  let dz = dy;
  if (activation === "relu") {
    const ys = f32(step.outputs[0]),
      rs = residual ? f32(residual) : undefined;
    dz = dy.map((g, i) => (ys[i] - (rs ? rs[i] : 0) > 0 ? g : 0));
  }
  const [wantX, wantW] = step.wants;
  const dx = wantX ? new Float32Array(T * K) : undefined;
  const dw = wantW ? new Float32Array(ws.length) : undefined;
  for (let t = 0; t < T; t++) {
    let n = 0;
    // dx row t: four weight rows per pass over it.
    if (layout === "nk" && dx)
      for (const row = t * K; n + 4 <= N; n += 4) {
        const g0 = dz[t * N + n],
          g1 = dz[t * N + n + 1],
          g2 = dz[t * N + n + 2],
          g3 = dz[t * N + n + 3];
        const o0 = n * K,
          o1 = o0 + K,
          o2 = o1 + K,
          o3 = o2 + K;
        for (let k = 0; k < K; k++) dx[row + k] += g0 * ws[o0 + k] + g1 * ws[o1 + k] + g2 * ws[o2 + k] + g3 * ws[o3 + k];
      }
    for (; n < N; n++) {
      const g = dz[t * N + n];
      if (g === 0) continue;
      if (layout === "nk") {
        const o = n * K;
        if (dx) for (let k = 0; k < K; k++) dx[t * K + k] += g * ws[o + k];
      } else {
        if (dx) for (let k = 0; k < K; k++) dx[t * K + k] += g * ws[at(n, k)];
        if (dw) for (let k = 0; k < K; k++) dw[at(n, k)] += g * xs[t * K + k];
      }
    }
    if (layout === "nk" && dw)
      for (let m = 0; m < N; m++) {
        const g = dz[t * N + m],
          o = m * K;
        if (g !== 0) for (let k = 0; k < K; k++) dw[o + k] += g * xs[t * K + k];
      }
  }
  const grads: (Float32Array | undefined)[] = [dx, dw];
  if (bias) {
    const db = new Float32Array(N);
    for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) db[n] += dz[t * N + n];
    grads.push(step.wants[2] ? db : undefined);
  }
  if (residual) grads.push(dy);
  return grads;
}

/** The op that gives the mean of `rows`' output rows, as [1, N] (zeros when there are none). */
function meanOf(rows: OpDef): OpDef {
  return {
    infer(inputs, attrs, node) {
      if (attrs.residual !== undefined || attrs.activation !== undefined || attrs.layout !== undefined)
        fail(node, "a mean of rows takes no activation, residual or weight layout");
      const [y] = rows.infer(inputs, attrs, node);
      return [{ dtype: "f32", shape: [1, y.shape[1]] }];
    },
    run(inputs, attrs) {
      const [
        {
          shape: [T, N],
          data,
        },
      ] = rows.run(inputs, attrs);
      const y = new Float32Array(N);
      for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) y[n] += data[t * N + n];
      return [{ shape: [1, N], data: y.map((v) => v / Math.max(T, 1)) }];
    },
  };
}

/** Linear's two matmuls, as a backend provides them (targets/wasm/train-kernels.ts implements it). */
export interface MatmulKernels {
  /** y = x·wᵀ (+ b) for x [T, K] and w [N, K]. */
  forward(x: Float32Array, w: Float32Array, b: Float32Array | undefined, T: number, K: number, N: number): Float32Array;
  /** dx = dy·w for dy [T, N] and w [N, K]. */
  inputGradient(dy: Float32Array, w: Float32Array, T: number, N: number, K: number): Float32Array;
  /** dw = dyᵀ·x for dy [T, N] and x [T, K]: the weight's gradient, [N, K]. */
  weightGradient(dy: Float32Array, x: Float32Array, T: number, N: number, K: number): Float32Array;
  /** The weight changed in place (a training step): the kernels' copy of it is stale. */
  changed(w: Float32Array): void;
}
