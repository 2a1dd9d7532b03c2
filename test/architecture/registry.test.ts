// Targets are data: the registry (targets/registry.ts) holds each target's backend, options,
// passes, defaults and refusals, and the driver and the build command name no target (issue 22).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { OP_NAMES } from "../../compiler/ir/op-names.js";
import { TARGET_PASSES } from "../../compiler/passes/index.js";
import { refusal, TARGET_NAMES, TARGETS, targetSpec, type TargetSpec } from "../../targets/registry.js";

const source = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), "utf8");

describe("the target registry", () => {
  it("is the only place that names a target: the driver and the build command test no name", () => {
    for (const file of ["compiler/build.ts", "compiler/cli/build.ts"]) {
      const text = source(file);
      expect(TARGET_NAMES.filter((name) => text.includes(`"${name}"`) || text.includes(`'${name}'`)).map((n) => `${file}: ${n}`)).toEqual(
        [],
      );
    }
  });

  it("gives every target a backend that supports every op, and only passes that exist", () => {
    for (const name of TARGET_NAMES) {
      const t: TargetSpec = TARGETS[name];
      expect(
        t.passes.filter((p) => !(p in TARGET_PASSES)),
        name,
      ).toEqual([]);
      const missing = OP_NAMES.filter((op) => !t.backend.supports({ name: "n", op, inputs: [], outputs: [], attrs: {} }));
      expect(missing, name).toEqual([]);
    }
  });

  it("refuses an unknown target (usage.target) naming the ones there are, and fills a refusal's target and model", () => {
    expect(() => targetSpec("wasm-gpu")).toThrow(/unknown target "wasm-gpu"/);
    expect(() => targetSpec("toString")).toThrow(/unknown target/);
    const e = refusal(
      { code: "unsupported.target", message: "the {target} target: {model}", at: "--target {target}", hint: "h" },
      {
        target: "t",
        model: "m",
      },
    );
    expect([e.code, e.message, e.at, e.hint]).toEqual(["unsupported.target", "the t target: m", "--target t", "h"]);
  });
});
