// The machine's memory bandwidth as a wasm SIMD program on one thread sees it: the rate at which
// one thread streams a buffer far larger than the caches through v128 loads, the same loads a
// decode's matmuls issue over their weights. Decode reads every weight once a token, so this is
// its ceiling, and decode-synthetic.ts reports each build's share of it.
//
// The reading loop keeps four independent accumulators (v128.xor: one cycle, never the limit) and
// returns their fold, so no engine can drop the loads.
import binaryen from "binaryen";

const WAT = `(module
  (memory (export "memory") 1)
  ;; Reads bytes [0, n) sixty-four at a time; n a multiple of 64.
  (func (export "read") (param $n i32) (result i32)
    (local $at i32) (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $at) (local.get $n)))
        (local.set $a (v128.xor (local.get $a) (v128.load offset=0 (local.get $at))))
        (local.set $b (v128.xor (local.get $b) (v128.load offset=16 (local.get $at))))
        (local.set $c (v128.xor (local.get $c) (v128.load offset=32 (local.get $at))))
        (local.set $d (v128.xor (local.get $d) (v128.load offset=48 (local.get $at))))
        (local.set $at (i32.add (local.get $at) (i32.const 64)))
        (br $next)))
    (i32x4.extract_lane 0 (v128.xor (v128.xor (local.get $a) (local.get $b)) (v128.xor (local.get $c) (local.get $d))))))`;

export interface Bandwidth {
  /** Bytes read per second: the best of the passes (a pass is slowed by others, never sped up). */
  bytesPerSecond: number;
  /** The buffer each pass reads. */
  bytes: number;
}

/** A reader over a buffer of `bytes` (rounded up to 64 KiB pages), filled so that no page is left unmapped. */
export function bandwidthProbe(bytes = 512 * 2 ** 20): { measure: (passes?: number) => Bandwidth } {
  const mod = binaryen.parseText(WAT);
  mod.setFeatures(binaryen.Features.SIMD128);
  mod.optimize();
  const binary = mod.emitBinary();
  mod.dispose();
  const instance = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(binary)));
  const { memory, read } = instance.exports as { memory: WebAssembly.Memory; read: (n: number) => number };
  const pages = Math.ceil(bytes / 65536);
  memory.grow(pages - 1);
  const size = pages * 65536;
  new Uint8Array(memory.buffer).fill(1);
  return {
    measure(passes = 5) {
      let best = Infinity;
      for (let p = 0; p < passes; p++) {
        const t0 = performance.now();
        read(size);
        best = Math.min(best, performance.now() - t0);
      }
      return { bytesPerSecond: size / (best / 1000), bytes: size };
    },
  };
}
