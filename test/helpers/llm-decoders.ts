/**
 * Tiny one-layer ONNX decoders with a KV cache, written with onnx-proto as exporters write them
 * (MultiHeadAttention, GroupQueryAttention, ONNX Attention, com.microsoft Attention, attention written
 * out over Concat(past, new)), with and without biases and masks: what test/frontends/onnx-llm-review.test.ts
 * builds to wasm and test/frontends/onnx-decoder-ir.test.ts runs on the interpreter, both against
 * onnxruntime-node's loop feeding past/present back.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { tmpDir } from "./compile.js";
import { randomF32 } from "./random.js";

const { onnx } = onnxProto;
const DT = onnx.TensorProto.DataType;

function attribute(name: string, v: number | number[]): import("onnx-proto").onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  return Array.isArray(v) ? { name, type: T.INTS, ints: v } : { name, type: T.INT, i: v };
}

function initializer(name: string, dims: number[], data: ArrayLike<number>, int64 = false): import("onnx-proto").onnx.ITensorProto {
  return int64
    ? { name, dims, dataType: DT.INT64, int64Data: Array.from(data) }
    : { name, dims, dataType: DT.FLOAT, floatData: Array.from(data) };
}

const random = (name: string, dims: number[], seed: number, scale = 0.5) =>
  initializer(
    name,
    dims,
    randomF32(
      dims.reduce((a, b) => a * b, 1),
      seed,
      scale,
    ),
  );

// One-layer decoders: embedding, q/k/v projections, attention over the past and the new token, output head.
export const V = 11,
  D = 16;

type Node = import("onnx-proto").onnx.INodeProto;

/** The weights and small integer constants both decoders read. */
const common = () => [
  random("emb", [V, D], 1),
  random("wq", [D, D], 2),
  random("wk", [D, D], 3),
  random("wv", [D, D], 4),
  random("wo", [D, V], 5),
  initializer("two", [], [2], true),
  initializer("one", [], [1], true),
  initializer("zero", [1], [0], true),
  initializer("three", [1], [3], true),
  initializer("axis1", [1], [1], true),
];

/** ALiBi's way: a bias [1, N, 1, P + 1], columns 0..P of a table, P from the past's shape. */
const alibi = (heads: number): { nodes: Node[]; inits: import("onnx-proto").onnx.ITensorProto[] } => ({
  nodes: [
    { opType: "Shape", input: ["past_key"], output: ["pshape"] },
    { opType: "Gather", input: ["pshape", "two"], output: ["plen"], attribute: [attribute("axis", 0)] },
    { opType: "Add", input: ["plen", "one"], output: ["tlen"] },
    { opType: "Unsqueeze", input: ["tlen", "zero"], output: ["end"] },
    { opType: "Slice", input: ["table", "zero", "end", "three"], output: ["ab"] },
  ],
  inits: [random("table", [1, heads, 1, 32], 6, 3)],
});

/** A past input and the present output the graph writes for it. */
export interface Past {
  past: string;
  present: string;
  dims: (number | string)[];
}

async function write(
  name: string,
  nodes: Node[],
  inits: import("onnx-proto").onnx.ITensorProto[],
  pastDims: (number | string)[] | Past[],
  withMask = false,
  opset = 18,
) {
  const pasts: Past[] =
    typeof pastDims[0] === "object"
      ? (pastDims as Past[])
      : [
          { past: "past_key", present: "present_key", dims: pastDims as (number | string)[] },
          { past: "past_value", present: "present_value", dims: pastDims as (number | string)[] },
        ];
  const dyn = (dims: (number | string)[]) => ({ dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [
      { domain: "", version: opset },
      { domain: "com.microsoft", version: 1 },
    ],
    graph: {
      name,
      node: nodes,
      initializer: [...common(), ...inits],
      input: [
        { name: "input_ids", type: { tensorType: { elemType: DT.INT64, shape: dyn([1, "seq"]) } } },
        ...pasts.map((p) => ({ name: p.past, type: { tensorType: { elemType: DT.FLOAT, shape: dyn(p.dims) } } })),
        ...(withMask ? [{ name: "attention_mask", type: { tensorType: { elemType: DT.INT64, shape: dyn([1, "total"]) } } }] : []),
      ],
      output: [{ name: "logits" }, ...pasts.map((p) => ({ name: p.present }))],
    },
  });
  const file = join(await tmpDir(), `${name}.onnx`);
  writeFileSync(file, onnx.ModelProto.encode(model).finish());
  return { file, pasts, withMask };
}

const projections: Node[] = [
  { opType: "Gather", input: ["emb", "input_ids"], output: ["x"], attribute: [attribute("axis", 0)] },
  { opType: "MatMul", input: ["x", "wq"], output: ["q"] },
  { opType: "MatMul", input: ["x", "wk"], output: ["k"] },
  { opType: "MatMul", input: ["x", "wv"], output: ["v"] },
];

/** com.microsoft MultiHeadAttention with past_key/past_value [1, 2, P, 8], an ALiBi attention_bias or none. */
export function mhaDecoder(bias: boolean) {
  const b = bias ? alibi(2) : { nodes: [], inits: [] };
  return write(
    "mha",
    [
      ...projections,
      ...b.nodes,
      {
        opType: "MultiHeadAttention",
        domain: "com.microsoft",
        name: "mha",
        input: ["q", "k", "v", "", "", bias ? "ab" : "", "past_key", "past_value"],
        output: ["att", "present_key", "present_value"],
        attribute: [attribute("num_heads", 2)],
      },
      { opType: "MatMul", input: ["att", "wo"], output: ["logits"] },
    ],
    b.inits,
    [1, 2, "past", 8],
  );
}

/**
 * Attention written out over Concat(past, new) as PyTorch exports write it, one head [1, 1, ·, 16]:
 * scores / 4, then an ALiBi bias added, a sliding window of 3 keys (a Where), or neither.
 */
export function writtenOutDecoder(mask: "none" | "alibi" | "window" | "padding") {
  const b = mask === "alibi" ? alibi(1) : { nodes: [], inits: [] };
  const inits = [...b.inits, initializer("four", [], [4]), initializer("neg", [], [-1e4])];
  const masking: Node[] = [];
  let scores = "scaled";
  if (mask === "alibi") {
    masking.push({ opType: "Add", input: ["scaled", "ab"], output: ["biased"] });
    scores = "biased";
  }
  if (mask === "padding") {
    // As Hugging Face's exports: (1 − attention_mask) · −10⁴, [1, 1, 1, P + 1], added.
    inits.push(initializer("onef", [], [1]), initializer("axes12", [2], [1, 2], true));
    masking.push(
      { opType: "Cast", input: ["attention_mask"], output: ["maskf"], attribute: [attribute("to", DT.FLOAT)] },
      { opType: "Sub", input: ["onef", "maskf"], output: ["hidden"] },
      { opType: "Mul", input: ["hidden", "neg"], output: ["additive"] },
      { opType: "Unsqueeze", input: ["additive", "axes12"], output: ["additive4"] },
      { opType: "Add", input: ["scaled", "additive4"], output: ["padded"] },
    );
    scores = "padded";
  }
  if (mask === "window") {
    // keep = arange(P + 1) > P − 3: the last 3 keys.
    inits.push(initializer("zerof", [], [0], true), initializer("window", [], [2], true));
    masking.push(
      { opType: "Shape", input: ["past_key"], output: ["pshape"] },
      { opType: "Gather", input: ["pshape", "two"], output: ["plen"], attribute: [attribute("axis", 0)] },
      { opType: "Add", input: ["plen", "one"], output: ["tlen"] },
      { opType: "Range", input: ["zerof", "tlen", "one"], output: ["cols"] },
      { opType: "Sub", input: ["plen", "window"], output: ["first"] },
      { opType: "GreaterOrEqual", input: ["cols", "first"], output: ["keep"] },
      { opType: "Where", input: ["keep", "scaled", "neg"], output: ["windowed"] },
    );
    scores = "windowed";
  }
  return write(
    `written-${mask}`,
    [
      ...projections,
      ...b.nodes,
      { opType: "Unsqueeze", input: ["q", "axis1"], output: ["q4"] },
      { opType: "Unsqueeze", input: ["k", "axis1"], output: ["k4"] },
      { opType: "Unsqueeze", input: ["v", "axis1"], output: ["v4"] },
      { opType: "Concat", input: ["past_key", "k4"], output: ["present_key"], attribute: [attribute("axis", 2)] },
      { opType: "Concat", input: ["past_value", "v4"], output: ["present_value"], attribute: [attribute("axis", 2)] },
      { opType: "Transpose", input: ["present_key"], output: ["keysT"], attribute: [attribute("perm", [0, 1, 3, 2])] },
      { opType: "MatMul", input: ["q4", "keysT"], output: ["scores"] },
      { opType: "Div", input: ["scores", "four"], output: ["scaled"] },
      ...masking,
      { opType: "Softmax", input: [scores], output: ["probs"], attribute: [attribute("axis", -1)] },
      { opType: "MatMul", input: ["probs", "present_value"], output: ["att4"] },
      { opType: "Squeeze", input: ["att4", "axis1"], output: ["att"] },
      { opType: "MatMul", input: ["att", "wo"], output: ["logits"] },
    ],
    inits,
    [1, 1, "past", 16],
    mask === "padding",
  );
}

/**
 * com.microsoft GroupQueryAttention as GenAI's exports write it: 4 query heads over 2 kv heads of 16,
 * rotary caches of 32 rows (interleaved or not), seqlens_k and total_sequence_length from the mask.
 */
export function gqaDecoder(interleaved: boolean, scale?: number, packed = false) {
  const r = randomF32(32 * 8, 9, 3);
  const projections: Node[] = packed
    ? [
        // One projection into [q | k | v], as GenAI's exports pack them.
        { opType: "Concat", input: ["gq", "gk", "gv"], output: ["gqkv"], attribute: [attribute("axis", 1)] },
        { opType: "MatMul", input: ["x", "gqkv"], output: ["q"] },
      ]
    : [
        { opType: "MatMul", input: ["x", "gq"], output: ["q"] },
        { opType: "MatMul", input: ["x", "gk"], output: ["k"] },
        { opType: "MatMul", input: ["x", "gv"], output: ["v"] },
      ];
  return write(
    packed ? "gqa-packed" : "gqa",
    [
      { opType: "Gather", input: ["emb", "input_ids"], output: ["x"], attribute: [attribute("axis", 0)] },
      ...projections,
      { opType: "ReduceSum", input: ["attention_mask", "axis1"], output: ["sum"], attribute: [attribute("keepdims", 0)] },
      { opType: "Sub", input: ["sum", "one"], output: ["last"] },
      { opType: "Cast", input: ["last"], output: ["seqlens"], attribute: [attribute("to", DT.INT32)] },
      { opType: "Shape", input: ["attention_mask"], output: ["mshape"] },
      { opType: "Gather", input: ["mshape", "one"], output: ["width"], attribute: [attribute("axis", 0)] },
      { opType: "Cast", input: ["width"], output: ["total"], attribute: [attribute("to", DT.INT32)] },
      {
        opType: "GroupQueryAttention",
        domain: "com.microsoft",
        name: "gqa",
        input: ["q", packed ? "" : "k", packed ? "" : "v", "past_key", "past_value", "seqlens", "total", "cos", "sin"],
        output: ["att", "present_key", "present_value"],
        attribute: [
          attribute("num_heads", 4),
          attribute("kv_num_heads", 2),
          attribute("do_rotary", 1),
          attribute("rotary_interleaved", +interleaved),
          ...(scale ? [{ name: "scale", type: onnx.AttributeProto.AttributeType.FLOAT, f: scale }] : []),
        ],
      },
      { opType: "MatMul", input: ["att", "go"], output: ["logits"] },
    ],
    [
      random("gq", [D, 64], 12),
      random("gk", [D, 32], 13),
      random("gv", [D, 32], 14),
      random("go", [64, V], 15),
      initializer("cos", [32, 8], Array.from(r, Math.cos)),
      initializer("sin", [32, 8], Array.from(r, Math.sin)),
    ],
    [1, 2, "past", 16],
    true,
  );
}

/**
 * ONNX's own Attention (opset 23) over past_key/past_value [1, 2, P, 4]: 4 query heads over 2 kv
 * heads of 4, q/k/v [1, S, N·H]; with a boolean attn_mask from attention_mask, a softcap, or neither.
 */
export function onnxAttentionDecoder(variant: "plain" | "mask" | "greater" | "additive" | "first-hidden" | "softcap") {
  const masks: Record<string, Node[]> = {
    mask: [{ opType: "Cast", input: ["attention_mask"], output: ["mask_b"], attribute: [attribute("to", DT.BOOL)] }],
    // attention_mask > 0: boolean through a comparison.
    greater: [{ opType: "Greater", input: ["attention_mask", "zero_s"], output: ["mask_b"] }],
    // Hugging Face's additive padding mask, (1 − mask) · −10⁴: zeros for a mask of ones.
    additive: [
      { opType: "Cast", input: ["attention_mask"], output: ["mask_f"], attribute: [attribute("to", DT.FLOAT)] },
      { opType: "Sub", input: ["onef", "mask_f"], output: ["hidden"] },
      { opType: "Mul", input: ["hidden", "neg"], output: ["mask_b"] },
    ],
    // Key 0 hidden: Cast(Range(0, T)) to bool, [F, T, T, …] — must be refused, not dropped.
    "first-hidden": [
      { opType: "Shape", input: ["attention_mask"], output: ["mshape"] },
      { opType: "Gather", input: ["mshape", "one"], output: ["width"], attribute: [attribute("axis", 0)] },
      { opType: "Range", input: ["zero_s", "width", "one"], output: ["cols"] },
      { opType: "Cast", input: ["cols"], output: ["mask_b"], attribute: [attribute("to", DT.BOOL)] },
    ],
  };
  const masked = variant in masks;
  const mask: Node[] = masked ? [...masks[variant], { opType: "Unsqueeze", input: ["mask_b", "axes01"], output: ["attn_mask"] }] : [];
  return write(
    `attention23-${variant}`,
    [
      { opType: "Gather", input: ["emb", "input_ids"], output: ["x"], attribute: [attribute("axis", 0)] },
      { opType: "MatMul", input: ["x", "aq"], output: ["q"] },
      { opType: "MatMul", input: ["x", "ak"], output: ["k"] },
      { opType: "MatMul", input: ["x", "av"], output: ["v"] },
      ...mask,
      {
        opType: "Attention",
        name: "attention",
        input: ["q", "k", "v", masked ? "attn_mask" : "", "past_key", "past_value"],
        output: ["att", "present_key", "present_value"],
        attribute: [
          attribute("q_num_heads", 4),
          attribute("kv_num_heads", 2),
          ...(variant === "softcap" ? [{ name: "softcap", type: onnx.AttributeProto.AttributeType.FLOAT, f: 30 }] : []),
        ],
      },
      { opType: "MatMul", input: ["att", "wo"], output: ["logits"] },
    ],
    [
      random("aq", [D, 16], 21),
      random("ak", [D, 8], 22),
      random("av", [D, 8], 23),
      initializer("axes01", [2], [0, 1], true),
      initializer("zero_s", [], [0], true),
      initializer("onef", [], [1]),
      initializer("neg", [], [-1e4]),
    ],
    [1, 2, "past", 4],
    masked,
    23,
  );
}

/**
 * com.microsoft Attention as ORT's transformer optimizer writes GPT-2's: q, k, v from one matmul, the
 * past stacked [2, 1, 2, P, 8]; mask_index 2-D (the attention mask), 1-D (the sequence's end,
 * exclusive: its length, or its length − 1, which hides the newest key), or none.
 */
export function contribAttentionDecoder(maskIndex: "none" | "2d" | "length" | "length-1") {
  const pre: Node[] = [];
  if (maskIndex === "2d") pre.push({ opType: "Cast", input: ["attention_mask"], output: ["mi"], attribute: [attribute("to", DT.INT32)] });
  if (maskIndex === "length" || maskIndex === "length-1")
    pre.push(
      { opType: "ReduceSum", input: ["attention_mask", "axis1"], output: ["len"], attribute: [attribute("keepdims", 0)] },
      { opType: maskIndex === "length" ? "Identity" : "Sub", input: maskIndex === "length" ? ["len"] : ["len", "one"], output: ["end"] },
      { opType: "Cast", input: ["end"], output: ["mi"], attribute: [attribute("to", DT.INT32)] },
    );
  return write(
    `contrib-attention-${maskIndex}`,
    [
      { opType: "Gather", input: ["emb", "input_ids"], output: ["x"], attribute: [attribute("axis", 0)] },
      ...pre,
      {
        opType: "Attention",
        domain: "com.microsoft",
        name: "attention",
        input: ["x", "wqkv", "bqkv", maskIndex === "none" ? "" : "mi", "past"],
        output: ["att", "present"],
        attribute: [attribute("num_heads", 2), attribute("unidirectional", 1)],
      },
      { opType: "MatMul", input: ["att", "wo"], output: ["logits"] },
    ],
    [random("wqkv", [D, 48], 31), random("bqkv", [48], 32, 0.1)],
    [{ past: "past", present: "present", dims: [2, 1, 2, "past", 8] }],
    maskIndex !== "none",
  );
}

/** Tokens the decoders are fed, one a call. */
export const TOKENS = [3, 1, 4, 1, 5, 9, 2, 6];
