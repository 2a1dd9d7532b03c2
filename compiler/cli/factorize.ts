import { Command, Option } from "commander";
import { SeecError } from "../../runtime/errors.js";
import { loadModel } from "../frontends/load.js";
import { METHODS, type Method } from "../see/decompose.js";
import { factorize, type FactorizeReport } from "../see/factorize.js";
import { writeSee } from "../factors/format.js";
import { checkFileOutput, writeFileAtomic } from "../output.js";
import { integer, modelOptions, printJson, real, refuseIdleOptions } from "./options.js";
import { formatBytes } from "../util/units.js";

interface FactorizeFlags {
  tokenizer?: string;
  ratio: number;
  rank?: number;
  method: Method;
  seed: number;
  segmentation: "lexicon" | "random";
  order?: number;
  sememes?: string;
  frequencies?: string;
  epochs?: number;
  explain?: string[];
  out?: string;
  json?: boolean;
}

export function factorizeCommand(): Command {
  return modelOptions(new Command("factorize"))
    .summary("compress a model's token embedding into SEE factors (.see)")
    .description(
      "Fit SEE factors to the model's token embedding: each token's morphemes (WordNet-checked affix split)\n" +
        "and sememes (WordNet categories and hypernyms, or --sememes FILE) index small tables whose\n" +
        "entangled (Kronecker) products rebuild the embedding. --method see-xs orders the vocabulary by\n" +
        "that knowledge (first sememe, then stem) and entangles two slots indexed by the digits of each\n" +
        "token's place, as word2ketXS does with the id: many more rank terms for the same parameters.\n" +
        "Baselines at the same parameter budget:\n" +
        "--method morphte (morphemes only), word2ketxs (digits of the token id), svd (truncated SVD),\n" +
        "pq (product quantization: each row cut into --rank blocks, dim/4 by default, each block one of\n" +
        "at most 256 codewords found by k-means; a byte per block and token ships beside the codewords).\n\n" +
        "Examples:\n" +
        "  seec factorize stories260K.bin --tokenizer tok512.bin --ratio 4 -o factors.see\n" +
        '  seec factorize stories260K.bin --tokenizer tok512.bin --explain "▁playing"',
    )
    .option("--ratio <r>", "compression by parameters: dense V·d ÷ factor parameters", real(1, 1e6), 20)
    .option(
      "--rank <r>",
      "rank terms (overrides --ratio; for pq, the blocks each row is cut into, while --ratio sets the codewords a block, at most 256)",
      integer(1, 4096),
    )
    .addOption(new Option("--method <m>", "how to factor").choices(METHODS).default("see"))
    .option("--order <n>", "see-xs, word2ketxs: digit slots entangled per rank term (word2ketXS's tensor order)", integer(2, 4), 2)
    .addOption(new Option("--segmentation <s>", "morpheme split (random: the ablation)").choices(["lexicon", "random"]).default("lexicon"))
    .option("--sememes <file>", "word<TAB>sememe sememe ... (e.g. an OpenHowNet export) instead of WordNet")
    .option("--frequencies <text>", "weight tokens by their frequency in this text file")
    .option("--epochs <n>", "fitting epochs (default 300)", integer(1, 1_000_000))
    .option("--seed <n>", "random seed (same seed, same factors)", integer(0), 0)
    .option("--explain <piece...>", "print what these vocabulary pieces were split into and their sememes, then stop")
    .option("-o, --out <file>", "write the factors here (.see)")
    .option("--json", "print the report (and explanations) as JSON")
    .action(
      async (
        modelPath: string,
        flags: FactorizeFlags & { maxChunk?: number; context?: number; shape?: Record<string, number[]> },
        cmd: Command,
      ) => {
        if (!flags.explain && flags.out === undefined)
          throw new SeecError("usage.out", "say where to write the factors", {
            at: "-o",
            hint: "add -o factors.see (or --explain to only look)",
          });
        refuseIdleOptions(cmd, (key) => idleFactorizeOption(key, flags));
        if (!flags.explain) await checkFileOutput(flags.out!, [modelPath, flags.tokenizer, flags.sememes, flags.frequencies]);
        const model = await loadModel({ model: modelPath, tokenizer: flags.tokenizer, shapes: flags.shape });
        if (!model.tokenizer && flags.frequencies)
          throw new SeecError("usage.tokenizer", `--frequencies counts the tokens of a text, and ${model.graph.name} has no tokenizer`, {
            at: "--frequencies",
            hint: "give the model's tokenizer with --tokenizer",
          });
        if (!model.tokenizer && READS_PIECES.includes(flags.method))
          // With no pieces to split or look up, every token would get the same morphemes and no sememes.
          throw new SeecError(
            "usage.tokenizer",
            `--method ${flags.method} reads each token's text, and ${model.graph.name} has no tokenizer`,
            {
              at: "--tokenizer",
              hint: "give the model's tokenizer with --tokenizer (an ONNX model's tokenizer.json), or --method svd, word2ketxs or pq, which need none",
            },
          );
        const tty = process.stderr.isTTY && !flags.json;
        const { factors, decomposition, report } = await factorize(model, {
          ...flags,
          sememesFile: flags.sememes,
          // --explain looks at the structure only: nothing is fitted, and no budget can be out of reach.
          ...(flags.explain ? { fit: false, ratio: 1, rank: 1 } : {}),
          onEpoch: tty
            ? (e, n, loss) =>
                process.stderr.write(
                  `\rseec: fitting ${bar(e + 1, n)} epoch ${e + 1}/${n} loss ${loss.toFixed(5)}${e + 1 === n ? "\n" : ""}`,
                )
            : undefined,
        });
        if (flags.explain) {
          const found = flags.explain.map((p) => {
            // A word's leading marker as the vocabulary writes it: SentencePiece's "▁" or llama2.c's space.
            const spellings = [p, p.replace(/^▁/, " "), p.replace(/^ /, "▁")];
            const k = decomposition.knowledge.find((x) => spellings.includes(x.piece));
            if (!k)
              throw new SeecError("usage.explain", `${JSON.stringify(p)} is not a piece of the vocabulary`, {
                at: "--explain",
                hint: 'a piece that starts a word starts with its marker ("▁day" or " day"); seec factorize --explain takes pieces as the tokenizer splits text',
              });
            return k;
          });
          if (flags.json) return printJson(found);
          const none = (readers: readonly string[]) =>
            readers.includes(flags.method) ? "(none found)" : `(none: --method ${flags.method} reads none)`;
          for (const k of found)
            process.stdout.write(
              `${JSON.stringify(k.piece)}\n  morphemes: ${k.morphemes.join(" | ") || none(READS_PIECES)}\n  sememes:   ${k.sememes.join(", ") || none(["see", "see-xs"])}\n`,
            );
          return;
        }
        // Written beside the target and renamed into place: never a half-written .see.
        await writeFileAtomic(flags.out!, writeSee(factors));
        if (flags.json) printJson(report);
        else process.stdout.write(formatReport(report, flags.out!));
      },
    );
}

/** Methods that read the vocabulary's pieces: morphemes split from them, sememes looked up by them. */
const READS_PIECES: Method[] = ["see", "see-xs", "morphte"];

/** Why an option does nothing with the others given, or undefined where it applies. */
function idleFactorizeOption(key: string, flags: FactorizeFlags): string | undefined {
  if (key === "out" && flags.explain) return "with --explain: --explain only looks, and writes nothing";
  if (flags.explain && ["ratio", "rank", "epochs", "frequencies"].includes(key))
    return "shapes a fit; --explain fits nothing: it shows how the pieces decompose";
  if (key === "context" || key === "maxChunk") return "sizes a compiled model's memory; factorize reads only the embedding";
  if ((key === "epochs" || key === "frequencies") && flags.method === "svd") return "weighs a fit; --method svd is exact (a truncated SVD)";
  if ((key === "epochs" || key === "frequencies") && flags.method === "pq")
    return "weighs a fit; --method pq clusters each block by k-means (a fixed 25 iterations), every token alike";
  if (key === "order" && flags.method !== "see-xs" && flags.method !== "word2ketxs")
    return `sets digit slots; --method ${flags.method} has none`;
  if (key === "sememes" && flags.method !== "see" && flags.method !== "see-xs")
    return `gives SEE its knowledge; --method ${flags.method} reads none`;
  if (key === "segmentation" && (flags.method === "svd" || flags.method === "word2ketxs" || flags.method === "pq"))
    return `splits the pieces into morphemes; --method ${flags.method} reads none`;
  return undefined;
}

function bar(done: number, total: number): string {
  const w = 24,
    n = Math.round((w * done) / total);
  return `[${"#".repeat(n)}${".".repeat(w - n)}]`;
}

function formatReport(r: FactorizeReport, out: string): string {
  const f = r.fidelity;
  return [
    `wrote ${out}: ${r.method}, rank ${r.rank}, sources ${Object.entries(r.sources)
      .map(([k, s]) => `${k} ${s.rows}×${s.q}`)
      .join(", ")}`,
    `  parameters  ${r.parameters} vs ${r.denseParameters} dense: ${r.ratioByParameters.toFixed(2)}x`,
    `  bytes       ${formatBytes(r.shippedBytes)} shipped (factors + indices) vs ${formatBytes(r.denseBytes)} dense: ${r.ratioByBytes.toFixed(2)}x`,
    `  fidelity    relative error ${f.relativeError.toFixed(4)}, mean cosine ${f.meanCosine.toFixed(4)}, neighbour overlap@10 ${f.neighbourOverlap10.toFixed(3)}`,
    `  time        ${r.seconds.toFixed(1)} s${r.loss.length ? `, final loss ${r.loss[r.loss.length - 1].toFixed(5)}` : ""}`,
    "",
  ].join("\n");
}
