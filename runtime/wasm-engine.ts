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
  /** Why the threads cannot run the model any more, once a call trapped among them. */
  private lost?: string;

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
    const lost = this.lost ?? this.pool?.lost;
    if (lost) throw lostThread(lost);
    for (const { spec, data } of inputs)
      new (data.constructor as Int32ArrayConstructor)(memory.buffer, spec.address, data.length).set(data as Int32Array);
    try {
      forward(bound.T ?? 0, bound.B ?? 0);
    } catch (e) {
      if (this.pool) {
        // Workers may still be in the job (or one stopped, and the caller gave up waiting): no later call is safe.
        this.pool.stop();
        this.lost = `a call trapped (${(e as Error).message}) while threads ran it`;
        throw lostThread(this.pool.lost ?? `it did not finish its part of a job (${(e as Error).message})`);
      }
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

/** A model whose threads stopped: runtime.worker, on this call and every later one. */
function lostThread(why: string): SeecError {
  return new SeecError("runtime.worker", `a thread of the model stopped: ${why}`, {
    hint: "load the model again (threads: 1 runs it on one thread)",
  });
}
