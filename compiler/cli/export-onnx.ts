import { Command } from "commander";
import { exportOnnx, onnxInterface } from "../../targets/onnx/export.js";
import { loadModel, readInput } from "../frontends/load.js";
import { applySee } from "../passes/see.js";
import { readSee } from "../factors/format.js";
import { SEEC_VERSION } from "../version.js";
import { formatBytes } from "../util/units.js";
import { checkFileOutput, writeFileAtomic } from "../output.js";
import { idleForFamily, modelOptions, printJson, refuseIdleOptions } from "./options.js";

interface ExportFlags {
  tokenizer?: string;
  maxChunk?: number;
  context?: number;
  shape?: Record<string, number[]>;
  see?: string;
  out: string;
  json?: boolean;
}

export function exportOnnxCommand(): Command {
  return modelOptions(new Command("export-onnx"))
    .summary("write a model as a standard ONNX graph, to run in ONNX Runtime")
    .description(
      "Write the model seec compiles (after --see) as an ONNX graph of standard ops (opset 17), so ONNX Runtime runs exactly what seec runs.\n" +
        "A decoder's KV cache becomes inputs and outputs: feed <cache> and read <cache>.next each call (zeros at first); tokens and pos as in seec's run(). " +
        "Its attention and RoPE are calls of two functions in the domain ai.seec (ONNX Runtime inlines their bodies), so seec build reads the file back as the decoder it was.\n\n" +
        "Example:\n  seec export-onnx stories260K.bin -o stories260K.onnx\n  seec build stories260K.onnx --tokenizer tok512.bin -o out/stories260K-again",
    )
    .option("--see <factors>", "SEE factors that replace the token embedding (written out as its dense table)")
    .option("-o, --out <file>", "the ONNX file to write", "model.onnx")
    .option("--json", "print what was written as JSON")
    .action(async (model: string, flags: ExportFlags, cmd: Command) => {
      refuseIdleOptions(cmd, (key) => (key === "tokenizer" ? "goes nowhere: the ONNX file holds the graph alone" : undefined));
      await checkFileOutput(flags.out, [model, flags.see]);
      const loaded = await loadModel({
        model,
        tokenizer: flags.tokenizer,
        maxChunk: flags.maxChunk,
        context: flags.context,
        shapes: flags.shape,
      });
      refuseIdleOptions(cmd, (key) => idleForFamily(key, loaded.graph));
      const graph = flags.see
        ? applySee(loaded.graph, readSee(await readInput(flags.see, "SEE factors"), flags.see), "materialize", flags.see)
        : loaded.graph;
      const bytes = exportOnnx(graph, SEEC_VERSION);
      // Written beside the target and renamed into place: never a half-written model.onnx.
      await writeFileAtomic(flags.out, bytes);
      if (flags.json) printJson({ out: flags.out, bytes: bytes.byteLength, ...onnxInterface(graph) });
      else process.stdout.write(`wrote ${flags.out} (${formatBytes(bytes.byteLength)}): ${graph.name} as ONNX opset 17\n`);
    });
}
