import { Command } from "commander";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Manifest } from "../../runtime/manifest.js";
import { artifactDamage, checkArtifactFiles, readArtifactManifest, unlistedFiles, type FileCheck } from "../artifact.js";
import { loadModel } from "../frontends/load.js";
import { inspectGraph, type Inspection } from "../inspect.js";
import { planMemory } from "../passes/plan-memory.js";
import { idleForFamily, modelOptions, printJson, refuseIdleOptions } from "./options.js";
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
    .summary("show a model's ops, parameters and memory plan, or check an artifact's files")
    .description(
      "Read a model as `seec build` would and print its ops, its parameters by tensor group, and the memory plan: an encoder's for one text a call, where `seec build` packs up to 32 texts a call by default and plans activations for them all (`--batch 1` builds one text a call).\n\n" +
        "Given an artifact (the directory seec build writes), print what it was built from and for, and check each of its files against the size and sha256 its manifest records: a file changed or damaged since the build fails the check (input.artifact, exit 3).",
    )
    .option("--plan", "list every tensor of the memory plan with its offset, size and lifetime (--json always has them)")
    .option("--json", "print everything as JSON")
    .action(async (model: string, flags: InspectFlags, cmd: Command) => {
      if (isArtifactDirectory(model)) return inspectArtifact(model, flags, cmd);
      const { graph } = await loadModel({ model, ...flags, shapes: flags.shape });
      refuseIdleOptions(cmd, (key) => idleForFamily(key, graph));
      const report = inspectGraph(graph, planMemory(graph).plan);
      if (flags.json) printJson(report);
      else process.stdout.write(formatInspection(report, flags.plan === true));
    });
}

function formatInspection(r: Inspection, listPlan: boolean): string {
  const lines = [modelLine(r.name, r.model.family, r.model.config), "", "ops"];
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

/** An artifact: its manifest's account of it, and each file it lists checked against its sha256. */
async function inspectArtifact(dir: string, flags: InspectFlags, cmd: Command): Promise<void> {
  refuseIdleOptions(cmd, (key) => (key === "json" ? undefined : "is for a model seec reads; an artifact was planned when it was built"));
  const manifest = await readArtifactManifest(dir, "inspect");
  const files = await checkArtifactFiles(dir, manifest.files ?? {});
  const unlisted = unlistedFiles(manifest);
  const memory = manifest.memory;
  if (flags.json)
    printJson({
      artifact: dir,
      name: manifest.name,
      target: manifest.target,
      seec: manifest.seec,
      command: manifest.command,
      model: manifest.model,
      memory: { totalBytes: memory.totalBytes, weights: memory.weights.bytes, activations: memory.arena.bytes, state: memory.state.bytes },
      files,
      unlisted,
    });
  else process.stdout.write(formatArtifact(manifest, files, unlisted));
  const damage = artifactDamage(dir, files, unlisted);
  if (damage) throw damage;
}

/** A directory with a manifest.json and no TF.js model.json: an artifact (whatever shape its manifest is in). */
function isArtifactDirectory(path: string): boolean {
  return (
    statSync(path, { throwIfNoEntry: false })?.isDirectory() === true &&
    existsSync(join(path, "manifest.json")) &&
    !existsSync(join(path, "model.json"))
  );
}

function formatArtifact(m: Manifest, files: FileCheck[], unlisted: string[]): string {
  const ok = files.every((f) => f.state === "ok");
  const nameWidth = Math.max(...files.map((f) => f.name.length));
  const lines = [
    modelLine(m.name, m.model.family, m.model.config),
    `  a seec ${m.seec} artifact for ${m.target}, built by: ${m.command}`,
    "",
    !files.length
      ? "files: the manifest lists none"
      : ok && !unlisted.length
        ? `files (all ${files.length} as the manifest records them: size and sha256)`
        : "files (against the manifest's size and sha256)",
    ...files.map((f) => `  ${f.name.padEnd(nameWidth)} ${formatBytes(f.bytes).padStart(10)}  ${f.state}`),
    ...unlisted.map((f) => `  ${f}: not in the manifest's list`),
    "",
    `memory: ${formatBytes(m.memory.totalBytes)} (weights ${formatBytes(m.memory.weights.bytes)}, activations ${formatBytes(m.memory.arena.bytes)}, state ${formatBytes(m.memory.state.bytes)}${m.memory.scratch ? `, kernel scratch ${formatBytes(m.memory.scratch.bytes)}` : ""})`,
  ];
  return `${lines.join("\n")}\n`;
}

/** "stories260K: decoder, dim 64, ..." (an imported graph has no hyper-parameters to list). */
function modelLine(name: string, family: string, config: Record<string, number>): string {
  return [`${name}: ${family}`, ...Object.entries(config).map(([k, v]) => `${k} ${v}`)].join(", ");
}
