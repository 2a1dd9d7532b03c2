/** onnxruntime-node's greedy loop over an ONNX decoder's past/present pairs: the reference seec's stateful decoders are held to. */
import { readOnnx } from "../../compiler/frontends/onnx/read.js";
import { halfToFloat } from "../../compiler/util/float16.js";

/** A greedy loop in onnxruntime-node: one token a call, past fed back from present. */
export async function ortGreedy(file: string, prompt: number[], steps: number): Promise<{ tokens: number[]; logits: Float32Array[] }> {
  const ort = await import("onnxruntime-node");
  const model = await readOnnx(file);
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  const pasts = model.inputs.filter((i) => i.name !== "input_ids" && i.name !== "attention_mask" && i.name !== "position_ids");
  const presentOf = (past: string) =>
    past.startsWith("past_key_values.") ? past.replace("past_key_values.", "present.") : past.replace("past_", "present_");
  const fp16 = (i: { elementType: string }) => i.elementType === "float16";
  let cache: Map<string, InstanceType<typeof ort.Tensor>> = new Map(
    pasts.map((p) => {
      const dims = p.dims.map((d) => (typeof d === "number" ? d : /batch/.test(d) ? 1 : 0));
      return [p.name, new ort.Tensor(fp16(p) ? "float16" : "float32", fp16(p) ? new Uint16Array(0) : new Float32Array(0), dims)];
    }),
  );
  const tokens = [...prompt];
  const logits: Float32Array[] = [];
  const names = new Set(model.inputs.map((i) => i.name));
  // Integer inputs in the graph's own type (int64, or int32 as ORT's transformer optimizer writes them).
  const ints = (name: string, values: number[]) =>
    model.inputs.find((i) => i.name === name)!.dtype === "int32"
      ? new ort.Tensor("int32", Int32Array.from(values), [1, values.length])
      : new ort.Tensor("int64", BigInt64Array.from(values, BigInt), [1, values.length]);
  for (let pos = 0; logits.length < prompt.length + steps - 1; pos++) {
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = Object.fromEntries(cache);
    feeds.input_ids = ints("input_ids", [tokens[pos]]);
    if (names.has("attention_mask")) feeds.attention_mask = ints("attention_mask", new Array(pos + 1).fill(1));
    if (names.has("position_ids")) feeds.position_ids = ints("position_ids", [pos]);
    const out = await session.run(feeds);
    const first = out[model.outputs[0].name];
    const row = first.type === "float16" ? Float32Array.from(first.data as Uint16Array, halfToFloat) : (first.data as Float32Array);
    logits.push(row.slice(row.length - first.dims.at(-1)!));
    cache = new Map(pasts.map((p) => [p.name, out[presentOf(p.name)]]));
    if (pos + 1 >= tokens.length) tokens.push(argmax(logits.at(-1)!));
  }
  return { tokens, logits };
}

export function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}
