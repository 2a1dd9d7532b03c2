// GGUF: the container and its tensor types, llama2.c models through `seec export-gguf` and back
// (the same artifact at f32; stated costs at f16, Q8_0 and Q4_0), and malformed files refused by name.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { evalNll } from "../../compiler/eval/nll.js";
import { readGguf } from "../../compiler/frontends/gguf.js";
import { readGgufContainer } from "../../compiler/frontends/gguf/container.js";
import { llamaToGguf } from "../../compiler/frontends/gguf/export-llama.js";
import { dequantize, quantize } from "../../compiler/frontends/gguf/quant.js";
import { GGML } from "../../compiler/frontends/gguf/tensor-types.js";
import { floatToHalf, halfToFloat } from "../../compiler/util/float16.js";
import { writeGguf } from "../../compiler/frontends/gguf/write.js";
import type { LlamaConfig, LlamaWeights } from "../../compiler/frontends/llama-graph.js";
import { readLlama2cCheckpoint } from "../../compiler/frontends/llama2c.js";
import { readLlama2cTokenizer } from "../../compiler/frontends/llama2c-tokenizer.js";
import { loadModel } from "../../compiler/frontends/load.js";
import type { Model } from "../../runtime/model.js";
import { seec } from "../helpers/cli.js";
import { loadWasm, tmpDir } from "../helpers/compile.js";
import { catchSeec, rejectsSeec } from "../helpers/errors.js";
import { maxAbsDiff, randomF32 } from "../helpers/random.js";
import { LLAMA2C, sharedPath } from "../helpers/shared.js";

describe("GGUF tensor types", () => {
  it("converts f16 both ways exactly where f16 can, rounding to nearest even otherwise", () => {
    for (const [x, h] of [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [2 ** -24, 0x0001], // the least subnormal
      [2 ** -14, 0x0400], // the least normal
      [1 + 2 ** -11, 0x3c00], // a tie: to the even mantissa
      [1 + 3 * 2 ** -11, 0x3c02],
      [65520, 0x7c00], // rounds past the largest: infinity
    ])
      expect([x, floatToHalf(x)]).toEqual([x, h]);
    for (let h = 0; h < 0x7c00; h += 7) expect(floatToHalf(halfToFloat(h))).toBe(h);
  });

  it("quantizes Q8_0 and Q4_0 blocks as ggml does: the scale from the largest magnitude", () => {
    const x = Float32Array.from({ length: 32 }, (_, i) => (i - 8) / 4); // -2 .. 5.75
    const q8 = quantize(GGML.Q8_0, x);
    expect(q8.length).toBe(34);
    expect(halfToFloat(q8[0] | (q8[1] << 8))).toBe(halfToFloat(floatToHalf(5.75 / 127)));
    expect(maxAbsDiff(dequantize(GGML.Q8_0, q8, 32), x)).toBeLessThan(5.75 / 127 / 2 + 1e-6);
    const q4 = quantize(GGML.Q4_0, x);
    expect(q4.length).toBe(18);
    const d = halfToFloat(q4[0] | (q4[1] << 8));
    expect(d).toBeCloseTo(5.75 / -8, 3); // 5.75, the largest magnitude, maps to q = 0, i.e. -8·d
    const back = dequantize(GGML.Q4_0, q4, 32);
    expect(back[31]).toBeCloseTo(5.75, 2);
    expect(maxAbsDiff(back, x)).toBeLessThanOrEqual(Math.abs(d) / 2 + 1e-6);
    // low nibbles hold the block's first 16 values, high nibbles the next 16
    expect(q4[2] & 0xf).toBe(Math.min(15, Math.trunc(-2 / d + 8.5)));
    expect(q4[2] >> 4).toBe(Math.min(15, Math.trunc(2 / d + 8.5)));
  });

  it.each(["Q4_K", "Q6_K"] as const)("dequantizes %s blocks bit for bit as gguf-py does", (type) => {
    const { blocks, sha256 } = K_QUANT_ORACLE[type];
    const values = dequantize(GGML[type], Uint8Array.from(Buffer.from(blocks, "hex")), 3 * 256);
    expect(createHash("sha256").update(new Uint8Array(values.buffer)).digest("hex")).toBe(sha256);
  });

  it("reads BF16 as the high half of f32", () => {
    const bytes = Uint8Array.of(0x80, 0x3f, 0x00, 0xc0); // 1, -2
    expect([...dequantize(GGML.BF16, bytes, 2)]).toEqual([1, -2]);
  });
});

/**
 * Three random k-quant blocks of each type (scales set to sane f16 values) and the sha256 of their
 * f32 values as gguf-py 0.19.0's dequantize() gives them (numpy, llama.cpp's reference for Python).
 */
const K_QUANT_ORACLE: Record<"Q4_K" | "Q6_K", { blocks: string; sha256: string }> = {
  Q4_K: {
    blocks:
      "c2298920d8062529bc2dcbda1473140017434b3b39ff7237e1e1e98a022b375e48a8042821ca840098eaa89830e16d31" +
      "44e42242cd24a9fda72bb08b6c8674c9d9f25faeab470c1fe1c6d2331f26cc3997cd9117b2be4ec40797250714e9b5ea" +
      "48c6fe4b530f945a27c5eb260e1c24c95c44c86cd9648f25ff8cdeb003b9ae8a80ae19749ee4cb989257a3b722f136ca" +
      "2aa73babdd715447a2abecc3c3e2e36991efda4afd2d46601768438b42f74d232e8b7a49920c0bad961c66e4541caf8e" +
      "3430308b781995814cd4f94af18a5ca0dc1d54ab7b3cf29ade558529d25cba129e139b389fe1bc4c88a0867b302a4167" +
      "995ff8db70c03530c10ea744199e84b8041ad15267ff97acb1f64c9b78b457c42b3228b6b24f23041028c7038eaaf018" +
      "632375a0dcbb773e92bfb88646189f8ae8bc395d98acd613ad03ed1000b263edd0a0c395d7689007ffd56851f28acea1" +
      "952d15959eed2ac333fe2c7980928c95e4464806c145a062a8f44cd2235539dc6c2f519f5145994b3cca51b413ec7f2f" +
      "6fa262b3dfa8258dcb28ccd8cd19aa1fe2024a3f57c338156d02f36230ff03f0c8a87f046ba471793e762f92a20e2739",
    sha256: "bc827fa9b66d397a09822019d5c2751f9348580b07a83bae49ef2dccd832d8f5",
  },
  Q6_K: {
    blocks:
      "1921558ebd036e9d8c87b7fcf05ead3460425889f47d17ac3c63be0272c7b73ed657f4d3db6227d60684117055d73bb6" +
      "44f594f12141a3ed9909d55f7a4f916dbfe3f9514da07529b19eddfade8badf15a64535b8fba49a4f3c31491bce19be8" +
      "f5389fccbc74627ff71c1215c24e55c5c10ac100a8171c7e6934832606155f5873e8db64538131be2bf7b9eb2607373e" +
      "245b483fb57b241536ba6442306139745de76407ae3011020544afc03f472006735af9f570770db8de95cebb006d237f" +
      "9ecdf56d0d5819268d663452d6e9429e7520b8d27cf09972047210aa050a95432dae5d0f9c26f44c6b9ee3c23e8855c7" +
      "46220141b3c6df488f49a0181018361217ae122b1d8ebbeee687bc4a717dba47ffc0e144bfc9d28d5657ae8e78a2ff6f" +
      "2e7cee99658290e8f4b1b2df479342228e3e155b0f122e3671040bba682eb382c8f85805e34aca6acad9121200358288" +
      "ff079543926955e3e17979d43c998dac0439c0acda11946e50d9f10a78ca78c77171a3010bcf465997897d77eec3b677" +
      "a35ad3c41511dde24fbf72e3678d8c24770d7b35efb0568fb277f7c150537befe0579b25206eccce157ab82e81797084" +
      "68adc75f410b70ec7e7fb3dfb03f64ed0c3592da6151c79f47527b9b31acd51d3085e35c69589e8fb145cc5c91503b45" +
      "1ad4da320c448e43c2cbcffdb7fc873b76af2aa3a0f9ae25e44fae8de814a6efd59fa15f3a0653c5efe4582dea0cdc6e" +
      "d2791c940abab61b9695dfec75447ff8018c8f546e7cdc3db8898e6688db5af1ece76b3d631960a6faa1f74c0b62db17" +
      "edfccfbc3378fc3c89c58f6a0619ba6ce2f464002d6e497555670f5234343bc2b848b99728bb661327403ada07c6003d" +
      "b3fbbb8533a8",
    sha256: "4187a34f8281d2c7ac6448b9f65d8a10fbcae8c05991a476a85ecf0ed4703c94",
  },
};

/** A small random Llama whose every matrix fills whole 32-value blocks. */
function tinyLlama(shared = true): { config: LlamaConfig; weights: LlamaWeights } {
  const config: LlamaConfig = {
    dim: 32,
    hiddenDim: 64,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    vocabSize: 16,
    seqLen: 16,
    sharedClassifier: shared,
  };
  let seed = 1;
  const m = (n: number) => randomF32(n, seed++, 0.5);
  const layers = (n: number) => [m(n), m(n)];
  const tokEmbeddings = m(16 * 32);
  const weights: LlamaWeights = {
    tokEmbeddings,
    attentionNorm: layers(32),
    wq: layers(32 * 32),
    wk: layers(16 * 32),
    wv: layers(16 * 32),
    wo: layers(32 * 32),
    ffnNorm: layers(32),
    w1: layers(64 * 32),
    w2: layers(32 * 64),
    w3: layers(64 * 32),
    norm: m(32),
    output: shared ? tokEmbeddings : m(16 * 32),
  };
  return { config, weights };
}

describe("the GGUF frontend", () => {
  const { config, weights } = tinyLlama(false);
  const file = llamaToGguf(config, weights, undefined, { name: "tiny", type: "f32" }).bytes;

  it("reads back what the writer wrote, untied classifier included, at any alignment", () => {
    for (const alignment of [32, 64]) {
      const bytes = llamaToGguf(config, weights, undefined, { name: "tiny", type: "f32", alignment }).bytes;
      const back = readGguf(bytes, "tiny.gguf");
      expect(back.config).toEqual(config);
      expect(back.weights).toEqual(weights);
      expect(back.tokenizer).toBeUndefined();
      expect(readGgufContainer(bytes, "tiny.gguf").alignment).toBe(alignment);
    }
  });

  it("reads every type it writes within the type's step", () => {
    for (const [type, tol] of [
      ["f16", 2e-4],
      ["q8_0", 0.5 / 127],
      ["q4_0", 0.5 / 8],
    ] as const) {
      const back = readGguf(llamaToGguf(config, weights, undefined, { name: "tiny", type }).bytes, "t.gguf").weights;
      expect(maxAbsDiff(back.wq[1], weights.wq[1])).toBeLessThan(tol);
      expect(back.norm).toEqual(weights.norm); // vectors stay F32
    }
  });

  it("is chosen by load.ts from the .gguf extension or the magic, and carries its own tokenizer", async () => {
    const dir = await tmpDir();
    writeFileSync(join(dir, "tiny.bin"), file);
    expect((await loadModel({ model: join(dir, "tiny.bin") })).format).toBe("gguf");
    writeFileSync(join(dir, "tiny.gguf"), file);
    const e = await rejectsSeec(() => loadModel({ model: join(dir, "tiny.gguf"), tokenizer: join(dir, "tiny.bin") }));
    expect(e.code).toBe("usage.tokenizer");
  });

  const refuse = (bytes: Uint8Array) => catchSeec(() => readGguf(bytes, "bad.gguf"));
  const patched = (at: number, f: (v: DataView) => void) => {
    const b = file.slice();
    f(new DataView(b.buffer, at));
    return b;
  };
  /** The byte where the named tensor's info record ends (its type is 12 bytes before, its offset 8). */
  const infoEnd = (name: string) => {
    const key = Buffer.alloc(8 + name.length); // the name as GGUF writes it, after its u64 length
    key.writeBigUInt64LE(BigInt(name.length));
    key.write(name, 8);
    const at = Buffer.from(file).indexOf(key) + key.length;
    return at + 4 + 8 * new DataView(file.buffer).getUint32(at, true) + 12;
  };

  it.each([4, 23, 300, 3000, file.length - 1])("refuses a file truncated to %i bytes, naming where", (n) => {
    const e = refuse(file.subarray(0, n));
    expect(e.code).toBe("input.truncated");
    expect(e.file).toBe("bad.gguf");
    expect(e.at).toBeTruthy();
  });

  it("refuses a bad magic, an unknown version, and a tensor past the end", () => {
    expect(refuse(patched(0, (v) => v.setUint8(0, 0x58))).code).toBe("input.gguf");
    const v9 = refuse(patched(4, (v) => v.setUint32(0, 9, true)));
    expect([v9.code, v9.message]).toEqual(["unsupported.gguf_version", "GGUF version 9; seec reads versions 2 and 3"]);
    const past = refuse(patched(infoEnd("output.weight") - 8, (v) => v.setBigUint64(0, BigInt(file.length), true)));
    expect([past.code, past.at]).toEqual(["input.truncated", "output.weight"]);
  });

  it("refuses tensor types it does not read, naming the ggml type and the tensor", () => {
    const k = refuse(patched(infoEnd("blk.1.attn_q.weight") - 12, (v) => v.setUint32(0, 13, true)));
    expect([k.code, k.at]).toEqual(["unsupported.gguf_type", "blk.1.attn_q.weight"]);
    expect(k.message).toMatch(/Q5_K/);
    // a supported type whose rows (32 values here) do not fill its blocks (256 for Q4_K)
    const rows = refuse(patched(infoEnd("blk.1.attn_q.weight") - 12, (v) => v.setUint32(0, 12, true)));
    expect([rows.code, rows.message]).toEqual(["input.gguf", expect.stringMatching(/whole Q4_K blocks of 256/)]);
    const unknown = refuse(patched(infoEnd("blk.1.attn_q.weight") - 12, (v) => v.setUint32(0, 99, true)));
    expect([unknown.code, unknown.message]).toEqual(["unsupported.gguf_type", expect.stringMatching(/type 99/)]);
  });

  it("refuses counts and lengths the file cannot hold before allocating for them", () => {
    const huge = 2n ** 62n;
    expect(refuse(patched(8, (v) => v.setBigUint64(0, huge, true))).code).toBe("input.gguf"); // tensor count
    expect(refuse(patched(16, (v) => v.setBigUint64(0, huge, true))).code).toBe("input.gguf"); // metadata count
    expect(refuse(patched(24, (v) => v.setBigUint64(0, huge, true))).code).toBe("input.gguf"); // first key's length
    const arrays = writeGguf([["a", { type: "array", of: "i32", value: [1, 2] }]], []);
    const longArray = arrays.slice();
    new DataView(longArray.buffer).setBigUint64(24 + 8 + 1 + 4 + 4, 10n ** 12n, true);
    expect(catchSeec(() => readGgufContainer(longArray, "a.gguf")).message).toMatch(/the length of a is 1000000000000/);
    new DataView(longArray.buffer).setBigUint64(24 + 8 + 1 + 4 + 4, 20n, true); // 20 i32 in 8 bytes
    const short = catchSeec(() => readGgufContainer(longArray, "a.gguf"));
    expect([short.code, short.message]).toEqual(["input.truncated", expect.stringMatching(/claims 20 elements/)]);
  });

  it("refuses a model that is not a llama, or lacks a tensor, or has one of the wrong shape, naming it", () => {
    const gpt = refuse(writeGguf([["general.architecture", { type: "string", value: "gpt2" }]], []));
    expect([gpt.code, gpt.at]).toEqual(["unsupported.gguf_architecture", "general.architecture"]);
    const noNorm = Buffer.from(file);
    noNorm.write("x", noNorm.indexOf("output_norm"));
    expect([refuse(noNorm).code, refuse(noNorm).at]).toEqual(["input.gguf", "output_norm.weight"]);
    const halfRope = Buffer.from(file);
    halfRope.writeUInt32LE(4, halfRope.indexOf("llama.rope.dimension_count") + 26 + 4); // after the key and its value type
    expect([refuse(halfRope).code, refuse(halfRope).at]).toEqual(["unsupported.gguf_rope", "llama.rope.dimension_count"]);
    const freqs = Buffer.from(file);
    freqs.write("rope_freqs", freqs.indexOf("token_embd")); // the same length: the embedding goes missing, but RoPE is checked first
    expect([refuse(freqs).code, refuse(freqs).at]).toEqual(["unsupported.gguf_rope", "rope_freqs.weight"]);
    const pieces = Array.from({ length: 16 }, (_, i) => `t${i}`);
    const spec = { type: "llama2c-bpe" as const, pieces, scores: pieces.map(() => 0), bosId: 1, eosId: 2 };
    const bpe = Buffer.from(llamaToGguf(config, weights, spec, { name: "tiny", type: "f32" }).bytes);
    expect(readGguf(bpe, "t.gguf").tokenizer?.pieces).toEqual(["t0", "\nt1\n", "\nt2\n", ...pieces.slice(3)]);
    bpe.write("gpt-2", bpe.indexOf("llama", bpe.indexOf("tokenizer.ggml.model")));
    expect([refuse(bpe).code, refuse(bpe).at]).toEqual(["unsupported.gguf_tokenizer", "tokenizer.ggml.model"]);
    const shape = refuse(patched(infoEnd("blk.0.ffn_up.weight") - 20, (v) => v.setBigUint64(0, 32n, true)));
    expect([shape.code, shape.at]).toEqual(["input.gguf", "blk.0.ffn_up.weight"]);
  });
});

const VAL = sharedPath("eval/tinystories/val_a.txt");

describe.skipIf(!LLAMA2C)("stories260K through seec export-gguf and back", () => {
  const S = LLAMA2C!;
  let work: string;
  const built: Record<string, Model> = {};
  beforeAll(async () => {
    work = await tmpDir();
    const build = async (name: string, ...model: string[]) => {
      const r = await seec("build", ...model, "-o", join(work, name));
      expect(r.stderr).toBe("");
      built[name] = await loadWasm(join(work, name));
    };
    await build("llama2c", S.model, "--tokenizer", S.tokenizer);
    for (const type of ["f32", "f16", "q8_0", "q4_0"]) {
      const out = join(work, `stories260K.${type}.gguf`);
      const r = await seec("export-gguf", S.model, "--tokenizer", S.tokenizer, "--type", type, "-o", out);
      expect(r.code).toBe(0);
      await build(type, out);
    }
  }, 300_000);

  it("reads back the llama2.c model and tokenizer exactly from an f32 GGUF", () => {
    const { config, weights } = readLlama2cCheckpoint(new Uint8Array(readFileSync(S.model)), "m.bin");
    const tokenizer = readLlama2cTokenizer(new Uint8Array(readFileSync(S.tokenizer)), "t.bin", config.vocabSize);
    const back = readGguf(new Uint8Array(readFileSync(join(work, "stories260K.f32.gguf"))), "s.gguf");
    expect(back.config).toEqual(config);
    expect(back.weights).toEqual(weights);
    expect(back.tokenizer).toEqual(tokenizer);
  });

  it("f32: builds the very artifact the llama2.c checkpoint builds, and llama2.c's greedy text", async () => {
    for (const file of ["model.wasm", "weights.bin", "tokenizer.json"])
      expect(readFileSync(join(work, "f32", file)).equals(readFileSync(join(work, "llama2c", file))), file).toBe(true);
    expect(`${await built.f32.generate("", { temperature: 0, maxTokens: 256 })}\n`).toBe(readFileSync(S.greedy256, "utf8"));
    const [llama2c, f32] = await logitsAlong([built.llama2c, built.f32], 64);
    expect(maxAbsDiff(f32, llama2c)).toBe(0);
  });

  it("f16: logits within 3e-2 of the f32 build over 64 greedy steps (measured 1.1e-2; logits span about ±15)", async () => {
    const [f32, f16] = await logitsAlong([built.f32, built.f16], 64);
    expect(maxAbsDiff(f16, f32)).toBeLessThan(3e-2);
  });

  it.skipIf(!VAL)(
    "q8_0 costs under 0.2% NLL and q4_0 under 10% on 20 TinyStories paragraphs (measured +0.05%, +7.5%); f16 under 0.01%",
    async () => {
      const text = readFileSync(VAL!, "utf8");
      const nll = async (m: Model) => (await evalNll(m, text, { limit: 20 })).nll;
      const base = await nll(built.f32);
      expect(base).toBe(await nll(built.llama2c));
      const cost = async (name: string) => (await nll(built[name])) / base - 1;
      expect(Math.abs(await cost("f16"))).toBeLessThan(1e-4);
      expect(await cost("q8_0")).toBeLessThan(0.002);
      expect(await cost("q4_0")).toBeLessThan(0.1);
    },
    120_000,
  );
});

/** Each model's logits at every step of the first model's greedy path from BOS, concatenated. */
async function logitsAlong(models: Model[], steps: number): Promise<Float32Array[]> {
  const all = models.map(() => [] as number[]);
  let token = 1;
  for (let pos = 0; pos < steps; pos++) {
    const outs = await Promise.all(models.map((m) => m.step([token], pos)));
    outs.forEach((o, i) => all[i].push(...o));
    token = outs[0].indexOf(Math.max(...outs[0]));
  }
  return all.map((a) => Float32Array.from(a));
}
