// Writes past a kernel's output: the memory an output is planned for holds its most rows (T up to the
// module's maximum), and a call with fewer rows must leave the rest alone. A kernel that computes a
// block of rows or a lane past its end writes there, where a comparison of the outputs cannot see it.
import type { Model } from "../../runtime/index.js";

/** A value no kernel computes (a NaN with a payload), put after a call's output to see writes past it. */
export const GUARD = 0x7fc0dead;

/**
 * Fills the planned memory of `output` past a call's first `length` elements with GUARD (white-box:
 * the module's memory at the output's planned address). After the call, `written()` is the first
 * element past them that no longer holds it (−1: none), and `message` says where, for the failure.
 */
export function guardPast(model: Model, output: string, length: number): { written(): number; message(): string } {
  const memory = (model as unknown as { engine: { exports: { memory: WebAssembly.Memory } } }).engine.exports.memory;
  const spec = model.manifest.outputs.find((o) => o.name === output);
  if (!spec) throw new Error(`the model has no output "${output}"`);
  const planned = spec.shape.reduce<number>((a, d) => a * (typeof d === "number" ? d : model.manifest.dims[d].max), 1);
  const rest = () => new Uint32Array(memory.buffer, spec.address, planned).subarray(length);
  rest().fill(GUARD);
  const written = () => rest().findIndex((x) => x !== GUARD);
  return {
    written,
    message: () => `${output}: element ${length + written()} of ${planned} planned, written past the call's ${length}`,
  };
}
