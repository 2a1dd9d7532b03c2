/**
 * The project's import graph, read from the sources: which file imports which (relative imports
 * only; packages and node: builtins are not edges), and the strongly connected components (cycles)
 * of that graph and of its folders. The layer test (layers.test.ts) asserts on it.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

export const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "../..");

/** Every .ts file under the given top-level folders, as paths relative to the root. */
export function sourceFiles(folders: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(ROOT, dir))) {
      const path = join(dir, name);
      if (statSync(join(ROOT, path)).isDirectory()) walk(path);
      else if (/\.(ts|mts)$/.test(name) && !name.endsWith(".d.ts")) out.push(path);
    }
  };
  for (const f of folders) walk(f);
  return out.sort();
}

/** file -> the project files it imports (type-only imports included: they tie the code as much). */
export function importGraph(files: readonly string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), "utf8");
    const targets = new Set<string>();
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)) {
      const spec = m[1] ?? m[2];
      if (!spec.startsWith(".")) continue;
      // TypeScript names its imports .js; AssemblyScript (the kernels and drivers) without an extension.
      const path = relative(ROOT, resolve(ROOT, dirname(file), spec));
      const target = [path.replace(/\.js$/, ".ts"), `${path}.ts`].find((p) => known.has(p));
      if (target) targets.add(target);
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

/** Strongly connected components with more than one member (Tarjan): each is an import cycle. */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const order = new Map<string, number>(),
    low = new Map<string, number>(),
    stack: string[] = [],
    onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    order.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!order.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, order.get(w)!));
    }
    if (low.get(v) === order.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!order.has(v)) visit(v);
  return out;
}

/** The graph between folders: compiler/ir/ops/linear.ts belongs to `depth` levels, e.g. compiler/ir. */
export function folderGraph(graph: ReadonlyMap<string, readonly string[]>, folderOf: (file: string) => string): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const [file, targets] of graph) {
    const from = folderOf(file);
    const set = out.get(from) ?? new Set<string>();
    out.set(from, set);
    for (const t of targets) if (folderOf(t) !== from) set.add(folderOf(t));
  }
  return new Map([...out].map(([k, v]) => [k, [...v].sort()]));
}
