/**
 * Runs an mcu module's step() export under wabt's wasm-interp, an engine that is not V8.
 * wasm-interp calls only exports without parameters, so the module gets one more: `greedy()`,
 * a loop over step() from BOS that returns the FNV-1a hash of the tokens it generated.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { SeecError } from "../../runtime/errors.js";
import { FLAVOURS, featureMask } from "../wasm/compile.js";
import { TARGETS } from "../registry.js";

const run = promisify(execFile);
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** The hash greedy() returns, for the same tokens computed elsewhere. */
export function tokenHash(ids: readonly number[]): number {
  let h = FNV_OFFSET;
  for (const id of ids) h = Math.imul(h ^ id, FNV_PRIME) >>> 0;
  return h | 0;
}

/** The module with `greedy()` added: `steps` calls of step() from `bos` (no early stop). */
export async function withGreedyExport(wasm: Uint8Array, bos: number, steps: number): Promise<Uint8Array> {
  const { default: binaryen } = await import("binaryen");
  const mod = binaryen.readBinary(wasm);
  try {
    mod.setFeatures(featureMask(binaryen, FLAVOURS[TARGETS.mcu.options.modules[0].flavour].features));
    let step: string | undefined;
    for (let i = 0; i < mod.getNumExports(); i++) {
      const e = binaryen.getExportInfo(mod.getExportByIndex(i));
      if (e.name === "step") step = e.value;
    }
    if (!step) throw new SeecError("usage.target", "the module has no step() export (build a decoder with --target mcu)");
    const { i32 } = binaryen;
    const [token, pos, hash] = [0, 1, 2];
    const get = (l: number) => mod.local.get(l, i32);
    mod.addFunction(
      "greedy",
      binaryen.none,
      i32,
      [i32, i32, i32],
      mod.block(
        null,
        [
          mod.local.set(token, mod.i32.const(bos)),
          mod.local.set(hash, mod.i32.const(FNV_OFFSET | 0)),
          mod.loop(
            "next",
            mod.block(null, [
              mod.local.set(token, mod.call(step, [get(token), get(pos)], i32)),
              mod.local.set(hash, mod.i32.mul(mod.i32.xor(get(hash), get(token)), mod.i32.const(FNV_PRIME))),
              mod.local.set(pos, mod.i32.add(get(pos), mod.i32.const(1))),
              mod.br("next", mod.i32.lt_s(get(pos), mod.i32.const(steps))),
            ]),
          ),
          get(hash),
        ],
        i32,
      ),
    );
    mod.addFunctionExport("greedy", "greedy");
    if (!mod.validate()) throw new SeecError("internal.binaryen", "the module with greedy() does not validate");
    return mod.emitBinary();
  } finally {
    mod.dispose();
  }
}

/** greedy()'s result under wasm-interp. */
export async function greedyHashUnderWasmInterp(wasm: Uint8Array, bos: number, steps: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "seec-interp-"));
  try {
    const file = join(dir, "greedy.wasm");
    await writeFile(file, await withGreedyExport(wasm, bos, steps));
    const { stdout } = await run("wasm-interp", [file, "--run-all-exports"], { maxBuffer: 1 << 20, timeout: 600_000 });
    const m = /^greedy\(\) => i32:(-?\d+)$/m.exec(stdout);
    if (!m) throw new SeecError("internal.interp", `wasm-interp did not report greedy(): ${stdout.slice(-300)}`);
    return Number(m[1]) | 0;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
