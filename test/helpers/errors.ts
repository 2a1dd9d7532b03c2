import { SeecError } from "../../runtime/errors.js";

/** Runs f and returns the SeecError it throws; fails the test on any other outcome. */
export function catchSeec(f: () => unknown): SeecError {
  try {
    f();
  } catch (e) {
    if (e instanceof SeecError) return e;
    throw e;
  }
  throw new Error("expected a SeecError");
}
