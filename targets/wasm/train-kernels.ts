/**
 * The training kernels of seec distill: the interpreter's hot ops on the SIMD kernels.
 *  - Linear's matmuls: the forward pass is kernels/linear.ts over the weights as written ([N, K]),
 *    and the input gradient dx = dy·W is kernels/linear-kn.ts reading the same bytes as a
 *    transposed [K', N'] weight (K' = N, N' = K): the matmul with the other weight layout, no copy;
 *    the weight gradient dw = dyᵀ·x is the same kernel over dy transposed.
 *  - Attention (causal, over a cache's rows) and SelfAttention: the forward pass is the inference
 *    kernels' attendRow, the backward pass kernels/attention-grad.ts.
 * Weights are copied into the module's memory the first time they are used, and again when training
 * changes them (`changed`); activations go in and out each call, above them.
 */
import { SeecError } from "../../runtime/errors.js";
import type { AttentionKernels, AttentionShape } from "../../compiler/ir/ops/attention.js";
import type { MatmulKernels } from "../../compiler/ir/ops/linear.js";
import { compileWasm } from "./compile.js";
import { PAGE_BYTES, RESERVED_BYTES } from "./layout.js";

/** Linear's and attention's kernels, forward and backward. */
export type TrainingKernels = MatmulKernels & AttentionKernels;

const PROGRAM = `import { attendRow } from "./kernels/attend-row";
import { selfAttention } from "./kernels/attention";
import { linear } from "./kernels/linear";
import { linearKN } from "./kernels/linear-kn";
import { at } from "./kernels/simd";

/** y = x·wᵀ + b: x [T, K], w [N, K], b [N] or 0. */
export function forward(x: usize, w: usize, b: usize, y: usize, T: i32, K: i32, N: i32): void {
  linear(x, w, b, y, T, K, N);
}

/** dx = dy·w: dy [T, N], w [N, K]. */
export function inputGradient(dy: usize, w: usize, dx: usize, T: i32, N: i32, K: i32): void {
  linearKN(dy, w, 0, dx, T, N, K);
}

/** dw = dyᵀ·x: dyT [N, T] (dy transposed), x [T, K]. */
export function weightGradient(dyT: usize, x: usize, dw: usize, T: i32, N: i32, K: i32): void {
  linearKN(dyT, x, 0, dw, N, T, K);
}

/**
 * out [T, heads·headDim]: query t's attention over key and value rows 0..first+t (causal) or all T
 * (rows of kvHeads·headDim; query head h reads kv head h / (heads / kvHeads)).
 */
export function attention(
  q: usize, keys: usize, values: usize, out: usize, T: i32, first: i32, causal: i32, heads: i32, kvHeads: i32, headDim: i32, scale: f32,
): void {
  if (!causal && heads == kvHeads) {
    selfAttention(q, keys, values, out, T, heads, headDim, scale);
    return;
  }
  const D = heads * headDim, stride = kvHeads * headDim, group = heads / kvHeads;
  for (let t = 0; t < T; t++)
    for (let h = 0; h < heads; h++) {
      const row = at(t * D + h * headDim), kv = at((h / group) * headDim);
      attendRow(q + row, keys + kv, values + kv, stride, causal ? first + t + 1 : T, headDim, scale, out + row);
    }
}

export { attentionBackward } from "./kernels/attention-grad";
`;

interface Exports {
  memory: WebAssembly.Memory;
  forward(x: number, w: number, b: number, y: number, T: number, K: number, N: number): void;
  inputGradient(dy: number, w: number, dx: number, T: number, N: number, K: number): void;
  weightGradient(dyT: number, x: number, dw: number, T: number, N: number, K: number): void;
  attention(...args: number[]): void;
  attentionBackward(...args: number[]): void;
}

/**
 * Compiles the kernels (about a second) and returns them over a memory that grows as weights
 * arrive. A weight is copied in on its first use; one that training changes in place must be
 * announced with `changed` before the next call reads it.
 */
export async function wasmTrainingKernels(): Promise<TrainingKernels> {
  return trainingKernelsOn(await compileTrainingKernels());
}

/** The kernels' module, compiled once: each training thread instantiates it (`trainingKernelsOn`). */
export async function compileTrainingKernels(): Promise<WebAssembly.Module> {
  const bytes = await compileWasm({
    program: PROGRAM,
    flavour: "wasm-simd",
    pages: 1,
    exports: ["forward", "inputGradient", "weightGradient", "attention", "attentionBackward"],
    staticData: { from: 0, to: RESERVED_BYTES },
  });
  return new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
}

/** The kernels over an instance of their own of the compiled module, with its own memory. */
export function trainingKernelsOn(module: WebAssembly.Module): TrainingKernels {
  const instance = new WebAssembly.Instance(module, {
    env: {
      abort: () => {
        throw new SeecError("internal.kernel", "the training kernels trapped");
      },
    },
  });
  const wasm = instance.exports as unknown as Exports;
  const placed = new WeakMap<Float32Array, number>();
  let weightsEnd = RESERVED_BYTES;
  const reserve = (end: number) => {
    const have = wasm.memory.buffer.byteLength;
    if (end <= have) return;
    try {
      wasm.memory.grow(Math.ceil((end - have) / PAGE_BYTES));
    } catch {
      throw new SeecError(
        "budget.memory",
        `the training kernels need ${end} bytes of wasm memory, more than the engine gives (wasm32: at most 4 GiB)`,
      );
    }
  };
  const align = (n: number) => Math.ceil(n / 16) * 16;
  /** The weight's address, copying it in on first use. */
  const weight = (w: Float32Array): number => {
    let at = placed.get(w);
    if (at === undefined) {
      at = weightsEnd;
      weightsEnd = align(at + w.byteLength);
      reserve(weightsEnd);
      new Float32Array(wasm.memory.buffer, at, w.length).set(w);
      placed.set(w, at);
    }
    return at;
  };
  /**
   * Activations for one call, above the weights: the inputs copied in, then room for outputs of the
   * given lengths, zeroed for a kernel that adds into them.
   */
  const call = (inputs: Float32Array[], outLengths: number[], zeroed = false): { at: number[]; outs: number[] } => {
    const at: number[] = [],
      outs: number[] = [];
    let end = weightsEnd;
    for (const x of inputs) {
      at.push(end);
      end = align(end + x.byteLength);
    }
    for (const n of outLengths) {
      outs.push(end);
      end = align(end + n * 4);
    }
    reserve(end);
    inputs.forEach((x, i) => new Float32Array(wasm.memory.buffer, at[i], x.length).set(x));
    if (zeroed) new Uint8Array(wasm.memory.buffer, outs[0], end - outs[0]).fill(0);
    return { at, outs };
  };
  const read = (at: number, length: number) => new Float32Array(wasm.memory.buffer, at, length).slice();
  return {
    forward(x, w, b, T, K, N) {
      const wAt = weight(w),
        bAt = b ? weight(b) : 0;
      const { at, outs } = call([x], [T * N]);
      wasm.forward(at[0], wAt, bAt, outs[0], T, K, N);
      return read(outs[0], T * N);
    },
    inputGradient(dy, w, T, N, K) {
      const wAt = weight(w);
      const { at, outs } = call([dy], [T * K]);
      wasm.inputGradient(at[0], wAt, outs[0], T, N, K);
      return read(outs[0], T * K);
    },
    weightGradient(dy, x, T, N, K) {
      const dyT = new Float32Array(N * T);
      for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) dyT[n * T + t] = dy[t * N + n];
      const { at, outs } = call([dyT, x], [N * K]);
      wasm.weightGradient(at[0], at[1], outs[0], T, N, K);
      return read(outs[0], N * K);
    },
    attention(q, keys, values, s) {
      const { at, outs } = call([q, keys, values], [q.length]);
      wasm.attention(at[0], at[1], at[2], outs[0], ...shapeArgs(s));
      return read(outs[0], q.length);
    },
    attentionBackward(q, dy, keys, values, s) {
      const rows = keys.length / (s.kvHeads * s.headDim);
      // dq, dk and dv are added into; then p and dp, two floats a key.
      const { at, outs } = call([q, dy, keys, values], [q.length, keys.length, keys.length, 2 * rows], true);
      wasm.attentionBackward(at[0], at[1], at[2], at[3], outs[0], outs[1], outs[2], outs[3], ...shapeArgs(s));
      return [read(outs[0], q.length), read(outs[1], keys.length), read(outs[2], keys.length)];
    },
    changed(w) {
      const at = placed.get(w);
      if (at !== undefined) new Float32Array(wasm.memory.buffer, at, w.length).set(w);
    },
  };
}

/** An attention call's shape as the kernels take it, after their pointers. */
function shapeArgs(s: AttentionShape): number[] {
  return [s.T, s.first, s.causal ? 1 : 0, s.heads, s.kvHeads, s.headDim, s.scale];
}
