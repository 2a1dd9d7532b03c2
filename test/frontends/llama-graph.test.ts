// The Llama graph builder (llama-graph.ts): run by the reference interpreter it gives llama2.c's own
// greedy text for stories260K; its tensors, nodes and model info written out; and the config checks.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkLlamaConfig, llamaGraph, type LlamaConfig, type LlamaWeights } from "../../compiler/frontends/llama-graph.js";
import { readLlama2cCheckpoint } from "../../compiler/frontends/llama2c.js";
import { readLlama2cTokenizer } from "../../compiler/frontends/llama2c-tokenizer.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { Llama2cTokenizer } from "../../runtime/tokenizers/llama2c-bpe.js";
import { randomF32 } from "../helpers/random.js";
import { LLAMA2C } from "../helpers/shared.js";

/** The logits of one call of `graph`'s interpreter for `tokens` from `pos`. */
function step(it: Interpreter, tokens: number[], pos: number): Float32Array {
  const out = it.run({ tokens: Int32Array.from(tokens), pos: Int32Array.of(pos) });
  return out.logits.data as Float32Array;
}

function argmax(xs: Float32Array): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

describe.skipIf(!LLAMA2C)("the Llama graph of stories260K, interpreted", () => {
  const read = () => readLlama2cCheckpoint(new Uint8Array(readFileSync(LLAMA2C!.model)), "stories260K.bin");

  it("prints llama2.c's greedy text (256 steps from BOS: greedy_256.txt, what llama2.c's run prints)", () => {
    const { config, weights } = read();
    const it = new Interpreter(llamaGraph("stories260K", config, weights, { maxChunk: 8 }));
    const tokens: number[] = [];
    let token = 1;
    for (let pos = 0; pos < 256; pos++) tokens.push((token = argmax(step(it, [token], pos))));
    const spec = readLlama2cTokenizer(new Uint8Array(readFileSync(LLAMA2C!.tokenizer)), "tok512.bin", config.vocabSize);
    expect(`${new Llama2cTokenizer(spec).decode(tokens)}\n`).toBe(readFileSync(LLAMA2C!.greedy256, "utf8"));
  });

  it("gives the same next-token logits for a prompt fed in chunks of up to maxChunk as one token a call", () => {
    const { config, weights } = read();
    const prompt = [1, 403, 407, 261, 378, 403, 288, 375, 262, 297, 300]; // 11 tokens: chunks of 4, 4 and 3
    const one = new Interpreter(llamaGraph("s", config, weights, { maxChunk: 1 }));
    let byOne: Float32Array = new Float32Array();
    prompt.forEach((t, pos) => (byOne = step(one, [t], pos)));
    const chunked = new Interpreter(llamaGraph("s", config, weights, { maxChunk: 4 }));
    let byChunks: Float32Array = new Float32Array();
    for (let pos = 0; pos < prompt.length; pos += 4) byChunks = step(chunked, prompt.slice(pos, pos + 4), pos);
    expect(byChunks.length).toBe(512);
    for (let i = 0; i < 512; i++) expect(byChunks[i]).toBeCloseTo(byOne[i], 4);
  });

  it("takes llama2.c's RMSNorm epsilon and RoPE base by default, and others when given", () => {
    const { config, weights } = read();
    const dflt = llamaGraph("s", config, weights, { maxChunk: 4 });
    const norms = (g: Graph) => g.nodes.filter((n) => n.op === "RMSNorm").map((n) => n.attrs.epsilon);
    expect(norms(dflt)).toEqual(Array(11).fill(1e-5));
    expect(ropeTable(dflt)).toEqual(llama2cRope(512, 8, 10000));
    const other = llamaGraph("s", config, weights, { maxChunk: 4, rmsEpsilon: 1e-6, ropeTheta: 500000, context: 20 });
    expect(norms(other)).toEqual(Array(11).fill(1e-6));
    expect(ropeTable(other)).toEqual(llama2cRope(20, 8, 500000));
  });
});

/** rope.cos and rope.sin of a graph: their shape and values. */
function ropeTable(g: Graph): { shape: unknown; cos: Float32Array; sin: Float32Array } {
  const cos = g.values.get("rope.cos")!,
    sin = g.values.get("rope.sin")!;
  expect(sin.shape).toEqual(cos.shape);
  return { shape: cos.shape, cos: cos.data as Float32Array, sin: sin.data as Float32Array };
}

/** llama2.c's RoPE (run.c): freq = 1 / 10000^(head_dim / head_size) for even head_dim, val = pos * freq, in f32. */
function llama2cRope(context: number, headSize: number, theta: number): ReturnType<typeof ropeTable> {
  const f = Math.fround,
    half = headSize / 2;
  const cos = new Float32Array(context * half),
    sin = new Float32Array(context * half);
  for (let pos = 0; pos < context; pos++)
    for (let headDim = 0; headDim < headSize; headDim += 2) {
      const val = f(pos * f(1 / f(theta ** f(headDim / headSize))));
      cos[pos * half + headDim / 2] = Math.cos(val);
      sin[pos * half + headDim / 2] = Math.sin(val);
    }
  return { shape: [context, half], cos, sin };
}

/** A two-layer Llama small enough to write out: dim 8, two heads of 4 sharing one kv head. */
function tiny(sharedClassifier: boolean): { config: LlamaConfig; weights: LlamaWeights } {
  const config: LlamaConfig = { dim: 8, hiddenDim: 12, nLayers: 2, nHeads: 2, nKvHeads: 1, vocabSize: 10, seqLen: 16, sharedClassifier };
  let seed = 7;
  const m = (n: number) => randomF32(n, seed++);
  const two = (n: number) => [m(n), m(n)];
  const tokEmbeddings = m(80);
  return {
    config,
    weights: {
      tokEmbeddings,
      attentionNorm: two(8),
      wq: two(64),
      wk: two(32),
      wv: two(32),
      wo: two(64),
      ffnNorm: two(8),
      w1: two(96),
      w2: two(96),
      w3: two(96),
      norm: m(8),
      output: sharedClassifier ? tokEmbeddings : m(80),
    },
  };
}

describe("the Llama graph's tensors and nodes", () => {
  it("names every tensor and node as llama2.c's PyTorch model does, each weight with its values", () => {
    const { config, weights } = tiny(false);
    const g = llamaGraph("tiny", config, weights, { maxChunk: 4 });
    expect(g.name).toBe("tiny");
    expect(g.inputs).toEqual(["tokens", "pos"]);
    expect(g.outputs).toEqual(["logits"]);
    expect(g.dims).toEqual({ T: { max: 4 } });
    const v = (name: string) => {
      const x = g.values.get(name)!;
      return [x.kind, x.dtype, x.shape];
    };
    expect(v("tokens")).toEqual(["input", "i32", ["T"]]);
    expect(v("pos")).toEqual(["input", "i32", [1]]);
    expect(v("logits")).toEqual(["activation", "f32", [1, 10]]);
    const consts = [...g.values.values()].filter((x) => x.kind === "const").map((x) => [x.name, x.shape]);
    const layer = (l: number) => [
      [`layers.${l}.attention_norm.weight`, [8]],
      [`layers.${l}.attention.wq.weight`, [8, 8]],
      [`layers.${l}.attention.wk.weight`, [4, 8]],
      [`layers.${l}.attention.wv.weight`, [4, 8]],
      [`layers.${l}.attention.wo.weight`, [8, 8]],
      [`layers.${l}.ffn_norm.weight`, [8]],
      [`layers.${l}.feed_forward.w1.weight`, [12, 8]],
      [`layers.${l}.feed_forward.w3.weight`, [12, 8]],
      [`layers.${l}.feed_forward.w2.weight`, [8, 12]],
    ];
    expect(consts).toEqual([
      ["rope.cos", [16, 2]],
      ["rope.sin", [16, 2]],
      ["tok_embeddings.weight", [10, 8]],
      ...layer(0),
      ...layer(1),
      ["norm.weight", [8]],
      ["output.weight", [10, 8]],
    ]);
    const data = (name: string) => g.values.get(name)!.data;
    expect(data("tok_embeddings.weight")).toBe(weights.tokEmbeddings);
    expect(data("output.weight")).toBe(weights.output);
    expect(data("norm.weight")).toBe(weights.norm);
    for (const l of [0, 1]) {
      const p = `layers.${l}`;
      expect(data(`${p}.attention_norm.weight`)).toBe(weights.attentionNorm[l]);
      expect(data(`${p}.attention.wq.weight`)).toBe(weights.wq[l]);
      expect(data(`${p}.attention.wk.weight`)).toBe(weights.wk[l]);
      expect(data(`${p}.attention.wv.weight`)).toBe(weights.wv[l]);
      expect(data(`${p}.attention.wo.weight`)).toBe(weights.wo[l]);
      expect(data(`${p}.ffn_norm.weight`)).toBe(weights.ffnNorm[l]);
      expect(data(`${p}.feed_forward.w1.weight`)).toBe(weights.w1[l]);
      expect(data(`${p}.feed_forward.w2.weight`)).toBe(weights.w2[l]);
      expect(data(`${p}.feed_forward.w3.weight`)).toBe(weights.w3[l]);
    }
    const states = [...g.values.values()].filter((x) => x.kind === "state").map((x) => [x.name, x.dtype, x.shape]);
    expect(states).toEqual(
      [0, 1].flatMap((l) => [
        [`layers.${l}.attention.k_cache`, "f32", [16, 4]],
        [`layers.${l}.attention.v_cache`, "f32", [16, 4]],
      ]),
    );

    const nodes = g.nodes.map((n) => [n.op, n.name, n.inputs, n.attrs]);
    const eps = { epsilon: 1e-5 };
    const rope = { headDim: 4, interleaved: 1 };
    const layerNodes = (l: number, x: string) => {
      const p = `layers.${l}`;
      return [
        ["RMSNorm", `${p}.attention_norm`, [x, `${p}.attention_norm.weight`], eps],
        ["Linear", `${p}.attention.wq`, [`${p}.attention_norm`, `${p}.attention.wq.weight`], {}],
        ["Linear", `${p}.attention.wk`, [`${p}.attention_norm`, `${p}.attention.wk.weight`], {}],
        ["Linear", `${p}.attention.wv`, [`${p}.attention_norm`, `${p}.attention.wv.weight`], {}],
        ["RoPE", `${p}.attention.rope_q`, [`${p}.attention.wq`, "pos", "rope.cos", "rope.sin"], rope],
        ["RoPE", `${p}.attention.rope_k`, [`${p}.attention.wk`, "pos", "rope.cos", "rope.sin"], rope],
        [
          "Attention",
          `${p}.attention`,
          [
            `${p}.attention.rope_q`,
            `${p}.attention.rope_k`,
            `${p}.attention.wv`,
            "pos",
            `${p}.attention.k_cache`,
            `${p}.attention.v_cache`,
          ],
          { heads: 2, kvHeads: 1, headDim: 4 },
        ],
        ["Linear", `${p}.attention.wo`, [`${p}.attention`, `${p}.attention.wo.weight`], {}],
        ["Add", `${p}.attention.residual`, [x, `${p}.attention.wo`], {}],
        ["RMSNorm", `${p}.ffn_norm`, [`${p}.attention.residual`, `${p}.ffn_norm.weight`], eps],
        ["Linear", `${p}.feed_forward.w1`, [`${p}.ffn_norm`, `${p}.feed_forward.w1.weight`], {}],
        ["Linear", `${p}.feed_forward.w3`, [`${p}.ffn_norm`, `${p}.feed_forward.w3.weight`], {}],
        ["SwiGLU", `${p}.feed_forward.swiglu`, [`${p}.feed_forward.w1`, `${p}.feed_forward.w3`], {}],
        ["Linear", `${p}.feed_forward.w2`, [`${p}.feed_forward.swiglu`, `${p}.feed_forward.w2.weight`], {}],
        ["Add", `${p}.feed_forward.residual`, [`${p}.attention.residual`, `${p}.feed_forward.w2`], {}],
      ];
    };
    expect(nodes).toEqual([
      ["Gather", "tok_embeddings", ["tok_embeddings.weight", "tokens"], {}],
      ...layerNodes(0, "tok_embeddings"),
      ...layerNodes(1, "layers.0.feed_forward.residual"),
      ["LastRow", "last_token", ["layers.1.feed_forward.residual"], {}],
      ["RMSNorm", "norm", ["last_token", "norm.weight"], eps],
      ["Linear", "logits", ["norm", "output.weight"], {}],
    ]);
  });

  it("reads the classifier from the embedding when it is shared, with no output.weight", () => {
    const { config, weights } = tiny(true);
    const g = llamaGraph("tiny", config, weights, { maxChunk: 4 });
    expect(g.values.has("output.weight")).toBe(false);
    expect(g.nodes.at(-1)!.inputs).toEqual(["norm", "tok_embeddings.weight"]);
  });

  it("states the model: a decoder, its sizes, the context and chunk, BOS 1 and EOS 2 unless given", () => {
    const { config, weights } = tiny(true);
    const sizes = { dim: 8, hiddenDim: 12, nLayers: 2, nHeads: 2, nKvHeads: 1, vocabSize: 10 };
    expect(llamaGraph("t", config, weights, { maxChunk: 4 }).model).toEqual({
      family: "decoder",
      config: { ...sizes, contextLength: 16, maxChunk: 4 },
      bosId: 1,
      eosId: 2,
    });
    // A shorter context sizes the caches and tables; a longer one than seq_len is cut to it.
    const short = llamaGraph("t", config, weights, { maxChunk: 32, context: 6, bosId: 0, eosId: 9 });
    // No more tokens a call than the context holds: the chunk is cut to it, in the config too.
    expect(short.model).toEqual({ family: "decoder", config: { ...sizes, contextLength: 6, maxChunk: 6 }, bosId: 0, eosId: 9 });
    expect(short.dims).toEqual({ T: { max: 6 } });
    expect(short.values.get("layers.1.attention.v_cache")!.shape).toEqual([6, 4]);
    expect(short.values.get("rope.sin")!.shape).toEqual([6, 2]);
    const long = llamaGraph("t", config, weights, { maxChunk: 2, context: 100 });
    expect([long.model.config.contextLength, long.dims.T.max]).toEqual([16, 2]);
    expect(long.values.get("layers.0.attention.k_cache")!.shape).toEqual([16, 4]);
  });
});

describe("checkLlamaConfig", () => {
  const ok: LlamaConfig = {
    dim: 64,
    hiddenDim: 172,
    nLayers: 5,
    nHeads: 8,
    nKvHeads: 4,
    vocabSize: 512,
    seqLen: 512,
    sharedClassifier: true,
  };
  const problem = (change: Partial<LlamaConfig>): string | undefined => {
    try {
      checkLlamaConfig({ ...ok, ...change }, (msg) => {
        throw new Error(msg);
      });
    } catch (e) {
      return (e as Error).message;
    }
    return undefined;
  };

  it("accepts every size from 1 to its limit, and refuses 0, a fraction and one past the limit, naming both", () => {
    expect(problem({})).toBeUndefined();
    const limits: [keyof LlamaConfig, number][] = [
      ["dim", 65536],
      ["hiddenDim", 262144],
      ["nLayers", 1024],
      ["nHeads", 1024],
      ["nKvHeads", 1024],
      ["vocabSize", 1048576],
      ["seqLen", 1048576],
    ];
    // Sizes that pass the divisibility checks at each end: dim 2 with one head of 2; dim 65536 with 1024 heads.
    const small: Partial<LlamaConfig> = { dim: 2, nHeads: 1, nKvHeads: 1 };
    const large: Partial<LlamaConfig> = { dim: 65536, nHeads: 1024, nKvHeads: 1024 };
    for (const [k, max] of limits) {
      if (k !== "dim") expect(problem({ ...small, [k]: 1 }), k).toBeUndefined();
      expect(problem({ ...large, [k]: max }), k).toBeUndefined();
      expect(problem({ [k]: 0 })).toBe(`${k} = 0 is out of range [1, ${max}]`);
      expect(problem({ [k]: -3 })).toBe(`${k} = -3 is out of range [1, ${max}]`);
      expect(problem({ [k]: 2.5 })).toBe(`${k} = 2.5 is out of range [1, ${max}]`);
      expect(problem({ [k]: max + 1 })).toBe(`${k} = ${max + 1} is out of range [1, ${max}]`);
    }
  });

  it("refuses heads that do not divide dim, kv heads that do not divide heads, and an odd head size", () => {
    expect(problem({ nHeads: 7 })).toBe("dim 64 is not a multiple of n_heads 7");
    expect(problem({ nKvHeads: 3 })).toBe("n_heads 8 is not a multiple of n_kv_heads 3");
    expect(problem({ dim: 24, nHeads: 8, nKvHeads: 8 })).toBe("head size 3 must be even for RoPE");
    expect(problem({ dim: 48, nHeads: 8, nKvHeads: 2 })).toBeUndefined(); // head size 6
  });
});
