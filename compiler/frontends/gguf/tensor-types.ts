/**
 * ggml tensor types as GGUF numbers them (ggml.h's enum ggml_type), and the block layouts of the
 * ones seec reads: F32, F16, BF16, the 32-value blocks Q8_0 (f16 scale d, 32 int8: x = q·d) and
 * Q4_0 (f16 scale d, 16 bytes of nibbles: x = (q − 8)·d, low nibbles the block's first 16 values),
 * and the 256-value k-quant blocks of llama.cpp's Q4_K_M files, Q4_K and Q6_K (see quant.ts).
 */

/** Every type ggml defines, so that a refusal names the type rather than its number. */
export const GGML_TYPE_NAMES: Record<number, string> = {
  0: "F32",
  1: "F16",
  2: "Q4_0",
  3: "Q4_1",
  6: "Q5_0",
  7: "Q5_1",
  8: "Q8_0",
  9: "Q8_1",
  10: "Q2_K",
  11: "Q3_K",
  12: "Q4_K",
  13: "Q5_K",
  14: "Q6_K",
  15: "Q8_K",
  16: "IQ2_XXS",
  17: "IQ2_XS",
  18: "IQ3_XXS",
  19: "IQ1_S",
  20: "IQ4_NL",
  21: "IQ3_S",
  22: "IQ2_S",
  23: "IQ4_XS",
  24: "I8",
  25: "I16",
  26: "I32",
  27: "I64",
  28: "F64",
  29: "IQ1_M",
  30: "BF16",
  34: "TQ1_0",
  35: "TQ2_0",
  39: "MXFP4",
};

export const GGML = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, Q4_K: 12, Q6_K: 14, BF16: 30 } as const;

/** Values per block and bytes per block of the types seec reads and writes. */
export const BLOCKS: Record<number, { values: number; bytes: number }> = {
  [GGML.F32]: { values: 1, bytes: 4 },
  [GGML.F16]: { values: 1, bytes: 2 },
  [GGML.BF16]: { values: 1, bytes: 2 },
  [GGML.Q8_0]: { values: 32, bytes: 34 },
  [GGML.Q4_0]: { values: 32, bytes: 18 },
  [GGML.Q4_K]: { values: 256, bytes: 144 },
  [GGML.Q6_K]: { values: 256, bytes: 210 },
};

export function ggmlTypeName(type: number): string {
  return GGML_TYPE_NAMES[type] ?? `type ${type}`;
}
