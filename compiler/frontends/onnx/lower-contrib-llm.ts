/**
 * The com.microsoft ops ONNX Runtime's model builder and optimizer write into LLM exports, lowered
 * to seec IR as ONNX Runtime's CPU kernels compute them (docs/ContribOperators.md and the CPU
 * kernels' code), from IR ops that exist:
 *
 * - MatMulNBits: A · dequantize(B)ᵀ (+ bias), B's 2-, 4- or 8-bit codes in blocks along K with a
 *   scale and a zero point (packed uint8 or float; default 2^(bits − 1)) per block, decoded at build
 *   time. 4-bit blocks of 32 whose zero point is the default 8 and whose scales an f16 holds
 *   exactly are Q4_0 blocks in another order: they become a Q4Linear and stay 4-bit in the
 *   artifact; any other form becomes a Linear of the dequantized f32 weights. Both hold exactly ONNX
 *   Runtime's weights, (q − zero point) · scale (Q4Linear's wasm kernels round the activations to
 *   int16 per row, int8 per block on wasm-relaxed; the Linear is f32 throughout). Refused: B,
 *   scales or zero points at run time, a g_idx that reorders blocks, other bit widths.
 * - GroupQueryAttention: causal attention of the new tokens over the KV cache, each kv head read
 *   by num_heads / kv_num_heads query heads (ScaledAttention reads grouped heads in place), with
 *   rotary embedding from the cos/sin caches (or position_ids), a local window, a softcap and an
 *   attention_bias. seqlens_k arrives at run time: after the first prompt, where the new keys land
 *   in the present cache and which keys each query sees follow from it through comparisons and
 *   where-picks. Refused: total_sequence_length at run time (it sets the present cache's length),
 *   smooth_softmax and head_sink, a quantized KV cache, sliding_window_cache, the output_qk output.
 */
import { elementCount } from "../../ir/graph.js";
import { floatToHalf, halfToFloat } from "../../util/float16.js";
import { Q4_BLOCK_BYTES, Q4_GROUP } from "../../ir/ops/linear-q4.js";
import { attend, cacheRows, mergeHeads, rotate, splitHeads } from "./lower-fused.js";
import type { Lowerer, Lowering } from "./lower-ops.js";
import { attr, type OnnxNode } from "./read.js";
import { isFloat } from "./tensor.js";

const present = (name: string | undefined): name is string => !!name;

/** A whole-number attribute that must be given. */
function required(l: Lowerer, n: OnnxNode, key: string): number {
  const v = attr(n, key, NaN);
  return Number.isInteger(v) ? v : l.fail(`${n.op} needs the attribute ${key}`);
}

// MatMulNBits.

/** The codes, scales and zero points of a MatMulNBits weight, read at build time. */
interface Blocks {
  N: number;
  K: number;
  bits: number;
  block: number;
  blocks: number;
  /** Code of weight (n, k): k's position in its block, low bits first in each byte. */
  code(n: number, k: number): number;
  scale(n: number, b: number): number;
  zero(n: number, b: number): number;
  /** Whether every zero point is the default 2^(bits − 1) (none given, or all of them). */
  defaultZero: boolean;
}

function readBlocks(l: Lowerer, n: OnnxNode): Blocks {
  const [a, b, scales, zeros, gIdx] = n.inputs;
  const K = required(l, n, "K"),
    N = required(l, n, "N"),
    bits = attr(n, "bits", 4),
    block = required(l, n, "block_size");
  if (bits !== 2 && bits !== 4 && bits !== 8) l.fail(`MatMulNBits with bits = ${bits} is not supported (2, 4 and 8 are)`);
  if (block < 16 || (block & (block - 1)) !== 0) l.fail(`MatMulNBits's block_size must be a power of 2 from 16, not ${block}`);
  if (l.shape(a).at(-1) !== K) l.fail(`MatMulNBits's input A has ${l.shape(a).at(-1)} features; K is ${K}`);
  for (const [name, what] of [
    [b, "the quantized weight B"],
    [scales, "the scales"],
    [zeros, "the zero points"],
  ] as const)
    if (present(name) && !l.isConstant(name))
      l.fail(`MatMulNBits reads ${what} at run time; seec decodes the weights at build time, so they must be initializers`);
  const blocks = Math.ceil(K / block),
    blob = (block * bits) / 8,
    perByte = 8 / bits,
    mask = (1 << bits) - 1;
  const B = l.value(b);
  if (B.shape.join() !== [N, blocks, blob].join())
    l.fail(`MatMulNBits's B has shape [${B.shape.join(", ")}]; N, K, bits and block_size make it [${N}, ${blocks}, ${blob}]`);
  const S = l.value(scales).data;
  if (S.length !== N * blocks) l.fail(`MatMulNBits's scales have ${S.length} values; the weight has ${N * blocks} blocks`);
  if (present(gIdx)) {
    const g = l.isConstant(gIdx) ? l.value(gIdx).data : undefined;
    if (!g || g.length !== K || g.some((v, k) => v !== Math.floor(k / block)))
      l.fail("MatMulNBits with a g_idx that reorders the blocks (act-order) is not supported");
  }
  const codes = B.data,
    def = 2 ** (bits - 1);
  const code = (row: number, k: number) => {
    const i = k % block,
      byte = codes[(row * blocks + Math.floor(k / block)) * blob + Math.floor(i / perByte)];
    return (byte >> (bits * (i % perByte))) & mask;
  };
  let zero = (_n: number, _b: number) => def;
  if (present(zeros)) {
    const Z = l.value(zeros);
    if (isFloat(Z.dtype)) {
      if (Z.data.length !== N * blocks) l.fail(`MatMulNBits's float zero points have ${Z.data.length} values, not ${N * blocks}`);
      zero = (row, blk) => Z.data[row * blocks + blk];
    } else {
      const rowBytes = Math.ceil((blocks * bits) / 8);
      if (Z.data.length !== N * rowBytes) l.fail(`MatMulNBits's packed zero points have ${Z.data.length} bytes, not ${N * rowBytes}`);
      zero = (row, blk) => (Z.data[row * rowBytes + Math.floor(blk / perByte)] >> (bits * (blk % perByte))) & mask;
    }
  }
  let defaultZero = true;
  for (let row = 0; row < N && defaultZero; row++) for (let blk = 0; blk < blocks; blk++) if (zero(row, blk) !== def) defaultZero = false;
  return { N, K, bits, block, blocks, code, scale: (row, blk) => S[row * blocks + blk], zero, defaultZero };
}

/** Whether the weight is Q4_0 blocks in another order: 4 bits, blocks of 32, zero point 8, f16 scales. */
function isQ4(w: Blocks): boolean {
  if (w.bits !== 4 || w.block !== Q4_GROUP || !w.defaultZero) return false;
  for (let row = 0; row < w.N; row++)
    for (let blk = 0; blk < w.blocks; blk++) {
      const s = w.scale(row, blk);
      if (!Number.isFinite(s) || halfToFloat(floatToHalf(s)) !== s) return false;
    }
  return true;
}

/** The weight as Q4_0 blocks: per block an f16 scale, then bytes holding values j (low nibble) and j + 16 (high). */
function q4Blocks(w: Blocks): Int8Array {
  const row = w.blocks * Q4_BLOCK_BYTES,
    out = new Uint8Array(w.N * row),
    view = new DataView(out.buffer);
  // Past K, the last block's codes are 8: weight 0, as Q4Linear pads a partial group.
  const code = (n: number, k: number) => (k < w.K ? w.code(n, k) : 8);
  for (let n = 0; n < w.N; n++)
    for (let blk = 0; blk < w.blocks; blk++) {
      const at = n * row + blk * Q4_BLOCK_BYTES,
        k0 = blk * Q4_GROUP;
      view.setUint16(at, floatToHalf(w.scale(n, blk)), true);
      for (let j = 0; j < 16; j++) out[at + 2 + j] = code(n, k0 + j) | (code(n, k0 + j + 16) << 4);
    }
  return new Int8Array(out.buffer);
}

/** The weight dequantized, [N, K] row-major: (q − zero point) · scale in f32, as ONNX Runtime computes it. */
function dequantize(w: Blocks): Float32Array {
  const out = new Float32Array(w.N * w.K),
    f = Math.fround;
  for (let n = 0; n < w.N; n++)
    for (let k = 0; k < w.K; k++) {
      const blk = Math.floor(k / w.block);
      out[n * w.K + k] = f(f(w.code(n, k) - w.zero(n, blk)) * w.scale(n, blk));
    }
  return out;
}

/** com.microsoft MatMulNBits: A [..., K] · dequantize(B)ᵀ + bias, the weights decoded at build time. */
const matMulNBits: Lowering = (l, n) => {
  const [a, , , , , bias] = n.inputs;
  const w = readBlocks(l, n);
  const A = l.shape(a);
  const rows = l.reshape(l.ir(a), [elementCount(A.slice(0, -1)), w.K]);
  const constBias = present(bias) && l.isConstant(bias);
  const b = constBias ? l.constantData(Float32Array.from(l.value(bias).data), [w.N]) : undefined;
  // Q4_0 blocks are i8 bytes, which the builder stores as they are (constantData's type names only f32 and i32).
  const [op, weight] = isQ4(w)
    ? ["Q4Linear", l.constantData(q4Blocks(w) as unknown as Int32Array, [w.N, w.blocks * Q4_BLOCK_BYTES])]
    : ["Linear", l.constantData(dequantize(w), [w.N, w.K])];
  let y = l.add(op, b ? [rows, weight, b] : [rows, weight]);
  if (present(bias) && !constBias) y = l.map("add", [y, l.reshape(l.ir(bias), [w.N])]);
  return [l.reshape(y, [...A.slice(0, -1), w.N])];
};

// GroupQueryAttention.

/** An i32 constant of `values` with `shape`. */
const ints = (l: Lowerer, values: number[], shape: number[]) => l.constantData(Int32Array.from(values), shape);
const iota = (count: number) => Array.from({ length: count }, (_, i) => i);

/**
 * softmax(cap(q·kᵀ · scale) + biases)·v, as [B, Nq, S, H], cap(x) = softcap · tanh(x / softcap):
 * the scores written out (ScaledAttention has no cap), kv heads repeated for their query heads.
 */
function cappedAttention(l: Lowerer, q: string, k: string, v: string, scale: number, softcap: number, biases: string[]): string {
  const [B, Nq, , H] = l.irShape(q),
    [, Nkv, T] = l.irShape(k),
    G = Nq / Nkv;
  const repeat = (t: string) => l.copy(t, [B, Nkv, G, T, H], [Nkv * T * H, T * H, 0, H, 1], 0, [B, Nq, T, H]);
  const scores = l.map("mul", [l.add("MatMul", [q, l.transpose(repeat(k), [0, 1, 3, 2])]), l.scalar(scale)]);
  let capped = l.map("mul", [l.map("tanh", [l.map("div", [scores, l.scalar(softcap)])]), l.scalar(softcap)]);
  for (const bias of biases) capped = l.map("add", [capped, bias]);
  return l.add("MatMul", [l.softmax(capped), repeat(v)]);
}

/** A mask (non-zero: seen) as an additive bias of 0 or −∞. */
const maskBias = (l: Lowerer, mask: string) => l.map("where", [mask, l.scalar(0), l.scalar(-Infinity)]);

/** What this lowering does not cover, refused by name: attributes and inputs of newer opsets. */
function refuseUncovered(l: Lowerer, n: OnnxNode): void {
  const [, , , , , , , , , , , headSink, kScale, vScale] = n.inputs;
  if (attr(n, "smooth_softmax", 0) || present(headSink))
    l.fail("GroupQueryAttention with smooth_softmax or head_sink (a softmax with an extra term) is not supported");
  if (attr(n, "local_window_size", -1) === 0) l.fail("GroupQueryAttention with local_window_size 0 (no key seen) is not supported");
  if (present(kScale) || present(vScale) || attr(n, "kv_cache_bit_width", 0) || (n.attrs.k_quant_type ?? "NONE") !== "NONE")
    l.fail("GroupQueryAttention with a quantized KV cache (k_scale, v_scale, kv_cache_bit_width) is not supported");
  if (attr(n, "sliding_window_cache", 0)) l.fail("GroupQueryAttention with sliding_window_cache is not supported");
  if (n.outputs[3] && l.isUsed(n.outputs[3])) l.fail("GroupQueryAttention's output_qk output is not supported");
}

/**
 * com.microsoft GroupQueryAttention: query [B, S, Nq·H] (or packed QKV), key and value
 * [B, S, Nkv·H], past [B, Nkv, P, H], seqlens_k [B] (each batch's total length − 1),
 * total_sequence_length (needed at build time: it sets the present cache's length,
 * max(total, P)); present [B, Nkv, max(total, P), H].
 *
 * The first prompt (S = total) attends causally among its own tokens, which land at the cache's
 * start. After it, batch b's new tokens land at past_b = seqlens_k[b] + 1 − S and token i sees
 * keys up to past_b + i (and, with local_window_size W, from past_b + i − W + 1: W keys, as
 * ONNX Runtime 1.2x counts them; earlier releases saw W + 1): at run time, so the present cache is
 * built by where-picks over its positions, and the mask from comparisons. The scores are
 * softcap · tanh(scores / softcap) with a softcap, and then attention_bias is added.
 */
const groupQueryAttention: Lowering = (l, n) => {
  const [query, key, value, pastKey, pastValue, seqlensK, totalLength, cosCache, sinCache, positionIds, attentionBias] = n.inputs;
  refuseUncovered(l, n);
  const Nq = required(l, n, "num_heads"),
    Nkv = required(l, n, "kv_num_heads");
  if (Nq % Nkv !== 0) l.fail(`GroupQueryAttention's num_heads (${Nq}) must be a multiple of kv_num_heads (${Nkv})`);
  if (present(pastKey) !== present(pastValue)) l.fail("GroupQueryAttention needs both past_key and past_value, or neither");
  if (!present(totalLength) || !l.isConstant(totalLength))
    l.fail(
      "GroupQueryAttention's total_sequence_length arrives at run time; it sets the present cache's length, so seec needs it at build time (exports compute it from the attention mask's shape, which --shape fixes)",
    );
  const total = l.value(totalLength).data[0];
  const [B, S, D] = l.shape(query);
  const packed = !present(key);
  const H = packed ? D / (Nq + 2 * Nkv) : D / Nq;
  const x = l.ir(query);
  let q = splitHeads(l, packed ? l.slice(x, 2, 0, Nq * H) : x, Nq);
  let k = splitHeads(l, packed ? l.slice(x, 2, Nq * H, Nkv * H) : l.ir(key), Nkv);
  const v = splitHeads(l, packed ? l.slice(x, 2, (Nq + Nkv) * H, Nkv * H) : l.ir(value), Nkv);
  const P = present(pastKey) ? l.shape(pastKey)[2] : 0;
  const T = Math.max(total, P);
  const first = S === total;
  if (!first && S > 1 && B > 1) l.fail("GroupQueryAttention with more than one new token per step after the prompt needs batch size 1");
  if (!first && S > total) l.fail(`GroupQueryAttention's total_sequence_length (${total}) is less than its ${S} new tokens`);
  // Where batch b's new tokens start in the cache after the first prompt, seqlens_k[b] + 1 − S: [B] i32.
  const starts = first ? "" : l.map("add", [l.reshape(l.ir(seqlensK), [B]), ints(l, [1 - S], [1])], "i32");

  if (attr(n, "do_rotary", 0)) {
    if (!present(cosCache) || !present(sinCache)) l.fail("GroupQueryAttention with do_rotary needs cos_cache and sin_cache");
    const half = l.shape(cosCache)[1],
      rotary = 2 * half;
    if (rotary > H) l.fail(`GroupQueryAttention's rotary caches are ${half} wide, more than half the head size ${H}`);
    const rows = (cache: string) => {
      if (present(positionIds)) return l.reshape(cacheRows(l, cache, l.ir(positionIds), B, S), [B, 1, S, half]);
      if (first) return l.reshape(l.slice(l.ir(cache), 0, 0, S), [1, 1, S, half]);
      const positions = l.map("add", [l.reshape(starts, [B, 1]), ints(l, iota(S), [1, S])], "i32");
      return l.reshape(l.gatherRows(l.ir(cache), positions), [B, 1, S, half]);
    };
    const [cos, sin] = [rows(cosCache), rows(sinCache)];
    const interleaved = attr(n, "rotary_interleaved", 0) === 1;
    q = rotate(l, q, cos, sin, rotary, interleaved);
    k = rotate(l, k, cos, sin, rotary, interleaved);
  }

  const scale = attr(n, "scale", 0) || 1 / Math.sqrt(H);
  const softcap = attr(n, "softcap", 0);
  const window = attr(n, "local_window_size", -1);
  // The keys and values attended to, the present cache, and the mask as a bias (or ScaledAttention's causal flag).
  let keys: string, values: string, presentKey: string, presentValue: string, bias: string | undefined;
  let causal = false;
  if (first) {
    // The prompt attends among its own tokens, which start the cache (zeros after them); no past is read.
    [keys, values] = [k, v];
    const pad = (t: string) => (T > S ? l.concat([t, l.expand(l.scalar(0), [B, Nkv, T - S, H])], 2) : t);
    [presentKey, presentValue] = [pad(k), pad(v)];
    if (window > 0 || softcap > 0) {
      const seen = new Float32Array(S * S).fill(-Infinity);
      for (let i = 0; i < S; i++) for (let j = Math.max(0, window > 0 ? i - window + 1 : 0); j <= i; j++) seen[i * S + j] = 0;
      bias = l.constantData(seen, [1, 1, S, S]);
    } else causal = true;
  } else {
    // Cache position t holds past[t] before start_b, new token t − start_b from there, zeros after.
    const at = l.map("sub", [ints(l, iota(T), [1, 1, T, 1]), l.reshape(starts, [B, 1, 1, 1])], "i32");
    const before = l.map("less", [at, ints(l, [0], [1])], "i32");
    const place = (past: string | undefined, next: string) => {
      const old = past ? (P < T ? l.concat([l.ir(past), l.expand(l.scalar(0), [B, Nkv, T - P, H])], 2) : l.ir(past)) : undefined;
      let cache = old ? l.map("where", [before, old, l.scalar(0)]) : l.expand(l.scalar(0), [B, Nkv, T, H]);
      for (let s = 0; s < S; s++) cache = l.map("where", [l.map("equal", [at, ints(l, [s], [1])], "i32"), l.slice(next, 2, s, 1), cache]);
      return cache;
    };
    keys = presentKey = place(present(pastKey) ? pastKey : undefined, k);
    values = presentValue = place(present(pastValue) ? pastValue : undefined, v);
    // Token i of batch b sits at start_b + i and sees keys j ≤ it (and j > it − window).
    const position = l.map("add", [l.reshape(starts, [B, 1, 1, 1]), ints(l, iota(S), [1, 1, S, 1])], "i32");
    const j = ints(l, iota(T), [1, 1, 1, T]);
    let seen = l.map("lessOrEqual", [j, position], "i32");
    if (window > 0)
      seen = l.map("and", [seen, l.map("greaterOrEqual", [j, l.map("sub", [position, ints(l, [window - 1], [1])], "i32")], "i32")], "i32");
    bias = maskBias(l, seen);
  }
  const biases = bias ? [bias] : [];
  if (present(attentionBias)) {
    // [B or 1, Nq or 1, S, total]: over the keys attended to (zeros past its columns, which the mask hides).
    const A = l.shape(attentionBias),
      width = l.irShape(keys)[2];
    const given = l.ir(attentionBias);
    biases.push(
      A[3] >= width ? l.slice(given, 3, 0, width) : l.concat([given, l.expand(l.scalar(0), [...A.slice(0, 3), width - A[3]])], 3),
    );
  }
  const y =
    softcap > 0
      ? cappedAttention(l, q, keys, values, scale, softcap, biases)
      : attend(l, { q, k: keys, v: values, scale, biases, causal: causal ? -Infinity : undefined });
  return [mergeHeads(l, y), presentKey, presentValue];
};

export const CONTRIB_LLM_LOWERINGS: Readonly<Record<string, Lowering>> = {
  "com.microsoft:MatMulNBits": matMulNBits,
  "com.microsoft:GroupQueryAttention": groupQueryAttention,
};
