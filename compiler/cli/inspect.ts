import { Command } from "commander";
import { loadModel } from "../frontends/load.js";
import { inspectGraph, type Inspection } from "../inspect.js";
import { planMemory } from "../passes/plan-memory.js";
import { modelOptions, printJson } from "./options.js";
import { formatBytes } from "../util/units.js";

interface InspectFlags {
  tokenizer?: string;
  maxChunk?: number;
  context?: number;
  shape?: Record<string, number[]>;
  plan?: boolean;
  json?: boolean;
}

export function inspectCommand(): Command {
  return modelOptions(new Command("inspect"))
    .summary("show a model's ops, parameters and memory plan")
    .description("Read a model as `seec build` would and print its ops, its parameters by tensor group, and the memory plan.")
    .option("--plan", "list every tensor of the memory plan with its offset, size and lifetime (--json always has them)")
    .option("--json", "print everything as JSON")
    .action(async (model: string, flags: InspectFlags) => {
      const { graph } = await loadModel({ model, ...flags, shapes: flags.shape });
      const report = inspectGraph(graph, planMemory(graph).plan);
      if (flags.json) printJson(report);
      else process.stdout.write(formatInspection(report, flags.plan === true));
    });
}

function formatInspection(r: Inspection, listPlan: boolean): string {
  const lines = [
    `${r.name}: ${r.model.family}, ${Object.entries(r.model.config)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
    "",
    "ops",
  ];
  const opWidth = Math.max(...Object.keys(r.ops).map((o) => o.length));
  for (const [op, n] of Object.entries(r.ops).sort(([, a], [, b]) => b - a)) lines.push(`  ${op.padEnd(opWidth)} ${String(n).padStart(6)}`);
  lines.push("", "parameters");
  const width = Math.max(5, ...Object.keys(r.parameters).map((g) => g.length));
  for (const [group, g] of Object.entries(r.parameters))
    lines.push(
      `  ${group.padEnd(width)} ${String(g.parameters).padStart(10)}  ${formatBytes(g.bytes).padStart(10)}  (${g.tensors} tensor${g.tensors > 1 ? "s" : ""})`,
    );
  lines.push(`  ${"total".padEnd(width)} ${String(r.totalParameters).padStart(10)}`, "", "memory plan");
  const m = r.memory;
  lines.push(
    `  weights      ${formatBytes(m.weights.bytes).padStart(10)}  (${m.weights.entries.length} tensors)`,
    `  activations  ${formatBytes(m.arena.bytes).padStart(10)}  (${m.arena.entries.length} tensors sharing one arena by lifetime)`,
    `  state        ${formatBytes(m.state.bytes).padStart(10)}  (KV cache, scratch, tables built at load)`,
    `  peak         ${formatBytes(m.totalBytes).padStart(10)}`,
  );
  if (listPlan) {
    lines.push("", "arena (offset, bytes, live from node..to node)");
    for (const e of m.arena.entries)
      lines.push(
        `  ${String(e.offset).padStart(8)} ${String(e.bytes).padStart(8)}  ${String(e.from).padStart(4)}..${String(e.to).padEnd(4)} ${e.name}`,
      );
  }
  return `${lines.join("\n")}\n`;
}
