/** Loading an artifact through its own bundled runtime, so commands exercise exactly what ships. */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { SeecError } from "../../runtime/errors.js";
import type { Model } from "../../runtime/model.js";

type ArtifactModule = typeof import("../../runtime/index.js");

export async function loadArtifact(dir: string): Promise<Model> {
  let mod: ArtifactModule;
  try {
    mod = (await import(pathToFileURL(resolve(dir, "index.mjs")).href)) as ArtifactModule;
  } catch (e) {
    throw new SeecError("io.read", `cannot load the artifact's runtime: ${(e as Error).message}`, { file: dir, hint: "is this a directory written by seec build?" });
  }
  return mod.load(resolve(dir));
}
