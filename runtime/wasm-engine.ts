/** The wasm engine: inputs written into the module's memory, forward(T[, B]), outputs copied out. */
import { SeecError } from "./errors.js";
import type { TensorSpec } from "./manifest.js";
import type { Engine } from "./model.js";
import type { Threads } from "./threads.js";

interface Exports {
  memory: WebAssembly.Memory;
  /** T: the call's tokens; B: its texts, where the module packs them (a module without B ignores it). */
  forward(T: number, B: number): void;
}

export class WasmEngine implements Engine {
  private readonly exports: Exports;

  /** Threads splitting the matmuls (a module built with --threads): 1 where none. */
  readonly threads: number;

  constructor(
    instance: WebAssembly.Instance,
    readonly backend: string,
    private readonly pool?: Threads,
  ) {
    this.exports = instance.exports as unknown as Exports;
    this.threads = pool?.count ?? 1;
  }

  run(
    inputs: { spec: TensorSpec; data: Int32Array | Float32Array }[],
    outputs: { spec: TensorSpec; length: number }[],
    bound: Readonly<Record<string, number>>,
  ) {
    const { memory, forward } = this.exports;
    for (const { spec, data } of inputs)
      new (data.constructor as Int32ArrayConstructor)(memory.buffer, spec.address, data.length).set(data as Int32Array);
    try {
      forward(bound.T ?? 0, bound.B ?? 0);
    } catch (e) {
      throw new SeecError("runtime.trap", `the compiled model trapped in forward(): ${(e as Error).message}`, {
        hint: "this should not happen after the runtime's checks: please report it",
      });
    }
    return outputs.map(({ spec, length }) =>
      new (spec.dtype === "i32" ? Int32Array : Float32Array)(memory.buffer, spec.address, length).slice(),
    );
  }

  /** Ends the threads' workers; the module and its memory go with the last reference (the Model drops it). */
  dispose(): void {
    this.pool?.stop();
  }
}
