// npm run demo as a user runs it, and the stage-2 factors it ships: the file is what its command
// in compiler/cli/demo.ts makes (SEEC_LONG=1 reruns that command, ~25 minutes, and compares the
// bytes), and in the demo the distilled factors keep the model's similarities better than stage 1.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { DISTILLED_20X } from "../../compiler/cli/demo.js";
import { parameterCount } from "../../compiler/factors/factors.js";
import { readSee } from "../../compiler/factors/format.js";
import { seec } from "../helpers/cli.js";
import { tmpDir } from "../helpers/compile.js";
import { USE_DIR } from "../helpers/use-lite.js";

const FILE = fileURLToPath(new URL(`../../${DISTILLED_20X}`, import.meta.url));

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

  it("ships stage-2 factors for USE-Lite's embedding at 20x", () => {
    const f = readSee(readFileSync(FILE), FILE);
    expect(f.spec.replaces).toBe("module/Embeddings_en");
    expect([f.spec.vocab, f.spec.dim]).toEqual([8002, 256]);
    expect((8002 * 256) / parameterCount(f.spec)).toBeCloseTo(20.54, 1);
  });

  it("prints three similarity matrices, stage 2 closer to the original's than stage 1", async () => {
    const r = await seec("demo", "-o", join(work, "demo"));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("SEE 20.5x, stage 2: distilled through the network");
    const [dense, stage1, stage2] = matrices(r.stdout);
    expect(dense).toHaveLength(5);
    const gap = (m: number[][]) => Math.max(...m.flatMap((row, i) => row.map((c, j) => Math.abs(c - dense[i][j]))));
    console.log(`demo: largest gap to the original's similarities, stage 1 ${gap(stage1).toFixed(3)}, stage 2 ${gap(stage2).toFixed(3)}`);
    expect(gap(stage2)).toBeLessThan(gap(stage1));
    // Under each compressed matrix, how far it is from the original's: the largest gap, where.
    const said = [
      ...r.stdout.matchAll(/off the original by (\d\.\d{3}) a pair on average, at most (\d\.\d{3}) \(sentences (\d) and (\d)\)/g),
    ];
    expect(said).toHaveLength(2);
    said.forEach((m, k) => {
      const matrix = [stage1, stage2][k];
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
});
