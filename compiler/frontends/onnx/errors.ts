/** Errors raised inside the ONNX frontend, made to name the model file they concern. */
import { SeecError } from "../../../runtime/errors.js";

/**
 * `e` naming the model `file` when it is a SeecError that names no file (the ops and the lowering
 * name only the node), with `at` where it names no place either; any other `e` unchanged.
 */
export function inModelFile(e: unknown, file: string, at?: string): unknown {
  if (!(e instanceof SeecError) || e.file) return e;
  return new SeecError(e.code, e.message, { file, at: e.at ?? at, hint: e.hint });
}
