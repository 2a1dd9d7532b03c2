#!/usr/bin/env node
// Mutation testing of the AssemblyScript kernels (issue 27, docs/MUTATION.md). Stryker cannot
// instrument AssemblyScript, so this swaps one thing at a time in a kernel file: + and -, * to +,
// < and <=, > and >=, == and !=, a numeric constant n to n + 1. Each mutant is written into a
// temporary copy of the repository (node_modules linked), never into this checkout, and the
// kernel's tests run there; a mutant that fails to compile or fails a test is killed.
//   node scripts/mutate-kernels.mjs [norm linear ...] [--max N] [--timeout S]
// N: at most N mutants per file, spread evenly over it (default all); S: seconds per test run.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SHARED = process.env.SEEC_SHARED ?? resolve(ROOT, "../shared");

/** One query row's attention: width 5 takes the scalar attendKeys, width 8 attendRow's SIMD chunks of 128 keys; both. */
const ATTENTION_ROWS = {
  files: ["test/targets/wasm/kernels.test.ts"],
  filter: "wasm-simd kernels .*(Attention with [68] query heads|SelfAttention)",
};

/**
 * Each kernel file: the tests that exercise it (vitest files and a -t filter on the wasm-simd flavour, which uses kernels/;
 * the wasm-relaxed one for a file of kernels-relaxed/, named by `path`).
 */
const KERNELS = {
  norm: {
    files: ["test/targets/wasm/kernels.test.ts"],
    filter: "wasm-simd kernels .*(RMSNorm over 19 features$|LayerNorm over 19|L2Normalize over 19)",
  },
  linear: {
    files: ["test/targets/wasm/kernels.test.ts"],
    filter: "wasm-simd kernels .*(Linear with weights too big|Linear row-major past)",
  },
  attention: {
    files: ["test/targets/wasm/kernels.test.ts"],
    filter: "wasm-simd kernels .*(Attention with 6 query heads|SelfAttention|ScaledAttention)",
  },
  "attend-row": ATTENTION_ROWS,
  "online-softmax": ATTENTION_ROWS,
  rope: { files: ["test/targets/wasm/kernels.test.ts"], filter: "wasm-simd kernels .*RoPE" },
  elementwise: { files: ["test/targets/wasm/kernels.test.ts"], filter: "wasm-simd kernels .*(Add|SwiGLU|Tanh|AddRows|MeanRows)" },
  "linear-kn": {
    files: ["test/targets/wasm/kernels.test.ts"],
    filter: "wasm-simd kernels .*(Linear with (K=|weights stored transposed)|Linear kn past)",
  },
  "linear-n4": {
    files: ["test/targets/wasm/kernels.test.ts"],
    filter: "wasm-simd kernels .*(Linear with rows interleaved in fours|Linear n4 past)",
  },
  indexing: {
    files: ["test/targets/wasm/kernels.test.ts", "test/targets/wasm/qgather-kernels.test.ts"],
    filter: "wasm-simd (kernels .*(Gather|LastRow)|QGather)",
  },
  entangled: { files: ["test/targets/wasm/see-kernels.test.ts"], filter: "SEE kernels .*wasm-simd" },
  "linear-q8": { files: ["test/targets/wasm/kernels.test.ts"], filter: "wasm-simd (kernels .*QLinear|QLinear's integer arithmetic)" },
  "linear-q4": { files: ["test/targets/wasm/q4-kernels.test.ts"], filter: "wasm-simd Q4Linear matches" },
  // Pooling: MeanLinear and MeanQLinear over T rows (one text a call), and per text once packed.
  "mean-linear": {
    files: ["test/targets/wasm/kernels.test.ts", "test/passes/pool-early.test.ts"],
    filter: "wasm-simd(:| kernels .*Mean(Q)?Linear)",
  },
  "per-text": {
    files: ["test/targets/wasm/kernels.test.ts", "test/passes/pack-texts.test.ts"],
    filter: "wasm-simd (compiled|kernels .*per text)",
  },
  // The general tensor ops' kernels (MatMul, Softmax, erf in Map); expf also serves the attention kernels.
  tensor: { files: ["test/targets/wasm/kernels.test.ts"], filter: "wasm-simd kernels .*(MatMul|Softmax|erf)" },
  math: { files: ["test/targets/wasm/kernels.test.ts"], filter: "wasm-simd kernels .*(Softmax|SelfAttention|Attention with 6)" },
  // The Linear family's bias, ReLU and residual.
  epilogue: {
    files: ["test/targets/wasm/kernels.test.ts", "test/targets/wasm/q4-kernels.test.ts"],
    filter: "wasm-simd (kernels .*(Linear with rows interleaved|past a first block)|Q4Linear matches .*epilogue)",
  },
  "attention-grad": { files: ["test/see/train-kernels.test.ts"], filter: "training kernels" },
  // The vector primitives every kernel is written with (dot products, horizontal sums, exp): every kernel test of the flavour.
  simd: { files: ["test/targets/wasm/kernels.test.ts"], filter: "wasm-simd kernels" },
  // A Q4_0 block's f16 scale as f32.
  f16: { files: ["test/targets/wasm/q4-kernels.test.ts"], filter: "wasm-simd Q4Linear matches" },
  // The split of a node's work over threads, against one thread's logits.
  threads: { files: ["test/runtime/threads.test.ts"], filter: "two threads give one thread's logits exactly" },
  // kernels-relaxed/: the wasm-relaxed flavour's override (Node 20 runs it with --experimental-wasm-relaxed-simd, which the test files set).
  "relaxed/linear-q4": {
    path: "targets/wasm/kernels-relaxed/linear-q4.ts",
    files: ["test/targets/wasm/q4-kernels.test.ts"],
    filter: "wasm-relaxed Q4Linear",
  },
};

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  args.splice(i, 2);
  return value;
};
const max = option("--max", Infinity);
const timeoutS = option("--timeout", 300);
const names = args.length ? args : ["norm", "linear", "attention"];

/** Spans of `src` that are code (not comments or strings). */
function codeMask(src) {
  const code = new Uint8Array(src.length).fill(1);
  for (const m of src.matchAll(/\/\/[^\n]*|\/\*[\s\S]*?\*\/|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g))
    code.fill(0, m.index, m.index + m[0].length);
  return code;
}

/** Every single-site mutant of `src`: { at, from, to, line }. */
export function mutants(src) {
  const code = codeMask(src);
  const found = [];
  const add = (at, from, to) => {
    if (code[at]) found.push({ at, from, to, line: src.slice(0, at).split("\n").length });
  };
  // Binary operators written with spaces around them (so not ++, +=, unary minus, generics or =>).
  const swaps = { "+": "-", "-": "+", "*": "+", "<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "==" };
  for (const m of src.matchAll(/ (\+|-|\*|<=|>=|<|>|==|!=) /g)) add(m.index + 1, m[1], swaps[m[1]]);
  // Numeric constants (not hex, not digits inside names such as f32 or v128).
  for (const m of src.matchAll(/(?<![\w.])(\d+\.\d*|\d+)(e-?\d+)?(?![\w.])/g)) {
    if (src.slice(m.index - 1, m.index + 1) === "<" + m[0][0] && /^<\d/.test(src.slice(m.index - 1))) continue;
    const value = Number(m[0]);
    const to = m[0].includes(".") || m[2] ? String(value + 1 === value ? value * 2 : value + 1) : String(value + 1);
    add(m.index, m[0], m[0].includes(".") && !to.includes(".") && !to.includes("e") ? `${to}.0` : to);
  }
  return found.sort((a, b) => a.at - b.at);
}

function sandbox() {
  const dir = mkdtempSync(join(tmpdir(), "seec-mutate-kernels-"));
  cpSync(ROOT, dir, {
    recursive: true,
    filter: (src) => !/[/\\](node_modules|\.git|out|\.stryker-tmp|\.seec-cache|test-output)$/.test(src),
  });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

function runTests(dir, { files, filter }) {
  const started = Date.now();
  const r = spawnSync("npx", ["vitest", "run", ...files, "-t", filter, "--reporter=dot", "--bail=1"], {
    cwd: dir,
    env: { ...process.env, SEEC_SHARED: SHARED, NO_COLOR: "1" },
    encoding: "utf8",
    timeout: timeoutS * 1000,
  });
  const seconds = (Date.now() - started) / 1000;
  if (r.error?.code === "ETIMEDOUT" || r.signal) return { status: "timeout", seconds };
  const passed = Number(/Tests\s+(\d+) passed/.exec(r.stdout)?.[1] ?? 0);
  return { status: r.status === 0 ? "survived" : "killed", seconds, passed };
}

const dir = sandbox();
const results = [];
try {
  for (const name of names) {
    const kernel = KERNELS[name];
    if (!kernel) throw new Error(`no tests known for kernel ${name} (${Object.keys(KERNELS).join(", ")})`);
    const rel = kernel.path ?? `targets/wasm/kernels/${name}.ts`;
    const original = readFileSync(join(ROOT, rel), "utf8");
    const all = mutants(original);
    const step = all.length / Math.min(max, all.length);
    const chosen = Array.from({ length: Math.min(max, all.length) }, (_, i) => all[Math.floor(i * step)]);
    const baseline = runTests(dir, kernel);
    if (baseline.status !== "survived" || !baseline.passed)
      throw new Error(`${name}: the kernel's tests fail before any mutation (${baseline.status})`);
    console.log(
      `${rel}: ${all.length} mutants, testing ${chosen.length}; unmutated tests pass (${baseline.passed} tests, ${baseline.seconds.toFixed(1)} s)`,
    );
    const tally = { killed: 0, survived: 0, timeout: 0 };
    const started = Date.now();
    try {
      for (const m of chosen) {
        writeFileSync(join(dir, rel), original.slice(0, m.at) + m.to + original.slice(m.at + m.from.length));
        const r = runTests(dir, kernel);
        tally[r.status]++;
        const context = original.split("\n")[m.line - 1].trim().slice(0, 100);
        console.log(
          `  ${r.status.padEnd(8)} ${rel}:${m.line} ${m.from} -> ${m.to}  (${r.seconds.toFixed(1)} s)  ${r.status === "survived" ? context : ""}`,
        );
      }
    } finally {
      writeFileSync(join(dir, rel), original);
    }
    const tested = chosen.length;
    const score = tested ? (100 * (tally.killed + tally.timeout)) / tested : 100;
    const minutes = (Date.now() - started) / 60000;
    results.push({ file: rel, total: all.length, tested, ...tally, score, minutes });
    console.log(
      `${rel}: ${tally.killed} killed, ${tally.timeout} timed out, ${tally.survived} survived of ${tested}: score ${score.toFixed(1)}% (${minutes.toFixed(1)} min)`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log("\n| file | mutants | tested | killed | timeout | survived | score | minutes |\n|---|---|---|---|---|---|---|---|");
for (const r of results)
  console.log(
    `| ${r.file} | ${r.total} | ${r.tested} | ${r.killed} | ${r.timeout} | ${r.survived} | ${r.score.toFixed(1)}% | ${r.minutes.toFixed(1)} |`,
  );
