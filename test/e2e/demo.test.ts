// npm run demo as a user runs it, and the stage-2 factors it ships: each file is what its command
// in compiler/cli/demo.ts makes (SEEC_LONG=1 reruns those commands, ~35 minutes, and compares the
// bytes), and in the demo the distilled factors keep the model's similarities better than stage 1,
// and product quantization's keep every pair within 0.05 of the original's.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { DISTILLED_20X, DISTILLED_PQ } from "../../compiler/cli/demo.js";
import { parameterCount } from "../../compiler/factors/factors.js";
import { readSee } from "../../compiler/factors/format.js";
import { seec } from "../helpers/cli.js";
import { tmpDir } from "../helpers/compile.js";
import { USE_DIR } from "../helpers/use-lite.js";

const FILE = fileURLToPath(new URL(`../../${DISTILLED_20X}`, import.meta.url));
const PQ_FILE = fileURLToPath(new URL(`../../${DISTILLED_PQ}`, import.meta.url));

/** The similarity matrices the demo printed, in order. */
function matrices(stdout: string): number[][][] {
  const blocks = stdout.split(/\n(?=\S)/).filter((b) => /^\s+1\s/m.test(b));
  return blocks.map((b) =>
    b
      .split("\n")
      .filter((l) => /^\s+\d\s+-?\d\.\d{3}/.test(l))
      .map((l) => l.trim().split(/\s+/).slice(1).map(Number)),
  );
}

describe("the demo", () => {
  let work: string;
  beforeAll(async () => {
    work = await tmpDir();
  });

  it("ships stage-2 factors for USE-Lite's embedding: SEE at 20x, and product quantization", () => {
    const f = readSee(readFileSync(FILE), FILE);
    expect(f.spec.replaces).toBe("module/Embeddings_en");
    expect([f.spec.vocab, f.spec.dim]).toEqual([8002, 256]);
    expect((8002 * 256) / parameterCount(f.spec)).toBeCloseTo(20.54, 1);
    const pq = readSee(readFileSync(PQ_FILE), PQ_FILE);
    expect([pq.spec.method, pq.spec.replaces, pq.spec.rank]).toEqual(["pq", "module/Embeddings_en", 128]);
    expect((8002 * 256) / parameterCount(pq.spec)).toBeCloseTo(25.01, 1);
  });

  it("prints four similarity matrices, SEE's stage 2 closer to the original's than stage 1, pq's within 0.05 in every cell", async () => {
    const r = await seec("demo", "-o", join(work, "demo"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("SEE 20.5x, stage 2: distilled through the network");
    expect(r.stdout).toContain("pq 25.0x, product quantization, stage 2 (1.30 MiB shipped: 6.0x by bytes)");
    const [dense, stage1, stage2, pq] = matrices(r.stdout);
    expect(dense).toHaveLength(5);
    const gap = (m: number[][]) => Math.max(...m.flatMap((row, i) => row.map((c, j) => Math.abs(c - dense[i][j]))));
    const mean = (m: number[][]) =>
      m.flatMap((row, i) => row.slice(i + 1).map((c, j) => Math.abs(c - dense[i][i + 1 + j]))).reduce((a, b) => a + b) / 10;
    console.log(
      `demo: largest gap to the original's similarities, stage 1 ${gap(stage1).toFixed(3)}, stage 2 ${gap(stage2).toFixed(3)}, pq ${gap(pq).toFixed(3)}`,
    );
    expect(gap(stage2)).toBeLessThan(gap(stage1));
    expect(gap(pq)).toBeLessThan(0.05); // 0.043 when written (the interpreter's figure; 0.025 a pair)
    // Under each compressed matrix, how far it is from the original's: the largest gap, where.
    const said = [
      ...r.stdout.matchAll(/off the original by (\d\.\d{3}) a pair on average, at most (\d\.\d{3}) \(sentences (\d) and (\d)\)/g),
    ];
    expect(said).toHaveLength(3);
    said.forEach((m, k) => {
      const matrix = [stage1, stage2, pq][k];
      expect(Number(m[1])).toBeCloseTo(mean(matrix), 2);
      expect(Number(m[2])).toBeCloseTo(gap(matrix), 2);
      const [i, j] = [Number(m[3]) - 1, Number(m[4]) - 1];
      expect(Math.abs(matrix[i][j] - dense[i][j])).toBeCloseTo(gap(matrix), 2);
    });
  }, 240_000);

  it.runIf(process.env.SEEC_LONG === "1")(
    "the shipped file is what its command makes (SEEC_LONG=1, ~25 minutes)",
    async () => {
      const s1 = join(work, "s1.see"),
        s2 = join(work, "use-lite-see20.see");
      expect((await seec("factorize", USE_DIR, "--ratio", "20", "--seed", "0", "-o", s1)).code).toBe(0);
      const d = await seec(
        "distill",
        USE_DIR,
        "--see",
        s1,
        "--steps",
        "2000",
        "--batch",
        "16",
        "--lr",
        "0.03",
        "--sentences",
        "20000",
        "--eval-every",
        "200",
        // Made before an encoder's data covered the vocabulary by default.
        "--no-cover",
        "-o",
        s2,
      );
      expect(d.code, d.stderr).toBe(0);
      expect(Buffer.compare(readFileSync(s2), readFileSync(FILE))).toBe(0);
    },
    3_600_000,
  );

  it.runIf(process.env.SEEC_LONG === "1")(
    "the shipped pq file is what its command makes (SEEC_LONG=1, ~15 minutes)",
    async () => {
      const s1 = join(work, "pq1.see"),
        s2 = join(work, "use-lite-pq.see");
      expect((await seec("factorize", USE_DIR, "--method", "pq", "--ratio", "20", "--rank", "128", "--seed", "0", "-o", s1)).code).toBe(0);
      const flags = [
        "--steps",
        "600",
        "--batch",
        "16",
        "--lr",
        "0.0005",
        "--sentences",
        "20000",
        "--similarity",
        "4",
        "--threads",
        "1",
        "--seed",
        "0",
      ];
      const d = await seec("distill", USE_DIR, "--see", s1, ...flags, "-o", s2);
      expect(d.code, d.stderr).toBe(0);
      expect(Buffer.compare(readFileSync(s2), readFileSync(PQ_FILE))).toBe(0);
    },
    3_600_000,
  );
});
