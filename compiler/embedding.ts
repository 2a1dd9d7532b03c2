/**
 * seec build --pooling / --normalize: an imported encoder (an ONNX graph with its Hugging Face
 * tokenizer.json) becomes one whose embed() gives a vector per text. Checked here, before any
 * compiling: the inputs are ones embed() can fill, the text length leaves room for the tokenizer's
 * special tokens, and an output is there to pool. The graph's family becomes "encoder".
 */
import { SeecError } from "../runtime/errors.js";
import { EMBEDDING_INPUTS } from "../runtime/pooling.js";
import { HfTokenizer } from "../runtime/tokenizers/hf/index.js";
import type { LoadedModel } from "./frontends/load.js";
import { formatShape, type EmbeddingInfo, type Graph } from "./ir/graph.js";

export type Pooling = EmbeddingInfo["pooling"];
export const POOLINGS: readonly Pooling[] = ["mean", "cls", "none"];

export function withPooling(model: LoadedModel, opts: { pooling?: Pooling; normalize?: boolean; tokenizer?: string }): Graph {
  const { graph } = model;
  const usage = (what: string, hint: string, at = "--pooling"): never => {
    throw new SeecError("usage.pooling", what, { at, hint });
  };
  if (opts.pooling === undefined)
    return usage("--normalize scales the vector --pooling makes", "add --pooling mean|cls|none", "--normalize");
  if (model.format !== "onnx")
    usage(
      `--pooling is for ONNX encoders; ${graph.name} is a ${model.format} model`,
      "drop --pooling (an encoder seec reads itself already embeds)",
    );
  if (model.tokenizer?.type !== "hf-tokenizer-json")
    throw new SeecError("usage.tokenizer", "embed() tokenizes texts: an ONNX encoder needs its tokenizer.json", {
      at: "--tokenizer",
      hint: "seec build model.onnx --tokenizer tokenizer.json --pooling mean",
    });

  const shapeOf = (name: string) => graph.values.get(name)!.shape;
  const ids =
    graph.inputs.find((n) => n === "input_ids") ?? usage(`${graph.name} has no input_ids input to feed a text's tokens`, inputsHint(graph));
  const idShape = shapeOf(ids);
  // A length fixed at build time, or T for any length up to its maximum (--shape input_ids=1x?128).
  const length = idShape[1];
  if (idShape.length !== 2 || idShape[0] !== 1 || (typeof length !== "number" && !graph.dims[length]))
    usage(
      `embed() runs one text a call: input_ids is ${formatShape(idShape)}`,
      "bind it with --shape input_ids=1x128 (1 text of up to 128 tokens)",
      "--shape",
    );
  for (const name of graph.inputs) {
    const v = graph.values.get(name)!;
    if (!EMBEDDING_INPUTS.includes(name) || v.dtype !== "i32" || v.shape.length !== 2 || v.shape[0] !== 1 || v.shape[1] !== length)
      usage(
        `embed() cannot fill input ${name} ${formatShape(v.shape)}: it fills ${EMBEDDING_INPUTS.join(", ")} of shape [1, ${length}]`,
        inputsHint(graph),
      );
  }
  if (!graph.inputs.includes("attention_mask"))
    usage(`${graph.name} has no attention_mask: embed() pads each text to ${length} tokens and must mask the padding`, inputsHint(graph));
  const specials = new HfTokenizer(model.tokenizer, opts.tokenizer).encode("").length;
  if ((typeof length === "number" ? length : graph.dims[length].max) <= specials)
    usage(
      `input_ids is ${formatShape(idShape)}: no room for a text beside the tokenizer's ${specials} special tokens`,
      "bind the most tokens a text may have with --shape input_ids=1x128",
      "--shape",
    );

  const outputs = graph.outputs.map((name) => ({ name, shape: shapeOf(name) }));
  const hidden = outputs.find((o) => o.shape.length === 3 && o.shape[0] === 1 && o.shape[1] === length);
  const pooled = outputs.find((o) => o.shape.length === 2 && o.shape[0] === 1);
  const listed = outputs.map((o) => `${o.name} ${formatShape(o.shape)}`).join(", ");
  const output =
    opts.pooling === "none"
      ? (pooled ??
        hidden ??
        usage(
          `${graph.name} has no output of shape [1, hidden] or [1, ${length}, hidden]; its outputs: ${listed}`,
          "export the model with its last hidden state or pooled output as an output",
        ))
      : (hidden ??
        usage(
          `--pooling ${opts.pooling} pools a last hidden state, and ${graph.name} has no output of shape [1, ${length}, hidden]; its outputs: ${listed}`,
          pooled
            ? `--pooling none takes the pooled output ${pooled.name} as it is`
            : "export the model with its last hidden state as an output",
        ));
  const embedding: EmbeddingInfo = { output: output.name, pooling: opts.pooling, normalize: opts.normalize === true };
  return {
    ...graph,
    model: {
      ...graph.model,
      family: "encoder",
      config: { ...graph.model.config, maxLength: typeof length === "number" ? length : graph.dims[length].max },
      embedding,
    },
  };
}

function inputsHint(graph: Graph): string {
  return `its inputs: ${graph.inputs.map((n) => `${n} ${formatShape(graph.values.get(n)!.shape)}`).join(", ")}`;
}
