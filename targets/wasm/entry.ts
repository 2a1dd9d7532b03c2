/**
 * Entry points a standalone module exports beside forward()/init(): the greedy `step` API for
 * hosts that drive the model themselves (mcu firmware, wasm-interp), and WASI's `_start`, which
 * runs the whole of `seec run` inside the module (targets/wasm/drivers/).
 */
import type { Graph } from "../../compiler/ir/graph.js";
import { SeecError } from "../../runtime/errors.js";
import type { CallContext } from "./binding.js";

export type EntryKind = "step" | "wasi";

export interface EntrySection {
  imports: string[];
  source: string[];
  exports: string[];
  /** Library files (under targets/wasm/) the section imports; their own imports come along. */
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
  /** The WASI program's working memory (wasi). */
  working?: { address: number; bytes: number };
}

/**
 * Working memory a WASI program reserves: the tokenizer's hash table and per-token arrays
 * (at most 32 bytes per vocabulary entry), and 1 MiB for arguments, scratch and embeddings.
 */
export function workingMemoryBytes(vocabSize: number): number {
  return 1024 * 1024 + 32 * vocabSize;
}

export function entrySection({ kind, graph, ctx, hasInit, tokenizer, working }: EntryInput): EntrySection {
  const decoder =
    graph.model.family === "decoder" && graph.inputs.includes("tokens") && graph.inputs.includes("pos") && graph.outputs.includes("logits");
  if (!decoder)
    return kind === "wasi"
      ? encoderStart(graph, ctx, hasInit, tokenizer, working)
      : { imports: [], source: [], exports: [], libraries: [] };
  const vocab = ctx.shape("logits").at(-1);
  const step = [
    `/** Feeds \`token\` at position \`pos\` and returns the most likely next token: one call per greedy step. */`,
    `export function step(token: i32, pos: i32): i32 {`,
    `  store<i32>(${ctx.addr("tokens")}, token);`,
    `  store<i32>(${ctx.addr("pos")}, pos);`,
    // One token: forward()'s T where the graph's token count is symbolic (a graph fixed at one takes none).
    `  forward(${graph.dims.T ? 1 : ""});`,
    `  return argmax(${ctx.addr("logits")}, ${vocab});`,
    `}`,
    ``,
  ];
  if (kind === "step") return { imports: [`import { argmax } from "./kernels/indexing";`], source: step, exports: ["step"], libraries: [] };
  const T = graph.dims.T?.max ?? 1;
  return {
    imports: [
      `import { argmax } from "./kernels/indexing";`,
      `import { DecoderModel, runDecoder } from "./drivers/decoder";`,
      `import { useMemory } from "./drivers/wasi";`,
    ],
    source: [
      ...step,
      `/** WASI's entry point: takes seec run's flags and prints the prompt and its continuation. */`,
      `export function _start(): void {`,
      useMemory(working),
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
    libraries: ["drivers/decoder.ts", "drivers/wasi.ts"],
    abort: "drivers/wasi/abortProgram",
  };
}

/** WASI's `_start` for an encoder: --text flags in, the similarity table out (drivers/encoder.ts). */
function encoderStart(
  graph: Graph,
  ctx: CallContext,
  hasInit: boolean,
  tokenizer: number | undefined,
  working: EntryInput["working"],
): EntrySection {
  const output = graph.outputs[0];
  const shape = ctx.shape(output);
  // One text a call (tokens in, one vector out), or several packed (compiler/passes/pack-texts.ts):
  // their token counts in lengths, a vector per text out.
  const batch = graph.model.batch;
  const inputs = batch ? ["tokens", "lengths"] : ["tokens"];
  const encoder =
    graph.model.family === "encoder" &&
    graph.inputs.join() === inputs.join() &&
    shape.slice(batch ? 1 : 0).every((d) => typeof d === "number");
  if (!encoder || tokenizer === undefined)
    throw new SeecError(
      "unsupported.target",
      `the wasi target runs decoders (tokens and pos in, logits out) and encoders (tokens in, one vector out) with their tokenizer; ${graph.name} is neither`,
      {
        at: "--target wasi",
        hint: "build it for wasm-simd, wasm or mcu, which export forward()",
      },
    );
  return {
    imports: [`import { EncoderModel, runEncoder } from "./drivers/encoder";`, `import { useMemory } from "./drivers/wasi";`],
    source: [
      ...(batch
        ? []
        : [
            `/** forward() as the driver calls it, with the call's texts: one here. */`,
            `function forwardText(T: i32, B: i32): void {`,
            `  forward(T);`,
            `}`,
            ``,
          ]),
      `/** WASI's entry point: takes seec run's --text flags and prints every text and their similarities. */`,
      `export function _start(): void {`,
      useMemory(working),
      ...(hasInit ? [`  init();`] : []),
      `  const model = new EncoderModel();`,
      `  model.tokens = ${ctx.addr("tokens")};`,
      `  model.output = ${ctx.addr(output)};`,
      `  model.dim = ${(shape.slice(batch ? 1 : 0) as number[]).reduce((a, b) => a * b, 1)};`,
      `  model.maxLength = ${graph.model.config.maxLength};`,
      `  model.tokenizer = ${tokenizer};`,
      ...(batch
        ? [`  model.lengths = ${ctx.addr("lengths")};`, `  model.maxTexts = ${batch.texts};`, `  model.maxTokens = ${batch.tokens};`]
        : [`  model.maxTokens = ${graph.model.config.maxLength};`]),
      `  runEncoder(model, ${batch ? "forward" : "forwardText"});`,
      `}`,
      ``,
    ],
    exports: ["_start"],
    libraries: ["drivers/encoder.ts", "drivers/wasi.ts"],
    abort: "drivers/wasi/abortProgram",
  };
}

function useMemory(working: EntryInput["working"]): string {
  if (!working) throw new SeecError("internal.layout", "a WASI program needs working memory in its layout");
  return `  useMemory(${working.address}, ${working.bytes});`;
}
