/**
 * The targets `seec build --target` knows, as data: which backend compiles each (and with what
 * options), which passes run before it, what it sets by default, and what it requires or refuses.
 * The driver (compiler/build.ts) and the command (compiler/cli/build.ts) read this table and name
 * no target themselves.
 */
import type { PassName } from "../compiler/passes/index.js";
import type { HeadStrategy } from "../compiler/passes/see.js";
import { SeecError, type ErrorCode } from "../runtime/errors.js";
import type { Backend } from "./common/backend.js";
import { wasmBackend, type WasmOptions } from "./wasm/backend.js";
import { webgpuBackend, type WebgpuOptions } from "./webgpu/backend.js";

/** A refusal as data: `{target}` and `{model}` in its message, at and hint are filled in when it is raised. */
export interface Refusal {
  code: ErrorCode;
  message: string;
  at: string;
  hint: string;
}

export interface TargetPolicy {
  summary: string;
  /** The passes (compiler/passes/index.ts) run, in this order, after the frontend and the ones the user asks for (--see, --quantize). */
  passes: readonly PassName[];
  /** Build options this target sets where the user gave none. */
  defaults?: { embedHead?: HeadStrategy; maxChunk?: number };
  refuses?: {
    /** --embed-head with this value. */
    embedHead?: Refusal & { value: HeadStrategy };
    /** --quantize with this value (before anything is read). */
    quantize?: Refusal & { value: "q4" };
    /** --stsb or --nll: scoring the artifact (before anything is read). */
    measure?: Refusal;
    /** A Hugging Face tokenizer.json (when it is read). */
    hfTokenizer?: Refusal;
  };
  requires?: {
    /** A tokenizer (once the model is read). */
    tokenizer?: Refusal;
  };
  /** The artifact carries the JavaScript runtime (index.mjs, index.d.mts); a WASI program brings its own. */
  runtime: boolean;
  /** `seec build` prints the whole memory plan, as it does for any target given --memory-budget. */
  printsMemoryPlan?: boolean;
  /** `seec build --threads n` adds modules that split the matmuls across threads (the SIMD modules of browsers and Node). */
  threads?: boolean;
}

export interface TargetSpec<Options = unknown> extends TargetPolicy {
  backend: Backend<Options>;
  options: Options;
}

/**
 * The SIMD kernels read weights in their own order; the scalar kernels and WGSL as written. The
 * SIMD modules embed several texts a call (packTexts: its per-text means use the kernel scratch,
 * which only they have); the scalar, WGSL and microcontroller ones one text a call.
 */
const SIMD_PASSES: readonly PassName[] = ["composeCopies", "poolEarly", "packTexts", "fuseEpilogues", "layoutWeights"];
const PASSES: readonly PassName[] = ["composeCopies", "poolEarly", "fuseEpilogues"];

const TOKENIZES_INSIDE: Refusal = {
  code: "unsupported.target",
  message:
    "the {target} target tokenizes inside the module, with llama2.c or SentencePiece tables; a Hugging Face tokenizer.json runs only in the JavaScript runtime",
  at: "--target {target}",
  hint: "build for wasm-simd, wasm-relaxed, wasm or webgpu",
};

const onWasm = (spec: TargetPolicy & { options: WasmOptions }): TargetSpec<WasmOptions> => ({ ...spec, backend: wasmBackend });
const onWebgpu = (spec: TargetPolicy & { options: WebgpuOptions }): TargetSpec<WebgpuOptions> => ({ ...spec, backend: webgpuBackend });

const SPECS = {
  "wasm-simd": onWasm({
    summary: "browsers and Node: SIMD128 kernels",
    passes: SIMD_PASSES,
    runtime: true,
    threads: true,
    options: { modules: [{ backend: "wasm-simd", file: "model.wasm", flavour: "wasm-simd" }] },
  }),
  "wasm-relaxed": onWasm({
    summary: "relaxed-SIMD fused multiply-add, with the SIMD128 module as fallback",
    passes: [...SIMD_PASSES, "rowSums"],
    runtime: true,
    threads: true,
    options: {
      modules: [
        { backend: "wasm-relaxed", file: "model.relaxed.wasm", flavour: "wasm-relaxed" },
        { backend: "wasm-simd", file: "model.wasm", flavour: "wasm-simd" },
      ],
    },
  }),
  wasm: onWasm({
    summary: "scalar kernels only, for engines without SIMD",
    passes: PASSES,
    runtime: true,
    options: { modules: [{ backend: "wasm", file: "model.wasm", flavour: "wasm" }] },
  }),
  wasi: onWasm({
    summary: "a standalone WASI program: _start takes seec run's flags and prints the result",
    passes: SIMD_PASSES,
    refuses: {
      measure: {
        code: "usage.eval_target",
        message: "a wasi program runs outside seec's JavaScript runtime, which does the scoring",
        at: "--target {target}",
        hint: "score a wasm-simd build of the same model: the same kernels",
      },
      hfTokenizer: TOKENIZES_INSIDE,
    },
    requires: {
      tokenizer: {
        code: "unsupported.target",
        message: "the {target} target tokenizes inside the module; {model} has no tokenizer",
        at: "--target {target}",
        hint: "give the tokenizer with --tokenizer",
      },
    },
    runtime: false,
    options: {
      modules: [{ backend: "wasi", file: "model.wasm", flavour: "wasm-simd" }],
      embedWeights: true,
      // node:wasi keeps the memory it saw at start: a program that grew it would have node use freed memory.
      fixedMemory: true,
      entry: "wasi",
    },
  }),
  webgpu: onWebgpu({
    summary: "WebGPU where an adapter exists (WGSL kernels), with the SIMD128 module as fallback",
    // WGSL reads weights as written, and the fallback module shares its weights.bin.
    passes: PASSES,
    refuses: {
      quantize: {
        value: "q4",
        code: "unsupported.quantize",
        message: "the {target} target has no kernel for 4-bit weights",
        at: "--quantize q4",
        hint: "build --quantize q4 for wasm-simd, wasm-relaxed, wasm, wasi or mcu, or --quantize int8 for {target}",
      },
    },
    runtime: true,
    options: { fallback: { modules: [{ backend: "wasm-simd", file: "model.wasm", flavour: "wasm-simd" }] } },
  }),
  mcu: onWasm({
    summary: "microcontrollers: scalar kernels, fixed memory, no imports, weights in the module",
    passes: PASSES,
    // The SEE head is streamed (no vocab × dim table in RAM); one token per call: a microcontroller
    // decodes token by token, so activations shrink to one row.
    defaults: { embedHead: "stream", maxChunk: 1 },
    refuses: {
      embedHead: {
        value: "materialize",
        code: "usage.embed_head",
        message: "the {target} target streams the SEE head (no vocab × dim table in RAM)",
        at: "--embed-head",
        hint: "drop --embed-head materialize",
      },
      hfTokenizer: TOKENIZES_INSIDE,
    },
    runtime: true,
    printsMemoryPlan: true,
    options: {
      modules: [{ backend: "mcu", file: "model.wasm", flavour: "wasm" }],
      embedWeights: true,
      fixedMemory: true,
      entry: "step",
    },
  }),
} satisfies Record<string, TargetSpec<WasmOptions> | TargetSpec<WebgpuOptions>>;

export type TargetName = keyof typeof SPECS;
export const TARGETS = SPECS;
export const TARGET_NAMES = Object.keys(TARGETS) as TargetName[];
/** What `seec build` builds for without --target. */
export const DEFAULT_TARGET: TargetName = "wasm-simd";

/** The target's entry, or usage.target naming the ones there are. */
export function targetSpec(name: string): TargetSpec {
  if (!Object.hasOwn(TARGETS, name))
    throw new SeecError("usage.target", `unknown target "${name}"`, { at: "--target", hint: `choose one of ${TARGET_NAMES.join(", ")}` });
  return TARGETS[name as TargetName];
}

/** The refusal as an error, its `{target}` and `{model}` filled in. */
export function refusal(r: Refusal, vars: { target: string; model?: string }, file?: string): SeecError {
  const fill = (s: string) => s.replaceAll("{target}", vars.target).replaceAll("{model}", vars.model ?? "the model");
  return new SeecError(r.code, fill(r.message), { ...(file !== undefined ? { file } : {}), at: fill(r.at), hint: fill(r.hint) });
}
