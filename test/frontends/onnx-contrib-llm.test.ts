// The com.microsoft ops ONNX Runtime's model builder writes into LLM exports (lower-contrib-llm.ts):
// MatMulNBits and GroupQueryAttention, each as a one-node model built by seec and run through the
// artifact, against onnxruntime-node (whose CPU provider implements both) on the same file and inputs.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { build } from "../../compiler/build.js";
import { loadOnnx } from "../../compiler/frontends/onnx/index.js";
import { load } from "../../runtime/index.js";
import { tmpDir } from "../helpers/compile.js";
import { gqaCase, lengthsFromMask, nbitsCase, typed, writeModel, type Case, type Gqa, type NBits } from "../helpers/contrib-llm-cases.js";

/** The bytes of every file the build wrote, by the artifact's folder. */
function artifactBytes(dir: string): number {
  return readdirSync(dir).reduce((n, f) => {
    const s = statSync(join(dir, f));
    return n + (s.isDirectory() ? artifactBytes(join(dir, f)) : s.size);
  }, 0);
}

interface Result {
  /** Largest |seec − ONNX Runtime| per output. */
  worst: number[];
  file: string;
  out: string;
}

/** seec's artifact against ONNX Runtime on the case; fails beyond `abs` absolute and 1e-3 relative. */
async function againstOrt(c: Case, abs = 1e-4): Promise<Result> {
  const file = await writeModel(c);
  const out = join(await tmpDir(), "artifact");
  const shapes = Object.fromEntries(Object.entries(c.inputs).map(([k, t]) => [k, t.dims]));
  await build({ model: file, target: "wasm-simd", out, shapes });
  const model = await load(out, { webgpu: false });
  const got = await model.run(Object.fromEntries(Object.entries(c.inputs).map(([k, t]) => [k, typed(t)])));
  model.dispose();
  const ort = await import("onnxruntime-node");
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  const want = await session.run(
    Object.fromEntries(Object.entries(c.inputs).map(([k, t]) => [k, new ort.Tensor(t.dtype, typed(t), t.dims)])),
  );
  const worst = Array.from({ length: c.outputs }, (_, o) => {
    const name = `y${o}`;
    const w = Array.from(want[name].data as Float32Array),
      g = Array.from(got[name] as Float32Array);
    expect(g.length, name).toBe(w.length);
    let m = 0;
    for (let i = 0; i < w.length; i++) {
      const d = Math.abs(g[i] - w[i]);
      if (!(d <= abs || d <= 1e-3 * Math.abs(w[i]))) expect.fail(`${c.op} ${name}[${i}]: ${g[i]}, ONNX Runtime ${w[i]}`);
      m = Math.max(m, d);
    }
    return m;
  });
  return { worst, file, out };
}

const worstOf = (r: Result) => Math.max(...r.worst);

describe("com.microsoft LLM ops against onnxruntime-node", () => {
  describe("MatMulNBits", () => {
    it("4 bits, blocks of 32, no zero points, f16 scales, K not a multiple of 32: Q4Linear, the weights kept at 4 bits", async () => {
      const c = nbitsCase({ K: 80, N: 24, bits: 4, block: 32, a: [2, 3, 80], halfScales: true, bias: "constant" }, 11);
      const worst = worstOf(await againstOrt(c));
      console.log(`MatMulNBits, 4 bits as Q4Linear, K 80: max error ${worst}`);
      expect(worst).toBeLessThan(1e-4);
      const { graph } = await loadOnnx(await writeModel(c), "m", { A: [2, 3, 80] });
      expect(graph.nodes.map((n) => n.op)).toContain("Q4Linear");
      expect(graph.nodes.map((n) => n.op)).not.toContain("Linear");
    });

    it("the 4-bit weights take 4.5 bits each in the artifact, a seventh of the dequantized f32 ones", async () => {
      const shape = { K: 512, N: 256, bits: 4, block: 32, a: [1, 512] };
      // Q4Linear's wasm kernel rounds each row of activations to int16 (one scale per row,
      // targets/wasm/kernels/linear-q4.ts): over K = 512 that is up to ~2e-4 off f32 products.
      const q4 = await againstOrt(nbitsCase({ ...shape, halfScales: true }, 21), 5e-4);
      // The same weights with one scale off f16 dequantize to an f32 Linear.
      const c = nbitsCase({ ...shape, halfScales: true }, 21);
      const s = Array.from(c.constants!.scales.data);
      s[0] = Math.fround(s[0] * (1 + 2 ** -20));
      c.constants!.scales.data = s;
      const f32Build = await againstOrt(c);
      const weights = (dir: string) => statSync(join(dir, "weights.bin")).size;
      const [small, large] = [weights(q4.out), weights(f32Build.out)];
      expect(worstOf(q4)).toBeLessThan(5e-4);
      expect(worstOf(f32Build)).toBeLessThan(1e-4);
      // 256 rows of 16 blocks of 18 bytes, against 512 · 256 f32 weights.
      expect(small).toBeGreaterThanOrEqual(256 * 16 * 18);
      expect(small).toBeLessThan(256 * 16 * 18 + 4096);
      expect(large).toBeGreaterThanOrEqual(512 * 256 * 4);
      console.log(
        `MatMulNBits K 512, N 256: 4-bit weights.bin ${small} bytes (artifact ${artifactBytes(q4.out)}, max error ${worstOf(q4)}), ` +
          `dequantized f32 weights.bin ${large} bytes (artifact ${artifactBytes(f32Build.out)}, max error ${worstOf(f32Build)})`,
      );
    });

    const linear: [string, NBits][] = [
      [
        "4 bits, blocks of 16, packed zero points, f32 scales, bias at run time",
        { K: 40, N: 12, bits: 4, block: 16, a: [3, 40], zeros: "packed", bias: "input" },
      ],
      ["8 bits, blocks of 32, packed zero points", { K: 64, N: 10, bits: 8, block: 32, a: [2, 2, 64], zeros: "packed" }],
      ["2 bits, blocks of 32, packed zero points", { K: 96, N: 8, bits: 2, block: 32, a: [2, 96], zeros: "packed" }],
      ["8 bits, blocks of 16, no zero points", { K: 48, N: 8, bits: 8, block: 16, a: [2, 48] }],
      ["4 bits, blocks of 32, float zero points", { K: 64, N: 8, bits: 4, block: 32, a: [2, 64], zeros: "float", bias: "constant" }],
    ];
    for (const [what, spec] of linear)
      it(`${what}: a Linear of the dequantized weights`, async () => {
        const worst = worstOf(await againstOrt(nbitsCase(spec, 31)));
        console.log(`MatMulNBits, ${what}: max error ${worst}`);
        expect(worst).toBeLessThan(1e-4);
      });

    it("refuses B at run time, by name", async () => {
      const c = nbitsCase({ K: 32, N: 4, bits: 4, block: 32, a: [1, 32] }, 41);
      c.inputs.B = c.constants!.B;
      delete c.constants!.B;
      await expect(againstOrt(c)).rejects.toThrow(/MatMulNBits reads the quantized weight B at run time/);
    });
  });

  describe("GroupQueryAttention", () => {
    const cases: [string, Gqa][] = [
      ["the prompt, no past, 2 query heads per kv head", { B: 2, S: 5, heads: 4, kvHeads: 2, head: 16, total: 5, seqlens: [4, 4] }],
      [
        "the prompt, packed QKV, 4 query heads per kv head, a scale",
        { B: 1, S: 4, heads: 4, kvHeads: 1, head: 16, total: 4, seqlens: [3], packed: true, attrs: { scale: 0.3 } },
      ],
      ["a decode step over a past of 6", { B: 2, S: 1, heads: 4, kvHeads: 2, head: 16, past: 6, total: 7, seqlens: [6, 6] }],
      [
        "a decode step with batches of different lengths",
        { B: 2, S: 1, heads: 4, kvHeads: 2, head: 16, past: 6, total: 7, seqlens: [6, 3] },
      ],
      [
        "a decode step into a cache buffer longer than the sequence",
        { B: 2, S: 1, heads: 2, kvHeads: 1, head: 16, past: 8, total: 5, seqlens: [4, 2] },
      ],
      ["a second prompt chunk after a past (batch 1)", { B: 1, S: 3, heads: 4, kvHeads: 2, head: 16, past: 4, total: 7, seqlens: [6] }],
      [
        "the prompt with rotary caches",
        { B: 2, S: 4, heads: 4, kvHeads: 2, head: 16, total: 4, seqlens: [3, 3], rotary: { rows: 10, half: 8 } },
      ],
      [
        "a decode step with interleaved rotary over part of the head",
        {
          B: 2,
          S: 1,
          heads: 4,
          kvHeads: 2,
          head: 32,
          past: 5,
          total: 6,
          seqlens: [5, 2],
          rotary: { rows: 10, half: 8, interleaved: true },
        },
      ],
      [
        "a decode step with rotary, packed QKV",
        { B: 1, S: 1, heads: 4, kvHeads: 2, head: 16, past: 3, total: 4, seqlens: [3], packed: true, rotary: { rows: 8, half: 8 } },
      ],
      [
        "the prompt with a local window of 2",
        { B: 1, S: 6, heads: 2, kvHeads: 1, head: 16, total: 6, seqlens: [5], attrs: { local_window_size: 2 } },
      ],
      [
        "a decode step with a local window of 3",
        { B: 2, S: 1, heads: 2, kvHeads: 1, head: 16, past: 6, total: 7, seqlens: [6, 4], attrs: { local_window_size: 3 } },
      ],
      [
        "a decode step with rotary at given position_ids",
        {
          B: 2,
          S: 1,
          heads: 4,
          kvHeads: 2,
          head: 16,
          past: 5,
          total: 6,
          seqlens: [5, 5],
          rotary: { rows: 12, half: 8 },
          positions: [9, 2],
        },
      ],
      [
        "the prompt with an attention_bias per batch",
        { B: 2, S: 4, heads: 4, kvHeads: 2, head: 16, total: 4, seqlens: [3, 3], bias: [2, 1, 4, 4] },
      ],
      [
        "a decode step with an attention_bias per head, a softcap and a local window",
        {
          B: 2,
          S: 1,
          heads: 4,
          kvHeads: 2,
          head: 16,
          past: 5,
          total: 6,
          seqlens: [5, 3],
          bias: [1, 4, 1, 6],
          attrs: { softcap: 1.2, local_window_size: 3 },
        },
      ],
      ["the prompt with a softcap", { B: 1, S: 5, heads: 4, kvHeads: 2, head: 16, total: 5, seqlens: [4], attrs: { softcap: 0.8 } }],
      [
        "a decode step with a softcap and a local window",
        { B: 2, S: 1, heads: 4, kvHeads: 2, head: 16, past: 5, total: 6, seqlens: [5, 5], attrs: { softcap: 1.5, local_window_size: 2 } },
      ],
    ];
    for (const [what, spec] of cases)
      it(what, async () => {
        const r = await againstOrt(gqaCase(spec, 51));
        console.log(`GroupQueryAttention, ${what}: max error ${r.worst.join(", ")}`);
        expect(worstOf(r)).toBeLessThan(1e-4);
      });

    it("seqlens_k and total_sequence_length computed from an attention mask, as ONNX Runtime GenAI's exports do", async () => {
      for (const [B, S, past, lengths] of [
        [1, 4, undefined, [4]],
        [2, 1, 5, [6, 4]],
      ] as const) {
        const total = Math.max(...lengths);
        const c = gqaCase({ B, S, heads: 4, kvHeads: 2, head: 16, past, total, seqlens: [], rotary: { rows: 8, half: 8 } }, 71);
        lengthsFromMask(c, total, lengths);
        const r = await againstOrt(c);
        console.log(`GroupQueryAttention, lengths from a mask, B ${B}, S ${S}: max error ${r.worst.join(", ")}`);
        expect(worstOf(r)).toBeLessThan(1e-4);
      }
    });

    it("refuses total_sequence_length at run time, by name", async () => {
      const c = gqaCase({ B: 1, S: 2, heads: 2, kvHeads: 1, head: 16, total: 2, seqlens: [1] }, 61);
      c.inputs.total = c.constants!.total;
      delete c.constants!.total;
      await expect(againstOrt(c)).rejects.toThrow(/total_sequence_length arrives at run time/);
    });
  });
});
