/** Compiles an IR graph through the real pipeline into a temporary artifact and loads it with the runtime. */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeArtifact } from "../../compiler/artifact.js";
import { compileArtifact } from "../../compiler/build.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { Graph, ModelInfo } from "../../compiler/ir/graph.js";
import type { TargetName } from "../../targets/registry.js";
import { load } from "../../runtime/index.js";
import type { Model } from "../../runtime/model.js";
import { argmax } from "../../runtime/sampler.js";
import { maxAbsDiff, randomF32 } from "./random.js";

export async function compileAndLoad(graph: Graph, target: TargetName = "wasm-simd"): Promise<Model> {
  const artifact = await compileArtifact({ graph, format: "graph" }, { target });
  const dir = join(await mkdtemp(join(tmpdir(), "seec-test-")), "artifact");
  await writeArtifact(dir, artifact.files);
  return loadWasm(dir);
}

/** An artifact on its wasm module, whatever its target. */
export async function loadWasm(dir: string): Promise<Model> {
  return load(dir, { webgpu: false });
}

export function tmpDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "seec-test-"));
}

/** A decoder's logits for one token at one position. */
export type Logits = (feeds: { tokens: Int32Array; pos: Int32Array }) => ArrayLike<number> | Promise<ArrayLike<number>>;

/** An artifact's logits, as Logits. */
export const logitsOf =
  (model: Model): Logits =>
  async (feeds) =>
    (await model.run(feeds)).logits as Float32Array;

/**
 * Walks `steps` tokens of the reference's greedy path (one token a call, from BOS at position 0)
 * and compares each other model's logits with the reference's at every step: for each, the largest
 * difference and at how many steps the argmax agrees.
 */
export async function alongGreedyPath(reference: Logits, others: Logits[], steps = 256): Promise<{ worst: number; agree: number }[]> {
  const out = others.map(() => ({ worst: 0, agree: 0 }));
  let token = 1;
  for (let pos = 0; pos < steps; pos++) {
    const feeds = { tokens: Int32Array.of(token), pos: Int32Array.of(pos) };
    const want = await reference(feeds);
    for (const [i, other] of others.entries()) {
      const got = await other(feeds);
      out[i].worst = Math.max(out[i].worst, maxAbsDiff(got, want));
      if (argmax(got as Float32Array) === argmax(want as Float32Array)) out[i].agree++;
    }
    token = argmax(want as Float32Array);
  }
  return out;
}

/** A tiny model over a vocabulary of 11: tokens [T] (T = 4 at most) -> embedding [T, 5] -> out [T, 3]. */
export function tokensToOutGraph(model: ModelInfo): Graph {
  const b = new GraphBuilder("tiny", model);
  b.dim("T", 4);
  const x = b.node("Gather", "embed", [b.constant("table", randomF32(11 * 5, 1), [11, 5]), b.input("tokens", "i32", ["T"])]);
  b.output(b.node("Linear", "out", [x, b.constant("w", randomF32(3 * 5, 2), [3, 5])]));
  return b.finish();
}
