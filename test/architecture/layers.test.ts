// The layers, enforced: each folder imports only from its own layer or those below, no file
// imports itself back through others, and the runtime (shipped in every artifact) imports nothing
// outside runtime/. docs/ARCHITECTURE.md draws the same diagram.
import { describe, expect, it } from "vitest";
import { cycles, folderGraph, importGraph, sourceFiles } from "./imports.js";

/** Lowest first. A folder may import from its own rank or lower, never higher. */
export const LAYERS: readonly (readonly string[])[] = [
  ["runtime"],
  ["compiler/util", "compiler/factors"],
  ["compiler/ir"],
  ["compiler/passes"],
  ["compiler/frontends"],
  ["targets/common"],
  ["targets/wasm", "targets/webgpu", "targets/onnx"],
  ["targets/(registry)", "targets/mcu"],
  ["compiler/see", "compiler/eval"],
  ["compiler/(driver)"],
  ["compiler/cli"],
  ["bench"],
];

/**
 * runtime/tokenizers/x.ts -> runtime; compiler/ir/ops/x.ts -> compiler/ir; compiler/build.ts -> compiler/(driver);
 * targets/registry.ts -> targets/(registry).
 */
function folderOf(file: string): string {
  const parts = file.split("/");
  if (parts[0] === "runtime" || parts[0] === "bench") return parts[0];
  if (parts.length === 2) return parts[0] === "targets" ? "targets/(registry)" : `${parts[0]}/(driver)`;
  return `${parts[0]}/${parts[1]}`;
}

const rank = (folder: string) => LAYERS.findIndex((layer) => layer.includes(folder));

describe("the layers", () => {
  const graph = importGraph(sourceFiles(["runtime", "compiler", "targets", "bench"]));

  it("reads the whole project (every source file, every relative import)", () => {
    expect(graph.size).toBeGreaterThan(150);
    expect([...graph.values()].flat().length).toBeGreaterThan(300);
  });

  it("places every folder in a layer", () => {
    expect([...new Set([...graph.keys()].map(folderOf))].filter((f) => rank(f) < 0)).toEqual([]);
  });

  it("imports only downward (or within a layer)", () => {
    const upward = [...graph].flatMap(([file, targets]) =>
      targets.filter((t) => rank(folderOf(t)) > rank(folderOf(file))).map((t) => `${file} -> ${t}`),
    );
    expect(upward).toEqual([]);
  });

  it("has no import cycle between files, TypeScript and AssemblyScript alike", () => {
    expect(cycles(graph)).toEqual([]);
  });

  it("has no import cycle between the folders of compiler/ and targets/", () => {
    expect(cycles(folderGraph(graph, folderOf))).toEqual([]);
  });

  it("keeps the runtime to itself: it ships in every artifact", () => {
    const outside = [...graph]
      .filter(([f]) => f.startsWith("runtime/"))
      .flatMap(([f, ts]) => ts.filter((t) => !t.startsWith("runtime/")).map((t) => `${f} -> ${t}`));
    expect(outside).toEqual([]);
  });

  it("catches what it is for: a cycle and an upward import planted in a copy of the graph", () => {
    const planted = new Map(graph);
    planted.set("compiler/ir/graph.ts", [...(graph.get("compiler/ir/graph.ts") ?? []), "compiler/build.ts"]);
    expect(cycles(planted).some((c) => c.includes("compiler/ir/graph.ts") && c.includes("compiler/build.ts"))).toBe(true);
    expect(rank(folderOf("compiler/build.ts"))).toBeGreaterThan(rank(folderOf("compiler/ir/graph.ts")));
  });
});
