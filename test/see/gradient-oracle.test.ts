// seec's reverse mode through a whole real decoder agrees with an independent PyTorch float64
// implementation (test/oracles/llama2c_grad.py, written from llama2.c's run.c): on stories260K
// with a perturbed embedding table (read by both the lookup and the tied head), the distillation
// loss (KL to the unperturbed model at τ = 2, plus cross-entropy) from nextTokenLoss, and its
// gradients from ir/autodiff.ts with respect to the embedding table and every RMSNorm weight.
//
// Needs /usr/bin/python3 with torch: skipped, saying so, where it is missing, except in CI (which
// installs python3-torch), where a missing torch fails the test instead.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Llama2cTokenizer } from "../../runtime/tokenizers/llama2c-bpe.js";
import { createTokenizer } from "../../runtime/tokenizers/index.js";
import { loadModel } from "../../compiler/frontends/load.js";
import { backward, forward } from "../../compiler/ir/autodiff.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { allPositions, nextTokenLoss } from "../../compiler/see/distill.js";
import { randomF32 } from "../helpers/random.js";
import { PYTHON, pythonMissing } from "../helpers/python.js";
import { LLAMA2C } from "../helpers/shared.js";

const ORACLE = fileURLToPath(new URL("../oracles/llama2c_grad.py", import.meta.url));

const missing = LLAMA2C ? pythonMissing("torch, numpy") : undefined;
if (missing && !process.env.CI) console.warn(`skipping the PyTorch gradient oracle: ${missing} (install python3-torch)`);

/** A graph with its constant `name` holding `data` instead (everything else shared). */
function withConstant(graph: Graph, name: string, data: Float32Array): Graph {
  const values = new Map(graph.values);
  values.set(name, { ...graph.values.get(name)!, data });
  return { ...graph, values };
}

describe.skipIf(!LLAMA2C || (missing && !process.env.CI))("gradients of stories260K against PyTorch (float64)", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it("loss and the gradients of the embedding and every RMSNorm weight agree", async () => {
    expect(missing, "CI must have python3-torch").toBeUndefined();
    const model = await loadModel({ model: LLAMA2C!.model, tokenizer: LLAMA2C!.tokenizer, maxChunk: 32 });
    const graph = allPositions(model.graph);
    const EMB = "tok_embeddings.weight";
    const { nLayers, dim, vocabSize } = graph.model.config as { nLayers: number; dim: number; vocabSize: number };
    expect(graph.values.get(EMB)?.shape).toEqual([vocabSize, dim]);
    const norms = [
      ...Array.from({ length: nLayers }, (_, l) => `layers.${l}.attention_norm.weight`),
      ...Array.from({ length: nLayers }, (_, l) => `layers.${l}.ffn_norm.weight`),
      "norm.weight",
    ];
    for (const n of norms) expect(graph.values.get(n)?.kind, n).toBe("const");

    const tok = createTokenizer(model.tokenizer!) as Llama2cTokenizer;
    const tokens = Int32Array.from(
      tok.encode("Once upon a time, there was a little girl named Lily. She loved to play in the park.", { bos: true }).slice(0, 24),
    );
    expect(tokens.length).toBe(24);
    expect(tokens[0]).toBe(1);
    const T = tokens.length;
    const feeds = { tokens, pos: Int32Array.of(0) };

    // The teacher: the unperturbed model's logits on the same tokens.
    const teacher = new Interpreter(graph).run(feeds)[graph.outputs[0]].data as Float32Array;
    expect(teacher.length).toBe(T * vocabSize);

    // The student: the same model with the embedding table perturbed (lookup and tied head both).
    const original = graph.values.get(EMB)!.data as Float32Array;
    const noise = randomF32(original.length, 7, 0.05);
    const embedding = Float32Array.from(original, (x, i) => x + noise[i]);
    const student = withConstant(graph, EMB, embedding);
    const tape = forward(new Interpreter(student), feeds);
    const logits = tape.env.get(student.outputs[0])!.data as Float32Array;
    const w = { kl: 0.7, ce: 0.4 },
      tau = 2;
    const { loss, dLogits } = nextTokenLoss(logits, teacher, tokens, w, tau);
    // The last position predicts nothing: its gradient is zero.
    expect(dLogits.subarray((T - 1) * vocabSize).every((x) => x === 0)).toBe(true);
    const wrt = [EMB, ...norms];
    const grads = backward(tape, { [student.outputs[0]]: dLogits }, wrt);

    // The oracle, on the same embedding and teacher (only the T − 1 scored rows).
    const dir = mkdtempSync(join(tmpdir(), "seec-grad-oracle-"));
    dirs.push(dir);
    writeFileSync(join(dir, "embedding.f32"), embedding);
    writeFileSync(join(dir, "teacher.f32"), teacher.subarray(0, (T - 1) * vocabSize));
    writeFileSync(
      join(dir, "request.json"),
      JSON.stringify({
        tokens: Array.from(tokens),
        embedding: "embedding.f32",
        teacher_logits: "teacher.f32",
        kl_weight: w.kl,
        ce_weight: w.ce,
        temperature: tau,
      }),
    );
    const r = spawnSync(PYTHON, [ORACLE, LLAMA2C!.model, join(dir, "request.json"), join(dir, "out.bin")], {
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(r.error, r.error?.message).toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    const out = readFileSync(join(dir, "out.bin"));
    const ref = new Float64Array(out.buffer, out.byteOffset, out.byteLength / 8);
    const sizes = [vocabSize * dim, nLayers * dim, nLayers * dim, dim];
    expect(ref.length).toBe(1 + sizes.reduce((a, b) => a + b, 0));

    // Torch's tensors into seec's names: rms_att [L, dim] and rms_ffn [L, dim] split by layer.
    const expected = new Map<string, Float64Array>();
    let at = 1;
    expected.set(EMB, ref.subarray(at, (at += sizes[0])));
    for (const kind of ["attention_norm", "ffn_norm"])
      for (let l = 0; l < nLayers; l++) expected.set(`layers.${l}.${kind}.weight`, ref.subarray(at, (at += dim)));
    expected.set("norm.weight", ref.subarray(at, (at += dim)));

    const lossRel = Math.abs(loss - ref[0]) / Math.abs(ref[0]);
    const rows: string[] = [`loss seec ${loss.toPrecision(10)} torch ${ref[0].toPrecision(10)} rel ${lossRel.toExponential(2)}`];
    const rel = new Map<string, number>();
    for (const name of wrt) {
      const g = grads.get(name)!,
        e = expected.get(name)!;
      expect(g.length, name).toBe(e.length);
      let num = 0,
        den = 0,
        maxAbs = 0,
        maxRef = 0;
      for (let i = 0; i < g.length; i++) {
        num += (g[i] - e[i]) ** 2;
        den += e[i] ** 2;
        maxAbs = Math.max(maxAbs, Math.abs(g[i] - e[i]));
        maxRef = Math.max(maxRef, Math.abs(e[i]));
      }
      rel.set(name, Math.sqrt(num / den));
      rows.push(
        `${name.padEnd(30)} ||Δ||/||g|| ${Math.sqrt(num / den).toExponential(2)}  max |Δ| ${maxAbs.toExponential(2)} (max |g| ${maxRef.toExponential(2)})`,
      );
    }
    console.log(`gradient oracle, ${T} tokens:\n  ${rows.join("\n  ")}`);

    expect(lossRel).toBeLessThan(1e-5);
    for (const [name, r] of rel) expect(r, name).toBeLessThan(1e-4);
  });
});
