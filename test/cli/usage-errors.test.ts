// Commander's own errors (an unknown option or command, a missing argument, a value a parser
// refused) read like every other seec error: one line, error[usage.*], exit 2, where to look.
import { describe, expect, it } from "vitest";
import { seec } from "../helpers/cli.js";

describe("usage errors from the command line parser", () => {
  it.each([
    [["build", "--bogus", "m.bin"], "usage.unknown_option", "unknown option '--bogus' (hint: seec build --help lists the options)"],
    [["run"], "usage.missing_argument", "missing required argument 'dir' (hint: seec run --help lists the options)"],
    [["distill", "m.bin", "--see", "a.see", "-o", "b.see", "--steps", "abc"], "usage.invalid_argument", "argument 'abc' is invalid"],
    [["frobnicate"], "usage.unknown_command", "unknown command 'frobnicate' (hint: seec --help lists the options)"],
    [["help", "bogus"], "usage.unknown_command", "unknown command 'bogus' (hint: seec --help lists the commands)"],
    [["build", "m.bin", "--target", "nope"], "usage.invalid_argument", "Allowed choices are wasm-simd"],
    [
      ["factorize", "m.bin", "--method", "svd", "--order", "3", "-o", "f.see"],
      "usage.option",
      "--order sets digit slots; --method svd has none: given here it would do nothing",
    ],
    [
      ["factorize", "m.bin", "--method", "svd", "--sememes", "s.tsv", "-o", "f.see"],
      "usage.option",
      "--sememes gives SEE its knowledge; --method svd reads none: given here it would do nothing",
    ],
    [["build", "m.bin", "--decoder", "-o", "out"], "usage.decoder", "--decoder is for ONNX graphs with past/present pairs"],
    [["build", "m.onnx", "--shape", "x=1x8", "--shape", "x=1x16", "-o", "out"], "usage.invalid_argument", "the shape of x is given twice"],
    [["build", "m.bin", "--limit", "5", "-o", "out"], "usage.option", "--limit is for --stsb or --nll (the pairs or paragraphs scored)"],
    [["build", "m.bin", "--embed-head", "stream", "-o", "out"], "usage.option", "--embed-head is for a tied head over SEE factors"],
    [["build", "m.bin", "--tokenizer", "t.bin", "--no-tokenizer", "-o", "out"], "usage.tokenizer", "give one of them"],
    [["build", "m.bin", "--package", "Bad Name!!", "-o", "out"], "usage.invalid_argument", "expected an npm package name"],
    [
      ["factorize", "m.bin", "--method", "svd", "--epochs", "5", "-o", "f.see"],
      "usage.option",
      "--epochs weighs a fit; --method svd is exact",
    ],
    [
      ["factorize", "m.bin", "--method", "word2ketxs", "--segmentation", "random", "-o", "f.see"],
      "usage.option",
      "--segmentation splits the pieces into morphemes; --method word2ketxs reads none",
    ],
    [
      ["factorize", "m.bin", "--explain", "▁day", "-o", "f.see"],
      "usage.option",
      "--out with --explain: --explain only looks, and writes nothing",
    ],
    [
      ["factorize", "m.bin", "--explain", "▁day", "--ratio", "5"],
      "usage.option",
      "--ratio shapes a fit; --explain fits nothing: it shows how the pieces decompose",
    ],
    [
      ["factorize", "m.bin", "--context", "7", "-o", "f.see"],
      "usage.option",
      "--context sizes a compiled model's memory; factorize reads only the embedding",
    ],
    [["export-onnx", "m.bin", "--tokenizer", "t.bin"], "usage.option", "--tokenizer goes nowhere: the ONNX file holds the graph alone"],
    [
      ["export-gguf", "m.bin", "-o", "m.gguf"],
      "usage.missing_mandatory_option_value",
      "required option '--tokenizer <file>' not specified",
    ],
  ])("seec %j", async (args, code, text) => {
    const r = await seec(...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^seec: error\\[${code.replace(".", "\\.")}\\][ :]`));
    expect(r.stderr).toContain(text);
  });

  it("seec alone prints its help on stderr and exits 2, with no error line", async () => {
    const r = await seec();
    expect([r.code, r.stdout]).toEqual([2, ""]);
    expect(r.stderr).toMatch(/^Usage: seec \[options\] \[command\]/);
    expect(r.stderr).not.toContain("error[");
  });

  it("--help and --version still exit 0", async () => {
    expect((await seec("--help")).code).toBe(0);
    expect((await seec("distill", "--help")).code).toBe(0);
    expect((await seec("--version")).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
