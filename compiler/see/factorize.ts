/** `seec factorize`: a model's token embedding -> SEE factors, with a report of how good they are. */
import { SeecError } from "../../runtime/errors.js";
import { createTokenizer, plainIds, vocabularyPieces } from "../../runtime/tokenizers/index.js";
import { readTextInput, type LoadedModel } from "../frontends/load.js";
import { bindAttrs } from "../ir/affine.js";
import { graphIndex, type Attrs, type Graph } from "../ir/graph.js";
import { decompose, type Decomposition, type Method } from "./decompose.js";
import { denseTable, parameterCount, shippedBytes, type SeeFactors } from "../factors/factors.js";
import { DEFAULT_FIT, fitFactors, initialiseTables } from "./fit.js";
import { fidelity, type Fidelity } from "./metrics.js";
import { FileSememes, WordNetSememes, type SememeSource } from "./sememes.js";
import { fitProductQuantizer } from "./pq.js";
import { fitSvd } from "./svd.js";
import { WordNet } from "./wordnet.js";

export interface FactorizeOptions {
  method: Method;
  ratio: number;
  rank?: number;
  seed: number;
  segmentation: "lexicon" | "random";
  /** see-xs and word2ketxs: digit slots (word2ketXS's tensor order), 2 unless given. */
  order?: number;
  /** A `word<TAB>sememe ...` file; WordNet-derived sememes otherwise. */
  sememesFile?: string;
  /** A text file whose token frequencies weight the fit. */
  frequencies?: string;
  epochs?: number;
  /** false: the structure and each token's knowledge only, the tables left at zero (--explain). */
  fit?: boolean;
  onEpoch?: (epoch: number, epochs: number, loss: number) => void;
}

export interface FactorizeReport {
  method: Method;
  vocab: number;
  dim: number;
  rank: number;
  sources: Record<string, { rows: number; q: number }>;
  denseParameters: number;
  parameters: number;
  ratioByParameters: number;
  denseBytes: number;
  shippedBytes: number;
  ratioByBytes: number;
  fidelity: Fidelity;
  loss: number[];
  seconds: number;
}

/** The embedding table: the table of the Gather that reads the token ids (a graph input, perhaps reshaped first). */
export function findEmbedding(graph: Graph): { name: string; vocab: number; dim: number; data: Float32Array } {
  const { producer } = graphIndex(graph);
  // A symbolic dimension (the token count of a call) bound at its maximum: a reshape is one at every length.
  const dims = Object.fromEntries(Object.entries(graph.dims).map(([d, { max }]) => [d, max]));
  const fromInput = (t: string): boolean => {
    if (graph.inputs.includes(t)) return true;
    const n = producer.get(t);
    return !!n && n.op === "Copy" && isReshape(bindAttrs(n.attrs, dims)) && fromInput(n.inputs[0]);
  };
  const gather = graph.nodes.find((n) => n.op === "Gather" && fromInput(n.inputs[1]) && graph.values.get(n.inputs[0])?.kind === "const");
  if (!gather)
    throw new SeecError("unsupported.no_embedding", "no token embedding found: no Gather reads the token ids from a constant table", {
      file: graph.name,
    });
  const table = graph.values.get(gather.inputs[0])!;
  return { name: table.name, vocab: table.shape[0] as number, dim: table.shape[1] as number, data: table.data as Float32Array };
}

export async function factorize(
  model: LoadedModel,
  opts: FactorizeOptions,
): Promise<{ factors: SeeFactors; decomposition: Decomposition; report: FactorizeReport }> {
  const t0 = performance.now();
  const emb = findEmbedding(model.graph);
  const bad = emb.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0)
    throw new SeecError(
      "input.embedding",
      `the token embedding ${emb.name} holds ${emb.data[bad]} at row ${Math.floor(bad / emb.dim)}, column ${bad % emb.dim}: factors cannot be fitted to it`,
      { file: model.graph.name, hint: "factorize a model whose embedding is finite" },
    );
  // An imported graph may come without its tokenizer: its pieces are then unknown, and knowledge adds nothing.
  if (!model.tokenizer && model.format !== "onnx")
    throw new SeecError("usage.tokenizer", "factorize needs the model's tokenizer for its vocabulary", { at: "--tokenizer" });
  const pieces = model.tokenizer ? vocabularyPieces(model.tokenizer, emb.vocab) : Array.from({ length: emb.vocab }, (_, i) => `<id:${i}>`);

  // WordNet is read only by the methods that use knowledge (svd and word2ketxs do not).
  let wn: WordNet | undefined;
  const wordnet = () => (wn ??= WordNet.open());
  try {
    const sememes: SememeSource | undefined =
      opts.method !== "see" && opts.method !== "see-xs"
        ? undefined
        : opts.sememesFile
          ? new FileSememes(opts.sememesFile, await readTextInput(opts.sememesFile, "sememes file"))
          : new WordNetSememes(wordnet());
    const decomposition = decompose(pieces, emb.dim, emb.name, { ...opts, isWord: (w) => wordnet().has(w), sememes });
    const f = decomposition.factors;
    const loss = opts.fit === false ? [] : await fitTables(f, emb.data, model, opts);
    const dense = emb.vocab * emb.dim;
    const report: FactorizeReport = {
      method: opts.method,
      vocab: emb.vocab,
      dim: emb.dim,
      rank: f.spec.rank,
      sources: Object.fromEntries(Object.entries(f.spec.sources).map(([k, s]) => [k, { rows: s.rows, q: s.q }])),
      denseParameters: dense,
      parameters: parameterCount(f.spec),
      ratioByParameters: dense / parameterCount(f.spec),
      denseBytes: dense * 4,
      shippedBytes: shippedBytes(f),
      ratioByBytes: (dense * 4) / shippedBytes(f),
      fidelity: fidelity(denseTable(f), emb.data, emb.vocab, emb.dim, 500, opts.seed),
      loss,
      seconds: (performance.now() - t0) / 1000,
    };
    return { factors: f, decomposition, report };
  } finally {
    wn?.close();
  }
}

/** Fills the tables (and pq's codes) to rebuild E: exactly (svd), by k-means (pq) or by gradient descent; the loss curve of the last. */
async function fitTables(f: SeeFactors, E: Float32Array, model: LoadedModel, opts: FactorizeOptions): Promise<number[]> {
  if (opts.method === "svd") {
    fitSvd(f, E);
    return [];
  }
  if (opts.method === "pq") {
    fitProductQuantizer(f, E, opts.seed);
    return [];
  }
  initialiseTables(f, E, opts.seed);
  const epochs = opts.epochs ?? DEFAULT_FIT.epochs;
  const tokenWeights = opts.frequencies && model.tokenizer ? await frequencyWeights(model, opts.frequencies) : undefined;
  return fitFactors(f, E, { ...DEFAULT_FIT, epochs, seed: opts.seed, tokenWeights, onEpoch: (e, l) => opts.onEpoch?.(e, epochs, l) });
}

/** Per token, sqrt(1 + its count in a corpus of blank-line paragraphs), normalised to mean 1. */
export async function frequencyWeights(model: LoadedModel, file: string): Promise<Float32Array> {
  const tok = createTokenizer(model.tokenizer!);
  const counts = new Float32Array(findEmbedding(model.graph).vocab);
  for (const para of (await readTextInput(file, "frequencies text")).split(/\n\s*\n/))
    for (const id of plainIds(tok, para.trim())) counts[id]++;
  const w = counts.map((c) => Math.sqrt(1 + c));
  const mean = w.reduce((a, b) => a + b, 0) / w.length;
  return w.map((x) => x / mean);
}

/** A Copy's attributes that only reshape: contiguous strides from offset 0. */
function isReshape(attrs: Attrs): boolean {
  const shape = attrs.shape as number[],
    strides = attrs.strides as number[];
  return attrs.offset === 0 && strides.every((s, i) => s === shape.slice(i + 1).reduce((a, b) => a * b, 1));
}
