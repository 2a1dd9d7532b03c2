/**
 * Compiles an emitted program with the kernel library: AssemblyScript (in process) to wasm,
 * then Binaryen: keep only the model's API, optimize, validate.
 */
import { readFile, readdir } from "node:fs/promises";
import { packageFile } from "../../compiler/paths.js";
import { SeecError } from "../../runtime/errors.js";

const KERNELS_DIR = packageFile("targets/wasm/kernels/");
const ASCONFIG = packageFile("asconfig.json");

type BinaryenFeature = "SIMD128" | "RelaxedSIMD" | "BulkMemory" | "BulkMemoryOpt" | "SignExt" | "MutableGlobals" | "NontrappingFPToInt";

export interface Flavour {
  /** AssemblyScript feature names. */
  enable: string[];
  /** The features the module may use, for Binaryen (which refuses anything else). */
  features: BinaryenFeature[];
  /** A directory beside kernels/ whose files replace kernels/ files of the same name. */
  overrides?: string;
}

const BASE_FEATURES: BinaryenFeature[] = ["BulkMemory", "BulkMemoryOpt", "SignExt", "MutableGlobals", "NontrappingFPToInt"];

export const FLAVOURS = {
  "wasm-simd": { enable: ["simd", "bulk-memory"], features: ["SIMD128", ...BASE_FEATURES] },
  "wasm-relaxed": { enable: ["simd", "relaxed-simd", "bulk-memory"], features: ["SIMD128", "RelaxedSIMD", ...BASE_FEATURES], overrides: "kernels-relaxed" },
  wasm: { enable: ["bulk-memory"], features: BASE_FEATURES, overrides: "kernels-scalar" },
} satisfies Record<string, Flavour>;

/**
 * The modules an artifact for a target carries, in the order the runtime tries them: a target
 * that not every engine runs brings the portable module as its fallback.
 */
export const MODULES: Record<WasmTarget, { backend: WasmTarget; file: string }[]> = {
  "wasm-simd": [{ backend: "wasm-simd", file: "model.wasm" }],
  "wasm-relaxed": [{ backend: "wasm-relaxed", file: "model.relaxed.wasm" }, { backend: "wasm-simd", file: "model.wasm" }],
  wasm: [{ backend: "wasm", file: "model.wasm" }],
};

export type WasmTarget = keyof typeof FLAVOURS;

export interface CompileInput {
  program: string;
  target: WasmTarget;
  /** Initial memory in 64 KiB pages. */
  pages: number;
  /** Exports to keep; everything else (kernels exported by their modules) is dropped. */
  exports: string[];
}

/** The kernel library for a flavour: kernels/, with the flavour's overrides in place of their namesakes. */
export async function kernelSources(flavour: Flavour): Promise<Record<string, string>> {
  const sources: Record<string, string> = {};
  for (const dir of [KERNELS_DIR, ...(flavour.overrides ? [packageFile(`targets/wasm/${flavour.overrides}/`)] : [])])
    for (const f of (await readdir(dir)).filter((f) => f.endsWith(".ts")).sort()) sources[`kernels/${f}`] = await readFile(new URL(f, dir), "utf8");
  return sources;
}

export async function compileWasm({ program, target, pages, exports }: CompileInput): Promise<Uint8Array> {
  const flavour: Flavour = FLAVOURS[target];
  const { options } = JSON.parse(await readFile(ASCONFIG, "utf8"));
  const { default: asc } = await import("assemblyscript/asc");
  const result = await asc.compileString(
    { "model.ts": program, ...(await kernelSources(flavour)) },
    { ...options, enable: flavour.enable, initialMemory: pages },
  );
  if (result.error || !result.binary)
    throw new SeecError("internal.asc", `AssemblyScript rejected the emitted program: ${result.stderr.toString().trim() || result.error?.message}`, {
      hint: "this is a bug in seec's wasm backend; please report it with the model",
    });
  return optimize(result.binary, flavour.features, exports);
}

async function optimize(binary: Uint8Array, features: BinaryenFeature[], keep: string[]): Promise<Uint8Array> {
  const { default: binaryen } = await import("binaryen");
  const mod = binaryen.readBinary(binary);
  try {
    mod.setFeatures(features.reduce((set, f) => set | binaryen.Features[f], binaryen.Features.MVP));
    for (let i = mod.getNumExports() - 1; i >= 0; i--) {
      const name = binaryen.getExportInfo(mod.getExportByIndex(i)).name;
      if (!keep.includes(name) && name !== "memory") mod.removeExport(name);
    }
    binaryen.setOptimizeLevel(3);
    binaryen.setShrinkLevel(0);
    mod.optimize();
    mod.runPasses(["strip-debug", "strip-producers"]);
    if (!mod.validate()) throw new SeecError("internal.binaryen", "Binaryen could not validate the optimized module");
    return mod.emitBinary();
  } finally {
    mod.dispose();
  }
}
