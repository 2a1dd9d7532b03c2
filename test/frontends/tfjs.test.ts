// The TF.js weight reader: manifest order across shards, every dtype, quantized weights, and broken files.
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontends/load.js";
import { readTfjsGraph } from "../../compiler/frontends/tfjs.js";
import { concatBytes } from "../../compiler/util/bytes.js";
import { tfjsEncoderGraph } from "../../compiler/frontends/tfjs-encoder.js";
import { SeecError } from "../../runtime/errors.js";
import { tmpDir } from "../helpers/compile.js";
import { USE_DIR, USE_MODEL_JSON } from "../helpers/use-lite.js";

/** Writes model.json and two shards holding the given raw weight bytes, split mid-way. */
function writeModel(dir: string, weights: { name: string; shape: number[]; dtype: string; quantization?: object }[], bytes: Uint8Array) {
  mkdirSync(dir, { recursive: true });
  const cut = Math.floor(bytes.length / 2);
  writeFileSync(join(dir, "shard1"), bytes.subarray(0, cut));
  writeFileSync(join(dir, "shard2"), bytes.subarray(cut));
  writeFileSync(
    join(dir, "model.json"),
    JSON.stringify({
      modelTopology: { node: [{ name: "x", op: "Placeholder" }] },
      weightsManifest: [{ paths: ["shard1", "shard2"], weights }],
    }),
  );
}

/** Typed arrays' bytes joined end to end. */
const concat = (...parts: ArrayBufferView[]) => concatBytes(parts.map((p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength)));

describe("TF.js graph-model weights", () => {
  it("reads float32, int32, bool, uint8- and uint16-quantized and float16 weights across shards in manifest order", async () => {
    const dir = join(await tmpDir(), "m");
    const weights = [
      { name: "f", shape: [3], dtype: "float32" },
      { name: "i", shape: [2], dtype: "int32" },
      { name: "b", shape: [3], dtype: "bool" },
      { name: "q8", shape: [2], dtype: "float32", quantization: { dtype: "uint8", scale: 0.5, min: -1 } },
      { name: "q16", shape: [2], dtype: "float32", quantization: { dtype: "uint16", scale: 0.25, min: 0 } },
      { name: "h", shape: [3], dtype: "float32", quantization: { dtype: "float16" } },
    ];
    const bytes = concat(
      Float32Array.of(1.5, -2, 3),
      Int32Array.of(7, -9),
      Uint8Array.of(1, 0, 1),
      Uint8Array.of(0, 4),
      Uint16Array.of(8, 400),
      Uint16Array.of(0x3c00, 0xc000, 0x3555),
    );
    writeModel(dir, weights, bytes);
    const g = await readTfjsGraph(dir);
    const value = (n: string) => Array.from(g.weights.get(n)!.data);
    expect(value("f")).toEqual([1.5, -2, 3]);
    expect(value("i")).toEqual([7, -9]);
    expect(value("b")).toEqual([1, 0, 1]);
    expect(value("q8")).toEqual([-1, 1]);
    expect(value("q16")).toEqual([2, 100]);
    expect(value("h")[0]).toBe(1);
    expect(value("h")[1]).toBe(-2);
    expect(value("h")[2]).toBeCloseTo(0.33325, 4);
    expect(g.nodes).toEqual([{ name: "x", op: "Placeholder", inputs: [], attr: {} }]);
  });

  it("names the weight the shards end inside", async () => {
    const dir = join(await tmpDir(), "m");
    writeModel(
      dir,
      [
        { name: "a", shape: [2], dtype: "float32" },
        { name: "big", shape: [100], dtype: "float32" },
      ],
      new Uint8Array(40),
    );
    const e = await readTfjsGraph(dir).catch((x) => x);
    expect(e).toBeInstanceOf(SeecError);
    expect(e.code).toBe("input.truncated");
    expect(e.at).toBe("weight big");
  });

  it("refuses shards longer than the manifest, and JSON that is not a graph model", async () => {
    const dir = join(await tmpDir(), "m");
    writeModel(dir, [{ name: "a", shape: [2], dtype: "float32" }], new Uint8Array(12));
    expect((await readTfjsGraph(dir).catch((x) => x)).message).toMatch(/the shards hold 12 bytes; the manifest describes 8/);
    writeFileSync(join(dir, "model.json"), '{"format": "layers-model"}');
    expect((await readTfjsGraph(dir).catch((x) => x)).code).toBe("input.tfjs");
  });
});

describe("a TF.js model given as a folder", () => {
  it("an npm package folder is read through the one model.json below it (USE-Lite keeps it in dist/)", async () => {
    const { graph, format } = await loadModel({ model: join(USE_DIR, "..") });
    expect(format).toBe("tfjs");
    expect(graph.model.config.vocabSize).toBe(8002);
  });

  it("a folder with no model.json at or below it names the file it looked for", async () => {
    const dir = await tmpDir();
    await expect(loadModel({ model: dir })).rejects.toMatchObject({ code: "io.not_found", file: join(dir, "model.json") });
  });
});

// Tampered copies of USE-Lite (model.json rewritten, shards linked or rewritten) and of small models,
// each in its own temp dir: every one must be refused with one located line, never compiled as stock.
describe("bad TF.js input", () => {
  type Json = {
    modelTopology: { node: { name: string; op: string; input?: string[]; attr?: object }[] };
    weightsManifest: { paths: unknown; weights: Record<string, unknown>[] }[];
  };
  const stock = (): Json => JSON.parse(readFileSync(USE_MODEL_JSON, "utf8"));
  const SHARDS = readdirSync(USE_DIR)
    .filter((f) => f.startsWith("group1-shard"))
    .sort();
  /** The single node whose name ends with `suffix`. */
  const node = (json: Json, suffix: string) => {
    const found = json.modelTopology.node.filter((n) => n.name.endsWith(suffix));
    expect(found.map((n) => n.name)).toHaveLength(1);
    return found[0];
  };
  const weight = (json: Json, suffix: string) => json.weightsManifest[0].weights.find((w) => (w.name as string).endsWith(suffix))!;

  /** A folder holding `model` as model.json (text as is, anything else as JSON) beside USE-Lite's shards, some replaced. */
  async function copy(model: unknown, shards: Record<string, Uint8Array> = {}): Promise<string> {
    const dir = join(await tmpDir(), "use");
    mkdirSync(dir);
    writeFileSync(join(dir, "model.json"), typeof model === "string" ? model : JSON.stringify(model));
    for (const f of SHARDS) shards[f] ? writeFileSync(join(dir, f), shards[f]) : symlinkSync(join(USE_DIR, f), join(dir, f));
    return dir;
  }
  /** The SeecError reading and compiling `dir` ends in; it must be one line and name model.json. */
  async function refusal(dir: string): Promise<SeecError> {
    let e: unknown;
    try {
      tfjsEncoderGraph("t", await readTfjsGraph(dir));
    } catch (x) {
      e = x;
    }
    expect(e, "the graph was compiled").toBeInstanceOf(SeecError);
    const err = e as SeecError;
    expect(err.code.startsWith("internal.")).toBe(false);
    expect(err.toLine()).not.toMatch(/[\n\r]/);
    expect(err.file).toBe(join(dir, "model.json"));
    return err;
  }
  const at = (json: Json, suffix: string) => `node ${node(json, suffix).name}`;

  it("model.json that is null, a list, a string or a number: input.tfjs", async () => {
    for (const text of ["null", "[1, 2]", '"model"', "7"]) {
      const e = await refusal(await copy(text));
      expect(e.code).toBe("input.tfjs");
      expect(e.message).toMatch(/not an object/);
    }
  });

  it("a byte-order mark is skipped, as TF.js's fetch().json() does; JSON errors (NaN, a BOM before garbage) are one line", async () => {
    const withBom = await readTfjsGraph(await copy("\ufeff" + JSON.stringify(stock(), null, 2)));
    expect(tfjsEncoderGraph("t", withBom).model.config).toEqual(tfjsEncoderGraph("t", await readTfjsGraph(USE_DIR)).model.config);
    // Pretty-printed, so the parser's excerpt of the text around NaN spans lines.
    const nan = JSON.stringify(stock(), null, 2).replace(/"shape": \[\n\s*8002,/, '"shape": [\n NaN,\n');
    expect(nan).toContain("NaN");
    for (const text of [nan, "\ufeff\n{\n\n", "{\n'a':\n1}"]) {
      const e = await refusal(await copy(text));
      expect(e.code).toBe("input.tfjs");
      expect(e.message).toMatch(/^model\.json is not valid JSON: /);
    }
  });

  it("weightsManifest: [{}], and paths that are not a list of shard names beside model.json", async () => {
    const bare = stock();
    bare.weightsManifest = [{} as Json["weightsManifest"][0]];
    expect(await refusal(await copy(bare))).toMatchObject({ code: "input.tfjs", at: "weightsManifest[0].paths" });
    for (const paths of ["x", null, [7], [], ["../group1-shard1of7"], ["/etc/passwd"]]) {
      const json = stock();
      json.weightsManifest[0].paths = paths;
      const e = await refusal(await copy(json));
      expect(e.code, JSON.stringify(paths)).toBe("input.tfjs");
      expect(e.at).toMatch(/^weightsManifest\[0\]\.paths/);
    }
  });

  it("weight shapes that are not lists of whole, non-negative numbers", async () => {
    for (const shape of ["abc", null, [2.5, 4], [-1, 512], [1e400], ["512"]]) {
      const json = stock();
      const w = weight(json, "tanh_layer_0/bias");
      w.shape = shape;
      const e = await refusal(await copy(json));
      expect(e.code, JSON.stringify(shape)).toBe("input.tfjs");
      expect(e.at).toBe(`weight ${w.name}`);
    }
  });

  it("int32 where the encoder computes in float32, and float32 where it needs int32: unsupported.tfjs_dtype", async () => {
    // Same widths (4 bytes), so the shards still add up: only the dtype is wrong.
    for (const [suffix, dtype] of [
      ["tanh_layer_0/weights", "int32"],
      ["module/Embeddings_en", "int32"],
      ["Layer_0/TransformerLayer/MultiheadAttention/Const", "float32"],
      ["ClipToMaxLength/Less/y", "float32"],
    ]) {
      const json = stock();
      const w = weight(json, suffix);
      w.dtype = dtype;
      const e = await refusal(await copy(json));
      expect(e.code, suffix).toBe("unsupported.tfjs_dtype");
      expect(e.at).toBe(`node ${w.name}`);
    }
    // A weight quantized to a storage type its dtype cannot have.
    const json = stock();
    Object.assign(weight(json, "ClipToMaxLength/Less/y"), { quantization: { dtype: "float16" } });
    expect(await refusal(await copy(json))).toMatchObject({
      code: "unsupported.tfjs_dtype",
      at: `weight ${weight(json, "ClipToMaxLength/Less/y").name}`,
    });
  });

  it("shards shorter than the manifest says: input.truncated, naming the weight they end inside", async () => {
    const last = SHARDS[SHARDS.length - 1];
    const bytes = readFileSync(join(USE_DIR, last));
    const json = stock();
    const e = await refusal(await copy(json, { [last]: bytes.subarray(0, bytes.length - 1000) }));
    expect(e.code).toBe("input.truncated");
    expect(e.at).toMatch(/^weight /);
  });

  it("a removed node: input.tfjs_graph at the node that reads it", async () => {
    const json = stock();
    const softmax = node(json, "Layer_0/TransformerLayer/MultiheadAttention/DotProductAttention/BaseDotProductAttention/Softmax");
    json.modelTopology.node = json.modelTopology.node.filter((n) => n !== softmax);
    const e = await refusal(await copy(json));
    expect(e.code).toBe("input.tfjs_graph");
    expect(e.at).toBe(
      at(json, "Layer_0/TransformerLayer/MultiheadAttention/DotProductAttention/BaseDotProductAttention/attention_weights"),
    );
    expect(e.message).toMatch(/which no node defines/);
  });

  it("an input naming a node that does not exist, and a node's output it does not have: input.tfjs_graph", async () => {
    const json = stock();
    node(json, "hidden_layers/tanh_layer_0/Tanh").input = ["nowhere"];
    expect(await refusal(await copy(json))).toMatchObject({ code: "input.tfjs_graph", at: at(json, "hidden_layers/tanh_layer_0/Tanh") });
    const split = stock();
    const reshape = node(split, "Layer_1/TransformerLayer/MultiheadAttention/split_heads_2/split_last_dimension/Reshape");
    reshape.input![0] = reshape.input![0].replace(/:2$/, ":3");
    expect(await refusal(await copy(split))).toMatchObject({ code: "input.tfjs_graph", at: `node ${reshape.name}` });
  });

  it("missing inputs: unsupported.tfjs_graph naming the node", async () => {
    const json = stock();
    const bias = node(json, "hidden_layers/tanh_layer_0/BiasAdd");
    bias.input = bias.input!.slice(0, 1);
    expect(await refusal(await copy(json))).toMatchObject({ code: "unsupported.tfjs_graph", at: `node ${bias.name}` });
    const none = stock();
    delete node(none, "Layer_1/TransformerLayer/FFN/conv1/Relu").input;
    expect(await refusal(await copy(none))).toMatchObject({
      code: "unsupported.tfjs_graph",
      at: at(none, "Layer_1/TransformerLayer/FFN/conv1/Relu"),
    });
  });

  it("a cycle: input.tfjs_graph naming a node on it", async () => {
    const json = stock();
    // The layer norm's mean reads the layer norm's output: mean -> sub -> ... -> add_1 -> mean.
    const mean = node(json, "Layer_1/TransformerLayer/layer_prepostprocess/layer_norm/Mean");
    mean.input![0] = node(json, "Layer_1/TransformerLayer/layer_prepostprocess/layer_norm/add_1").name;
    const e = await refusal(await copy(json));
    expect(e.code).toBe("input.tfjs_graph");
    expect(e.message).toMatch(/cycle through node .*Layer_1\/TransformerLayer\/layer_prepostprocess\/layer_norm\//);
  });

  it("rewired edges, a changed op or attribute, an extra output: unsupported.tfjs_graph naming the first node that differs", async () => {
    // The FFN's residual skips the attention block: it adds the layer's input instead of the attention's sum.
    const skip = stock();
    node(skip, "Layer_1/TransformerLayer/FFN/layer_postprocess/add").input![1] = node(
      skip,
      "Layer_0/TransformerLayer/FFN/layer_postprocess/add",
    ).name;
    expect(await refusal(await copy(skip))).toMatchObject({
      code: "unsupported.tfjs_graph",
      at: at(skip, "Layer_0/TransformerLayer/FFN/Scatter/ScatterNd"),
    });
    // Q·K with K's heads from V's split: the edge present, not the name, decides.
    const kv = stock();
    const k = node(kv, "Layer_0/TransformerLayer/MultiheadAttention/split_heads_1/split_last_dimension/Reshape");
    k.input![0] = k.input![0].replace(/:1$/, ":2");
    expect(await refusal(await copy(kv))).toMatchObject({ code: "unsupported.tfjs_graph", at: `node ${k.name}` });
    // Plumbing too: the timing signal's positions read from the wrong Where.
    const where = stock();
    node(where, "Layer_0/AddTimingSignal/strided_slice_2").input![0] = node(where, "ClipToMaxLength/Where").name;
    // (That Where matches the pattern's; the first node that does not is the Less it reads, where a Greater should be.)
    expect(await refusal(await copy(where))).toMatchObject({ code: "unsupported.tfjs_graph", at: at(where, "ClipToMaxLength/Less") });
    // A Relu where the tanh layer has its Tanh.
    const relu = stock();
    node(relu, "hidden_layers/tanh_layer_0/Tanh").op = "Relu";
    expect(await refusal(await copy(relu))).toMatchObject({
      code: "unsupported.tfjs_graph",
      at: at(relu, "hidden_layers/tanh_layer_0/Tanh"),
    });
    // Q·Kᵀ without the transpose.
    const adj = stock();
    const qk = node(adj, "Layer_0/TransformerLayer/MultiheadAttention/DotProductAttention/BaseDotProductAttention/MatMul");
    (qk.attr as Record<string, { b: boolean }>).adj_y = { b: false };
    expect(await refusal(await copy(adj))).toMatchObject({ code: "unsupported.tfjs_graph", at: `node ${qk.name}` });
    // A plumbing constant with another value: layer norm over the wrong axis.
    const real = await readTfjsGraph(USE_DIR);
    const weights = new Map(real.weights);
    const [axes, t] = [...weights].find(([n]) => n.endsWith("FFN/layer_prepostprocess/layer_norm/Mean/reduction_indices"))!;
    weights.set(axes, { ...t, data: Int32Array.of(1) });
    expect(() => tfjsEncoderGraph("t", { ...real, weights })).toThrow(
      expect.objectContaining({ code: "unsupported.tfjs_graph", at: `node ${axes}` }),
    );
    // A second output: a node nothing reads.
    const extra = stock();
    extra.modelTopology.node.push({ name: "extra", op: "Relu", input: [node(extra, "hidden_layers/tanh_layer_0/Tanh").name] });
    expect(await refusal(await copy(extra))).toMatchObject({ code: "unsupported.tfjs_graph", at: "node extra" });
  });

  it("hyper-parameters that do not fit the weights: input.tfjs_graph", async () => {
    const real = await readTfjsGraph(USE_DIR);
    const set = (suffix: string, values: number[]) => {
      const weights = new Map(real.weights);
      const [name, t] = [...weights].find(([n]) => n.endsWith(suffix))!;
      weights.set(name, { ...t, data: Int32Array.from(values) });
      return { ...real, weights };
    };
    expect(() => tfjsEncoderGraph("t", set("Layer_0/TransformerLayer/MultiheadAttention/Const", [256, 256, 255]))).toThrow(
      expect.objectContaining({ code: "input.tfjs_graph" }),
    );
    expect(() =>
      tfjsEncoderGraph("t", set("Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/3", [100])),
    ).toThrow(expect.objectContaining({ code: "input.tfjs_graph" }));
    expect(() => tfjsEncoderGraph("t", set("ClipToMaxLength/Less/y", [0]))).toThrow(expect.objectContaining({ code: "input.tfjs_graph" }));
    expect(() => tfjsEncoderGraph("t", set("ClipToMaxLength/Less/y", [1 << 30]))).toThrow(
      expect.objectContaining({ code: "unsupported.tfjs_graph" }),
    );
  });

  it("the form, not the size: USE-Lite with its second layer repeated compiles with the layers it has", async () => {
    const real = await readTfjsGraph(USE_DIR);
    const out0 = real.nodes.find((n) => n.name.endsWith("Layer_0/TransformerLayer/FFN/layer_postprocess/add"))!.name;
    const out1 = real.nodes.find((n) => n.name.endsWith("Layer_1/TransformerLayer/FFN/layer_postprocess/add"))!.name;
    // Layer 1's own nodes: the ops downstream of layer 0's output up to its own, and the constants only they read.
    const source = (i: string) => i.replace(/:\d+$/, "");
    const own = new Set<string>([out1]);
    for (let grew = true; grew;) {
      grew = false;
      for (const n of real.nodes)
        if (
          !own.has(n.name) &&
          n.name.includes("Layer_1/") &&
          n.inputs.some((i) => source(i) === out0 || own.has(source(i))) &&
          n.name !== out1
        ) {
          own.add(n.name);
          grew = true;
        }
    }
    for (const c of real.nodes.filter((n) => n.op === "Const"))
      if (real.nodes.every((n) => !n.inputs.includes(c.name) || own.has(n.name)) && real.nodes.some((n) => n.inputs.includes(c.name)))
        own.add(c.name);
    const repeated = (copies: number) => {
      const nodes = real.nodes.map((n) => ({ ...n }));
      const weights = new Map(real.weights);
      let last = out1;
      for (let k = 0; k < copies; k++) {
        const rename = (i: string) => (own.has(source(i)) ? i.replace(source(i), `${source(i)}_copy${k}`) : source(i) === out0 ? last : i);
        for (const n of real.nodes.filter((n) => own.has(n.name))) {
          nodes.push({ ...n, name: rename(n.name), inputs: n.inputs.map(rename) });
          if (real.weights.has(n.name)) weights.set(rename(n.name), real.weights.get(n.name)!);
        }
        last = `${out1}_copy${k}`;
      }
      // The pooling reads the last layer.
      for (const n of nodes)
        if (!own.has(n.name) && !/_copy\d+$/.test(n.name))
          n.inputs = n.inputs.map((i) => (i === out1 && !n.name.includes("Layer_") ? last : i));
      return { file: "deeper/model.json", nodes, weights };
    };
    expect(tfjsEncoderGraph("t", repeated(2)).model.config.layers).toBe(4);
    // And the copies are checked like the original: a rewired copy is refused.
    const bad = repeated(2);
    const mean = bad.nodes.find((n) => n.name.endsWith("Layer_1/TransformerLayer/layer_prepostprocess/layer_norm/Mean_1"))!;
    mean.inputs = [out0, ...mean.inputs.slice(1)];
    expect(() => tfjsEncoderGraph("t", bad)).toThrow(expect.objectContaining({ code: "unsupported.tfjs_graph" }));
  });

  it("names mean nothing: USE-Lite with every node but the embedding renamed compiles to the same graph", async () => {
    const json = stock();
    const names = new Map(json.modelTopology.node.map((n, i) => [n.name, n.name.endsWith("module/Embeddings_en") ? n.name : `n${i}`]));
    for (const n of json.modelTopology.node) {
      n.name = names.get(n.name)!;
      n.input = n.input?.map((i) => i.replace(/^([^:]+)/, (s) => names.get(s)!));
    }
    for (const w of json.weightsManifest[0].weights) w.name = names.get(w.name as string)!;
    const renamed = tfjsEncoderGraph("t", await readTfjsGraph(await copy(json)));
    const original = tfjsEncoderGraph("t", await readTfjsGraph(USE_DIR));
    expect(renamed.nodes).toEqual(original.nodes);
    expect([...renamed.values.keys()]).toEqual([...original.values.keys()]);
    const bytes = (d: ArrayBufferView | undefined) => d && Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    for (const [k, v] of original.values) expect(bytes(renamed.values.get(k)!.data)?.equals(bytes(v.data)!) ?? !v.data, k).toBe(true);
  });
});
