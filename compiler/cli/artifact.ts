/** Loading an artifact through its own bundled runtime, so commands exercise exactly what ships. */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { SeecError } from "../../runtime/errors.js";
import type { GpuModel } from "../../runtime/gpu-model.js";
import type { Model } from "../../runtime/model.js";

type ArtifactModule = typeof import("../../runtime/index.js");

/** The artifact on wasm (what every command can drive). */
export async function loadArtifact(dir: string): Promise<Model>;
/** With webgpu: a webgpu artifact on WebGPU where there is an adapter (asynchronous API). */
export async function loadArtifact(dir: string, options: { webgpu: true }): Promise<Model | GpuModel>;
export async function loadArtifact(dir: string, options: { webgpu?: boolean } = {}): Promise<Model | GpuModel> {
  let mod: ArtifactModule;
  try {
    mod = (await import(pathToFileURL(resolve(dir, "index.mjs")).href)) as ArtifactModule;
  } catch (e) {
    throw new SeecError("io.read", `cannot load the artifact's runtime: ${(e as Error).message}`, { file: dir, hint: "is this a directory written by seec build?" });
  }
  return mod.load(resolve(dir), { webgpu: options.webgpu === true });
}
