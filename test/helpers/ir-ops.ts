/** The IR op registry's shape rules, as tests call them. */
import type { ValueType } from "../../compiler/ir/graph.js";
import { opDef } from "../../compiler/ir/ops/index.js";
import { expect } from "vitest";
import { catchSeec } from "./errors.js";

/** The message of `op`'s shape rule refusing `inputs` (an internal.ir error; any other outcome fails the test). */
export function inferRefusal(op: string, inputs: readonly ValueType[], attrs: Record<string, unknown> = {}): string {
  const e = catchSeec(() => opDef(op).infer(inputs as ValueType[], attrs as never, "n"));
  expect(e.code).toBe("internal.ir");
  return e.message;
}
