/**
 * Entry points a standalone module exports beside forward()/init(): the greedy `step` API for
 * hosts that drive the model themselves (mcu firmware, wasm-interp), and WASI's `_start`, which
 * runs the whole of `seec run` inside the module (targets/wasm/drivers/).
 */
import type { Graph } from "../../compiler/ir/graph.js";
import { SeecError } from "../../runtime/errors.js";
import type { CallContext } from "./bindings.js";

export type EntryKind = "step" | "wasi";

export interface EntrySection {
  imports: string[];
  source: string[];
  exports: string[];
  /** Library files (under targets/wasm/) the section imports. */
  libraries: string[];
  /** AssemblyScript's abort() replacement ("file/function"), for sections that allocate. */
  abort?: string;
}

export interface EntryInput {
  kind: EntryKind;
  graph: Graph;
  ctx: CallContext;
  hasInit: boolean;
  /** Address of the tokenizer table (wasi). */
  tokenizer?: number;
}

export function entrySection({ kind, graph, ctx, hasInit, tokenizer }: EntryInput): EntrySection {
  const decoder = graph.model.family === "decoder" && graph.inputs.includes("tokens") && graph.inputs.includes("pos") && graph.outputs.includes("logits");
  if (!decoder) {
    if (kind === "wasi")
      throw new SeecError("unsupported.target", `the wasi target runs decoders; ${graph.name} is an ${graph.model.family}`, {
        at: "--target wasi",
        hint: "build encoders for wasm-simd, wasm or mcu (which export forward())",
      });
    return { imports: [], source: [], exports: [] , libraries: [] };
  }
  const vocab = ctx.shape("logits").at(-1);
  const step = [
    `/** Feeds \`token\` at position \`pos\` and returns the most likely next token: one call per greedy step. */`,
    `export function step(token: i32, pos: i32): i32 {`,
    `  store<i32>(${ctx.addr("tokens")}, token);`,
    `  store<i32>(${ctx.addr("pos")}, pos);`,
    `  forward(1);`,
    `  return argmax(${ctx.addr("logits")}, ${vocab});`,
    `}`,
    ``,
  ];
  if (kind === "step") return { imports: [`import { argmax } from "./kernels/indexing";`], source: step, exports: ["step"], libraries: [] };
  const T = graph.dims.T?.max ?? 1;
  return {
    imports: [`import { argmax } from "./kernels/indexing";`, `import { DecoderModel, runDecoder } from "./drivers/decoder";`],
    source: [
      ...step,
      `/** WASI's entry point: takes seec run's flags and prints the prompt and its continuation. */`,
      `export function _start(): void {`,
      ...(hasInit ? [`  init();`] : []),
      `  const model = new DecoderModel();`,
      `  model.tokens = ${ctx.addr("tokens")};`,
      `  model.pos = ${ctx.addr("pos")};`,
      `  model.logits = ${ctx.addr("logits")};`,
      `  model.vocab = ${vocab};`,
      `  model.context = ${graph.model.config.contextLength};`,
      `  model.chunk = ${T};`,
      `  model.tokenizer = ${tokenizer};`,
      `  runDecoder(model, forward);`,
      `}`,
      ``,
    ],
    exports: ["step", "_start"],
    libraries: ["drivers/decoder.ts", "drivers/bpe.ts", "drivers/numbers.ts", "drivers/sampler.ts", "drivers/wasi.ts"],
    abort: "drivers/wasi/abortProgram",
  };
}
