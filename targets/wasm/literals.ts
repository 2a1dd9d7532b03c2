/** Numbers as AssemblyScript literals, for emitted code. */

/** A float literal AssemblyScript reads: "2.0", "0.5", "-3.4028234663852886e+38", "-Infinity". */
export const float = (x: number): string => (Number.isFinite(x) && /^-?\d+$/.test(String(x)) ? `${x}.0` : String(x));

/** The same as an f32 expression. */
export const f32 = (x: number): string => `<f32>${float(x)}`;
