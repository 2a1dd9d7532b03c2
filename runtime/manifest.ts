/**
 * manifest.json: everything a runtime needs to drive an artifact, and what a person needs to
 * audit it. The types are defined once, in the typings every artifact ships (artifact.d.ts).
 */
export type { Manifest, TensorSpec } from "./artifact.js";
