/**
 * The WebGPU backend: the planned graph as a WGSL program (model.webgpu.json, run where an
 * adapter exists) beside the wasm backend's modules, which the runtime falls back to.
 */
import type { Node } from "../../compiler/ir/graph.js";
import type { Backend } from "../common/backend.js";
import { wasmBackend, type WasmOptions } from "../wasm/backend.js";
import { GENERATORS } from "./kernels.js";
import { webgpuProgram } from "./program.js";

/** A webgpu target's options: the fallback modules, as the wasm backend takes them. */
export interface WebgpuOptions {
  fallback: WasmOptions;
}

export const webgpuBackend: Backend<WebgpuOptions> = {
  name: "WebGPU",
  supports: (node: Node) => wasmBackend.supports(node) && node.op in GENERATORS,
  async compile(planned, target, context) {
    const fallback = await wasmBackend.compile(planned, { name: target.name, options: target.options.fallback }, context);
    const program = await context.stage("emit WGSL", () => webgpuProgram(planned));
    fallback.files.set("model.webgpu.json", JSON.stringify(program));
    return { ...fallback, manifest: { ...fallback.manifest, webgpu: { file: "model.webgpu.json" } } };
  },
};
