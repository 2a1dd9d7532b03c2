// planMemory: tensors share arena bytes exactly when their lifetimes do not overlap.
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import { planMemory } from "../../compiler/passes/plan-memory.js";

function chain(length: number) {
  const b = new GraphBuilder("chain", { family: "decoder", config: {} });
  let x = b.input("x", "f32", [1, 256]);
  const w = b.constant("w", new Float32Array(256 * 256), [256, 256]);
  for (let i = 0; i < length; i++) x = b.node("Linear", `l${i}`, [x, w]);
  b.output(x);
  return b.finish();
}

describe("planMemory", () => {
  it("reuses bytes along a chain: peak is two tensors, not one per node", () => {
    const { plan } = planMemory(chain(10));
    expect(plan.arena.bytes).toBe(2 * 1024);
    expect(plan.weights.bytes).toBe(256 * 256 * 4);
  });

  it("never gives overlapping bytes to tensors alive at the same time", () => {
    const { plan } = planMemory(chain(10));
    const e = plan.arena.entries;
    for (const a of e)
      for (const b of e) {
        if (a === b || a.to! < b.from! || b.to! < a.from!) continue;
        expect(a.offset + a.bytes <= b.offset || b.offset + b.bytes <= a.offset).toBe(true);
      }
  });

  it("keeps graph outputs alive to the end", () => {
    const { graph, plan } = planMemory(chain(3));
    const out = plan.arena.entries.find((p) => p.name === graph.outputs[0])!;
    expect(out.to).toBe(graph.nodes.length);
  });
});
