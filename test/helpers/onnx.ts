/** The shared ONNX graphs (../shared/onnx): every folder holding a model.onnx, relative to the root. */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export function graphDirs(root: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    if (existsSync(join(d, "model.onnx"))) found.push(d.slice(root.length + 1));
    for (const e of readdirSync(d)) if (statSync(join(d, e)).isDirectory()) walk(join(d, e));
  };
  walk(root);
  return found.sort();
}

/** float16's spacing at x's magnitude. */
export const halfStep = (x: number) => 2 ** (Math.max(Math.floor(Math.log2(Math.abs(x) || 2 ** -14)), -14) - 10);
