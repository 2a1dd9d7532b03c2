/** Compiles an IR graph through the real pipeline into a temporary artifact and loads it with the runtime. */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeArtifact } from "../../compiler/artifact.js";
import { compileArtifact } from "../../compiler/build.js";
import type { Graph } from "../../compiler/ir/graph.js";
import type { TargetName } from "../../targets/registry.js";
import { load } from "../../runtime/index.js";
import type { Model } from "../../runtime/model.js";

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
