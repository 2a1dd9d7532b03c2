/**
 * The targets `seec build --target` knows, all compiled by the wasm backend: which modules an
 * artifact carries (each built with one flavour of the kernel library) and how the module is
 * packaged for its host.
 */
import type { FlavourName } from "./compile.js";

export interface ModuleSpec {
  /** What `model.backend` reports when this module runs. */
  backend: string;
  file: string;
  flavour: FlavourName;
}

export interface TargetSpec {
  summary: string;
  /** In the order the runtime tries them: the first that WebAssembly.validate accepts runs. */
  modules: ModuleSpec[];
  /** Weights live in the module's data segment: one self-contained file, no weights.bin. */
  embedWeights?: boolean;
  /** Memory is declared with initial = maximum pages and the module never grows it. */
  fixedMemory?: boolean;
  /** Exports beyond forward/init: the greedy `step` API (mcu, wasi) and WASI's `_start`. */
  entry?: "step" | "wasi";
  /** Also carries model.webgpu.json, run on WebGPU where an adapter exists (the modules are the fallback). */
  webgpu?: boolean;
  /**
   * A microcontroller's policy: the SEE head is streamed (no vocab × dim table in RAM), prompts
   * are taken this many tokens per call by default (activations shrink to that many rows), and the
   * build prints the whole memory plan.
   */
  constrained?: { maxChunk: number };
}

const SPECS = {
  "wasm-simd": {
    summary: "browsers and Node: SIMD128 kernels",
    modules: [{ backend: "wasm-simd", file: "model.wasm", flavour: "wasm-simd" }],
  },
  "wasm-relaxed": {
    summary: "relaxed-SIMD fused multiply-add, with the SIMD128 module as fallback",
    modules: [
      { backend: "wasm-relaxed", file: "model.relaxed.wasm", flavour: "wasm-relaxed" },
      { backend: "wasm-simd", file: "model.wasm", flavour: "wasm-simd" },
    ],
  },
  wasm: {
    summary: "scalar kernels only, for engines without SIMD",
    modules: [{ backend: "wasm", file: "model.wasm", flavour: "wasm" }],
  },
  wasi: {
    summary: "a standalone WASI preview1 program: _start takes seec run's flags and prints the result",
    modules: [{ backend: "wasi", file: "model.wasm", flavour: "wasm-simd" }],
    embedWeights: true,
    // node:wasi keeps the memory it saw at start: a program that grew it would have node use freed memory.
    fixedMemory: true,
    entry: "wasi",
  },
  webgpu: {
    summary: "WebGPU where an adapter exists (WGSL kernels), with the SIMD128 module as fallback",
    modules: [{ backend: "wasm-simd", file: "model.wasm", flavour: "wasm-simd" }],
    webgpu: true,
  },
  mcu: {
    summary: "microcontrollers: scalar kernels, fixed memory, no imports, weights in the data segment",
    modules: [{ backend: "mcu", file: "model.wasm", flavour: "wasm" }],
    embedWeights: true,
    fixedMemory: true,
    entry: "step",
    // One token per call: a microcontroller decodes token by token.
    constrained: { maxChunk: 1 },
  },
} satisfies Record<string, TargetSpec>;

export type TargetName = keyof typeof SPECS;
export const TARGETS: Record<TargetName, TargetSpec> = SPECS;
export const TARGET_NAMES = Object.keys(TARGETS) as TargetName[];
