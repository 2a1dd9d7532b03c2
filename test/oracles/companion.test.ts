// The PyTorch companion (companion/see_distill.py) runs the same SEE stage 2 as `seec distill`:
// on stories260K with factors from seec factorize at 4x, one step's loss and the gradient of every
// factor table (and, with --train all, of every trained model weight) equal seec's stepGradients
// within 1e-4 relative — once on one process, once on two (torch.distributed, gloo) sharing the
// batch, and once for product quantization's factors (a u8 code per rank term). And a short companion training run, on two processes, writes a .see that seec builds and
// evaluates.
//
// Needs /usr/bin/python3 with torch (Debian's python3-torch): skipped, saying so, where it is
// missing, except in CI, where a missing torch fails the test instead.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel, type LoadedModel } from "../../compiler/frontends/load.js";
import type { SeeFactors } from "../../compiler/factors/factors.js";
import { readSee, writeSee } from "../../compiler/factors/format.js";
import { readSafetensors } from "../../compiler/factors/safetensors.js";
import { DEFAULT_DISTILL, stepGradients, type Trainable } from "../../compiler/see/distill.js";
import { factorize } from "../../compiler/see/factorize.js";
import { createTokenizer } from "../../runtime/tokenizers/index.js";
import { Llama2cTokenizer } from "../../runtime/tokenizers/llama2c-bpe.js";
import { runCommand, seec } from "../helpers/cli.js";
import { catchSeec } from "../helpers/errors.js";
import { relError } from "../helpers/random.js";
import { tmpDir } from "../helpers/compile.js";
import { PYTHON, pythonMissing } from "../helpers/python.js";
import { LLAMA2C, sharedPath } from "../helpers/shared.js";

const COMPANION = fileURLToPath(new URL("../../companion/see_distill.py", import.meta.url));
const VAL = sharedPath("eval/tinystories/val_a.txt");

const missing = LLAMA2C ? pythonMissing("torch, numpy, torch.distributed") : undefined;
if (missing && !process.env.CI) console.warn(`skipping the PyTorch companion's test: ${missing} (install python3-torch)`);

/** A command with one thread for PyTorch and no bytecode written beside the companion's sources. */
function run(cmd: string, args: string[], cwd?: string) {
  return runCommand(cmd, args, { cwd, env: { ...process.env, OMP_NUM_THREADS: "1", PYTHONDONTWRITEBYTECODE: "1" } });
}

/**
 * The companion on `processes` processes: torchrun (`python3 -m torch.distributed.run`) for more
 * than one. `--redirects 1 --tee 1`: Debian's torch 1.13 on Python 3.11 cannot parse the default
 * "0" (no redirect) of either.
 */
function companion(args: string[], processes: number, logDir: string) {
  const launch =
    processes > 1
      ? [
          "-m",
          "torch.distributed.run",
          "--standalone",
          "--nproc_per_node",
          String(processes),
          "--redirects",
          "1",
          "--tee",
          "1",
          "--log_dir",
          logDir,
          COMPANION,
        ]
      : [COMPANION];
  return run(PYTHON, [...launch, ...args]);
}

describe.skipIf(!LLAMA2C || !VAL || (missing && !process.env.CI))("the PyTorch companion against seec distill (stories260K)", () => {
  let work: string, s1: string, model: LoadedModel, factors: SeeFactors, batch: Int32Array[];
  // Product quantization's factors too: a code per rank term, its index u8 [rank, vocab].
  let pq: { file: string; factors: SeeFactors };
  beforeAll(async () => {
    expect(missing, "CI must have python3-torch").toBeUndefined();
    work = await tmpDir();
    model = await loadModel({ model: LLAMA2C!.model, tokenizer: LLAMA2C!.tokenizer, maxChunk: 32 });
    ({ factors } = await factorize(model, { method: "see", ratio: 4, seed: 0, segmentation: "lexicon", epochs: 5 }));
    s1 = join(work, "s1.see");
    writeFileSync(s1, writeSee(factors));
    // The file the companion reads is the one seec reads back: the comparison starts from the same factors.
    factors = readSee(readFileSync(s1), s1);
    expect(factors.slots.some((s) => "bag" in s)).toBe(true);
    const pqFile = join(work, "pq.see");
    writeFileSync(pqFile, writeSee((await factorize(model, { method: "pq", ratio: 4, seed: 0, segmentation: "lexicon" })).factors));
    pq = { file: pqFile, factors: readSee(readFileSync(pqFile), pqFile) };
    const tok = createTokenizer(model.tokenizer!) as Llama2cTokenizer;
    // Two sequences of different lengths (the companion pads; seec runs each whole).
    batch = [
      Int32Array.from(tok.encode("Once upon a time, there was a little girl named Lily. She loved to play.", { bos: true }).slice(0, 20)),
      Int32Array.from(tok.encode("The big dog ran to the park and found a red ball.", { bos: true }).slice(0, 14)),
    ];
    writeFileSync(join(work, "batch.json"), JSON.stringify({ tokens: batch.map((b) => Array.from(b)) }));
  }, 60_000);

  it("encodes text as seec's llama2.c tokenizer does (--data)", async () => {
    const texts = ["Once upon a time, there was a little girl named Lily.", "Tom's café — naïve 😀 dog!\tTab", "a"];
    const script = `import sys, json; sys.path.insert(0, ${JSON.stringify(fileURLToPath(new URL("../../companion", import.meta.url)))}); import llama2c
tok = llama2c.Tokenizer(sys.argv[1], int(sys.argv[2])); print(json.dumps([tok.encode(t) for t in json.loads(sys.argv[3])]))`;
    const r = await run(PYTHON, ["-c", script, LLAMA2C!.tokenizer, "512", JSON.stringify(texts)]);
    expect(r.code, r.stderr).toBe(0);
    const tok = createTokenizer(model.tokenizer!) as Llama2cTokenizer;
    expect(JSON.parse(r.stdout)).toEqual(texts.map((t) => tok.encode(t, { bos: true })));
  });

  it("writes .see files as seec does: pq's u8 codes byte for byte, an index out of range widened so that readers name it, perTerm only true", async () => {
    const [same, wide, odd] = ["same.see", "wide.see", "odd.see"].map((f) => join(work, f));
    const script = `import sys; sys.path.insert(0, ${JSON.stringify(fileURLToPath(new URL("../../companion", import.meta.url)))})
from see_format import read_see, write_see, SeeError
f = read_see(sys.argv[1]); write_see(sys.argv[2], f)
f["slots"][1]["index"][0, 5] = 261; f["slots"][1]["index"][0, 6] = -3; write_see(sys.argv[3], f)
f = read_see(sys.argv[1]); f["spec"]["slots"][1]["perTerm"] = 1; write_see(sys.argv[4], f)
try:
    read_see(sys.argv[4])
except SeeError as e:
    print(e)`;
    const r = await run(PYTHON, ["-c", script, pq.file, same, wide, odd]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(same)).toEqual(readFileSync(pq.file));
    expect(catchSeec(() => readSee(readFileSync(wide), wide))).toMatchObject({
      code: "input.see",
      message: expect.stringMatching(/index\.1/),
    });
    expect(r.stdout).toContain("slot 1: perTerm must be true or absent");
    expect(catchSeec(() => readSee(readFileSync(odd), odd))).toMatchObject({
      code: "input.see",
      message: "slot 1: perTerm must be true or absent",
    });
  });

  const cases: { train: Trainable; kl: number; ce: number; temperature: number; processes: number; pq?: boolean }[] = [
    { train: "factors", kl: 1, ce: 0.1, temperature: 1, processes: 1 },
    { train: "all", kl: 0.7, ce: 0.4, temperature: 2, processes: 2 },
    { train: "factors", kl: 1, ce: 0.1, temperature: 1, processes: 1, pq: true },
  ];
  for (const c of cases)
    it(`${c.pq ? "pq factors, " : ""}--train ${c.train}, τ ${c.temperature}, ${c.processes} process${c.processes > 1 ? "es" : ""}: one step's loss and every gradient within 1e-4`, async () => {
      const [file, start] = c.pq ? [pq.file, pq.factors] : [s1, factors];
      const opts = {
        ...DEFAULT_DISTILL,
        seed: 0,
        train: c.train,
        temperature: c.temperature,
        loss: { ...DEFAULT_DISTILL.loss, kl: c.kl, ce: c.ce },
      };
      const ours = stepGradients(model, start, batch, opts);
      const out = join(work, `grads-${c.train}${c.pq ? "-pq" : ""}.safetensors`);
      const r = await companion(
        [
          LLAMA2C!.model,
          "--see",
          file,
          "--check-step",
          join(work, "batch.json"),
          "--check-out",
          out,
          "--float64",
          "--train",
          c.train,
          "--kl",
          String(c.kl),
          "--ce",
          String(c.ce),
          "--temperature",
          String(c.temperature),
        ],
        c.processes,
        work,
      );
      expect(r.code, r.stderr).toBe(0);
      const { metadata, tensors } = readSafetensors(readFileSync(out), out);
      expect(Number(metadata.processes)).toBe(c.processes);
      const theirs = Number(metadata.loss);
      const rows = [
        `loss seec ${ours.loss.toPrecision(10)} companion ${theirs.toPrecision(10)} rel ${(Math.abs(ours.loss - theirs) / Math.abs(theirs)).toExponential(2)}`,
      ];
      expect(Math.abs(ours.loss - theirs) / Math.abs(theirs)).toBeLessThan(1e-4);
      expect([...tensors.keys()].sort()).toEqual(Object.keys(ours.grads).sort());
      let worst = 0;
      for (const [name, g] of Object.entries(ours.grads)) {
        const t = tensors.get(name)!.data;
        expect(t.length, name).toBe(g.length);
        const e = relError(g, t);
        worst = Math.max(worst, e);
        if (!name.startsWith("model.") || /norm|layers\.0\.attention\.wq/.test(name)) rows.push(`${name.padEnd(40)} ${e.toExponential(2)}`);
        expect(e, name).toBeLessThan(1e-4);
      }
      rows.push(`worst of ${Object.keys(ours.grads).length} gradients ${worst.toExponential(2)}`);
      console.log(`companion --train ${c.train} (${c.processes} process(es)) against seec's stepGradients:\n  ${rows.join("\n  ")}`);
      if (c.train === "all") expect(Object.keys(ours.grads).filter((n) => n.startsWith("model."))).toHaveLength(5 * 7 + 11);
    }, 60_000);

  it("trains 3 steps on two processes and writes a see/2 file that seec builds and evaluates", async () => {
    const s2 = join(work, "s2.see");
    const r = await companion(
      [
        LLAMA2C!.model,
        "--see",
        s1,
        "--train",
        "norms",
        "--steps",
        "3",
        "--samples",
        "8",
        "--sequence",
        "16",
        "--batch",
        "2",
        "--eval-every",
        "1",
        "--lr",
        "0.05",
        "-o",
        s2,
      ],
      2,
      work,
    );
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(
      r.stdout
        .trim()
        .split("\n")
        .pop()!
        .replace(/^\[default0\]:/, ""),
    );
    expect(report.processes).toBe(2);
    expect(report.loss).toHaveLength(3);
    const f = readSee(readFileSync(s2), s2);
    expect(f.spec.format).toBe("see/2");
    expect(Object.keys(f.weights!)).toHaveLength(11);
    const dir = join(work, "built");
    const b = await seec("build", LLAMA2C!.model, "--tokenizer", LLAMA2C!.tokenizer, "--see", s2, "-o", dir);
    expect(b.code, b.stderr).toBe(0);
    const e = await seec("eval", dir, "--nll", VAL!, "--limit", "5", "--json");
    expect(e.code, e.stderr).toBe(0);
    const nll = JSON.parse(e.stdout).nll as number;
    console.log(
      `companion, 3 steps on 2 processes: held-out ${report.heldOut.before.toFixed(4)} -> ${report.heldOut.best.toFixed(4)}; seec eval NLL ${nll.toFixed(4)}`,
    );
    expect(Number.isFinite(nll)).toBe(true);
    expect(nll).toBeGreaterThan(0);
  }, 120_000);
});
