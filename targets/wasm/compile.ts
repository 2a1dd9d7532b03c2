/**
 * Compiles an emitted program with the kernel library: AssemblyScript (in process) to wasm,
 * then Binaryen: keep only the model's API, optimize, validate.
 */
import { readFile, readdir } from "node:fs/promises";
import { packageFile } from "../../compiler/util/paths.js";
import { SeecError } from "../../runtime/errors.js";
import { appendDataSegments, type DataBlock } from "./data-segments.js";

const KERNELS_DIR = packageFile("targets/wasm/kernels/");
const ASCONFIG = packageFile("asconfig.json");

type BinaryenFeature =
  "Atomics" | "SIMD128" | "RelaxedSIMD" | "BulkMemory" | "BulkMemoryOpt" | "SignExt" | "MutableGlobals" | "NontrappingFPToInt";

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
  "wasm-relaxed": {
    enable: ["simd", "relaxed-simd", "bulk-memory"],
    features: ["SIMD128", "RelaxedSIMD", ...BASE_FEATURES],
    overrides: "kernels-relaxed",
  },
  wasm: { enable: ["bulk-memory"], features: BASE_FEATURES, overrides: "kernels-scalar" },
} satisfies Record<string, Flavour>;

export type FlavourName = keyof typeof FLAVOURS;

export interface CompileInput {
  program: string;
  flavour: FlavourName;
  /** Initial memory in 64 KiB pages. */
  pages: number;
  /** Declare the maximum equal to the initial size: the module can never grow its memory. */
  fixedMemory?: boolean;
  /**
   * A module for threads (kernels/threads.ts): its memory imported as env.memory, shared, of
   * exactly `pages` (the host makes it and gives the same one to each thread's instance).
   */
  threads?: boolean;
  /** Bytes placed in linear memory by the module's own data segments (e.g. embedded weights). */
  data?: DataBlock[];
  /** Library files beside kernels/ that the program imports (e.g. "drivers/wasi.ts"); what they import comes along. */
  libraries?: string[];
  /** AssemblyScript's abort(), as "file/function", instead of the env.abort import. */
  abort?: string;
  /** Exports to keep; everything else (kernels exported by their modules) is dropped. */
  exports: string[];
  /**
   * Where AssemblyScript may put its static data (and, above it, its heap): below the program's
   * first address by default; `from` > 0 moves it there (memoryBase).
   */
  staticData: { from: number; to: number };
}

/**
 * The kernel library for a flavour: kernels/, with the flavour's overrides in place of their
 * namesakes; threads.ts (atomics, which only a module for threads may use) only for one.
 */
export async function kernelSources(flavour: Flavour, threads = false): Promise<Record<string, string>> {
  const sources: Record<string, string> = {};
  for (const dir of [KERNELS_DIR, ...(flavour.overrides ? [packageFile(`targets/wasm/${flavour.overrides}/`)] : [])])
    for (const f of (await readdir(dir)).filter((f) => f.endsWith(".ts") && (threads || f !== "threads.ts")).sort())
      sources[`kernels/${f}`] = await readFile(new URL(f, dir), "utf8");
  return sources;
}

export async function compileWasm(input: CompileInput): Promise<Uint8Array> {
  const flavour: Flavour = FLAVOURS[input.flavour];
  const { options } = JSON.parse(await readFile(ASCONFIG, "utf8"));
  const { default: asc } = await import("assemblyscript/asc");
  const libraries = await librarySources(input.libraries ?? []);
  const result = await asc.compileString(
    { "model.ts": input.program, ...(await kernelSources(flavour, input.threads)), ...libraries },
    {
      ...options,
      enable: input.threads ? [...flavour.enable, "threads"] : flavour.enable,
      initialMemory: input.pages,
      ...(input.fixedMemory || input.threads ? { maximumMemory: input.pages } : {}),
      ...(input.threads ? { importMemory: true, sharedMemory: true } : {}),
      memoryBase: input.staticData.from,
      ...(input.abort ? { use: [`abort=${input.abort}`] } : {}),
    },
  );
  if (result.error || !result.binary)
    throw new SeecError(
      "internal.asc",
      `AssemblyScript rejected the emitted program: ${result.stderr.toString().trim() || result.error?.message}`,
      {
        hint: "this is a bug in seec's wasm backend; please report it with the model",
      },
    );
  return optimize(result.binary, input.threads ? ["Atomics", ...flavour.features] : flavour.features, input);
}

/** Library files and, transitively, the files beside them that they import ("./name"). */
async function librarySources(files: string[]): Promise<Record<string, string>> {
  const sources: Record<string, string> = {};
  const pending = [...files];
  for (let file; (file = pending.pop());) {
    if (file in sources) continue;
    const text = (sources[file] = await readFile(packageFile(`targets/wasm/${file}`), "utf8"));
    const dir = file.slice(0, file.lastIndexOf("/") + 1);
    for (const [, name] of text.matchAll(/from "\.\/([\w-]+)"/g)) pending.push(`${dir}${name}.ts`);
  }
  return sources;
}

async function optimize(binary: Uint8Array, features: BinaryenFeature[], input: CompileInput): Promise<Uint8Array> {
  const { default: binaryen } = await import("binaryen");
  const mod = binaryen.readBinary(binary);
  try {
    mod.setFeatures(featureMask(binaryen, features));
    for (let i = mod.getNumExports() - 1; i >= 0; i--) {
      const name = binaryen.getExportInfo(mod.getExportByIndex(i)).name;
      if (!input.exports.includes(name) && name !== "memory") mod.removeExport(name);
    }
    checkStaticData(mod, input.staticData);
    binaryen.setOptimizeLevel(3);
    binaryen.setShrinkLevel(0);
    mod.optimize();
    mod.runPasses(["strip-debug", "strip-producers"]);
    if (!mod.validate()) throw new SeecError("internal.binaryen", "Binaryen could not validate the optimized module");
    return appendDataSegments(mod.emitBinary(), input.data ?? []);
  } finally {
    mod.dispose();
  }
}

type Binaryen = typeof import("binaryen").default;

/** Binaryen's feature bits for a flavour's feature list. */
export function featureMask(binaryen: Binaryen, features: readonly BinaryenFeature[]): number {
  return features.reduce((set, f) => set | binaryen.Features[f], binaryen.Features.MVP);
}

/** AssemblyScript's static data must stay where the layout reserved it. */
function checkStaticData(mod: InstanceType<Binaryen["Module"]>, { from, to }: CompileInput["staticData"]): void {
  // binaryen.js has these three; its typings name older ones.
  const data = mod as unknown as {
    getNumDataSegments(): number;
    getDataSegmentByIndex(i: number): number;
    getDataSegmentInfo(ref: number): { offset: number; data: ArrayBuffer };
  };
  for (let i = 0; i < data.getNumDataSegments(); i++) {
    const s = data.getDataSegmentInfo(data.getDataSegmentByIndex(i));
    if (s.offset < from || s.offset + s.data.byteLength > to)
      throw new SeecError(
        "internal.layout",
        `AssemblyScript's static data lies at bytes ${s.offset}..${s.offset + s.data.byteLength}, outside the ${from}..${to} reserved for it`,
      );
  }
}
