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

/** Awaits f and returns the SeecError it rejects with (or throws); fails the test on any other outcome. */
export async function rejectsSeec(f: () => Promise<unknown>): Promise<SeecError> {
  try {
    await f();
  } catch (e) {
    if (e instanceof SeecError) return e;
    throw e;
  }
  throw new Error("expected a SeecError");
}
