/**
 * Feeds as callers give them, and a batch run row by row.
 *
 * run() takes each input as a typed array, as a typed array carrying `dims` (what run() returns), or
 * as an object with `data` and `dims` (onnxruntime's Tensor); `dims`, where given, must be a shape
 * the model takes. An imported graph built with its leading dimension marked as a batch
 * (`--shape input_ids=?8x?128`: manifest.model.rows) computes one row a module call: the inputs that
 * carry the batch are cut into rows, each row runs alone (the other inputs whole), and every output
 * is the rows' outputs stacked, [rows, ...], as the graph run on the whole batch gives them.
 */
import { SeecError } from "./errors.js";
import type { Feeds, Manifest, Outputs, TensorSpec } from "./artifact.js";
import { tensor, type TensorData } from "./tensor.js";

/** The feeds' arrays (or whatever was given in their place, for checkFeeds to name), and the dims that came with them. */
export interface PlainFeeds {
  arrays: Record<string, TensorData>;
  dims: Record<string, readonly number[]>;
}

/** A feed given as an object holding its data (onnxruntime's Tensor: `data` may be a getter of its class). */
const isWrapped = (f: unknown): f is { data: unknown; dims?: unknown } =>
  typeof f === "object" && f !== null && !ArrayBuffer.isView(f) && !Array.isArray(f) && "data" in f;

/** Each feed's typed array and, where it carries them, its dims (checked to be whole sizes that hold its elements). */
export function plainFeeds(feeds: Feeds): PlainFeeds {
  if (typeof feeds !== "object" || feeds === null)
    throw new SeecError("runtime.input", `run() takes an object of named inputs, got ${feeds === null ? "null" : typeof feeds}`);
  const arrays: Record<string, TensorData> = {},
    dims: Record<string, readonly number[]> = {};
  for (const [name, feed] of Object.entries(feeds)) {
    const data = isWrapped(feed) ? feed.data : feed;
    arrays[name] = data as TensorData;
    const d = (feed as { dims?: unknown } | undefined)?.dims;
    if (d === undefined) continue;
    const list = Array.isArray(d) || (ArrayBuffer.isView(d) && !(d instanceof DataView)) ? Array.from(d as ArrayLike<unknown>) : undefined;
    const whole = list?.every((x): x is number => Number.isInteger(x) && (x as number) >= 0);
    const size = whole ? (list as number[]).reduce((a, x) => a * x, 1) : -1;
    const length = ArrayBuffer.isView(data) ? (data as TensorData).length : undefined;
    if (size < 0 || (length !== undefined && size !== length))
      throw new SeecError(
        "runtime.input",
        `input "${name}" has dims ${list ? `[${list.join(", ")}]` : String(d)}, which ${!list ? "are not a list" : size < 0 ? "are not whole sizes" : `hold ${size} elements, not its ${length}`}`,
        { at: name },
      );
    dims[name] = list as number[];
  }
  return { arrays, dims };
}

/** A shape the model takes, with the range of each symbolic dimension: "[batch, T] (batch 1 to 4, T 1 to 16)". */
function takes(manifest: Manifest, shape: readonly (number | string)[], ranges: Record<string, number>): string {
  const symbols = [...new Set(shape.filter((d): d is string => typeof d === "string"))];
  return `[${shape.join(", ")}]${symbols.length ? ` (${symbols.map((d) => `${d} 1 to ${ranges[d] ?? manifest.dims[d]?.max}`).join(", ")})` : ""}`;
}

/** Where dims came with a feed, that they are a shape of `spec` (its numbers equal, its symbolic dimensions bound once). */
export function checkDims(manifest: Manifest, spec: TensorSpec, dims: readonly number[] | undefined, bound: Record<string, number>): void {
  if (!dims) return;
  const ok =
    dims.length === spec.shape.length &&
    spec.shape.every((d, i) => (typeof d === "number" ? d === dims[i] : (bound[d] ?? dims[i]) === dims[i]));
  if (!ok)
    throw new SeecError(
      "runtime.input",
      `input "${spec.name}" has dims [${dims.join(", ")}]; the model takes ${takes(manifest, spec.shape, {})}`,
      {
        at: spec.name,
      },
    );
}

const rowsOf = (n: number) => `${n} row${n === 1 ? "" : "s"}`;

/** The batch's rows: run row by row, the other inputs whole to each, the outputs stacked. */
export async function runRows(manifest: Manifest, feeds: PlainFeeds, runOne: (feeds: PlainFeeds) => Promise<Outputs>): Promise<Outputs> {
  const rows = manifest.model.rows!;
  // An input missing or not an array: one call, whose checks name it.
  if (rows.inputs.some((name) => !ArrayBuffer.isView(feeds.arrays[name]))) return runOne(feeds);
  const bound: Record<string, { size: number; by: string }> = {};
  let n: number | undefined;
  for (const name of rows.inputs) {
    const data = feeds.arrays[name];
    const spec = manifest.inputs.find((i) => i.name === name)!;
    const shape = [rows.name, ...spec.shape.slice(1)];
    const refuse = (message: string, hint?: string): never => {
      throw new SeecError("runtime.input", `input "${name}" ${message}`, { at: name, hint });
    };
    const given = feeds.dims[name];
    let count: number;
    if (given) {
      const fits = (d: number | string, i: number) =>
        typeof d === "number" ? d === given[i] : i === 0 || (given[i] >= 1 && given[i] <= manifest.dims[d].max);
      if (given.length !== shape.length || !shape.every(fits))
        refuse(`has dims [${given.join(", ")}]; the model takes ${takes(manifest, shape, { [rows.name]: rows.max })}`);
      shape.forEach((d, i) => {
        if (typeof d !== "string" || i === 0) return;
        const other = bound[d];
        if (other && other.size !== given[i])
          refuse(`has ${d} = ${given[i]} (dims [${given.join(", ")}]), where ${other.by} has ${d} = ${other.size}`);
        bound[d] = { size: given[i], by: other?.by ?? name };
      });
      count = given[0];
    } else {
      // Without dims: as many rows as the rest of a fixed shape makes; one row where the rest is symbolic too.
      const rest = spec.shape.slice(1);
      const most = rest.reduce<number>((a, d) => a * (typeof d === "number" ? d : manifest.dims[d].max), 1);
      const fixed = rest.every((d) => typeof d === "number");
      count = fixed ? data.length / most : 1;
      if (fixed && !Number.isInteger(count))
        refuse(`has ${data.length} elements, which are not whole rows of [${rest.join(", ")}] (${most} each)`);
      if (!fixed && data.length > most)
        refuse(
          `has ${data.length} elements, more than one row of [${rest.join(", ")}] holds (${most}), and no dims to say how many rows`,
          "give its dims ([rows, ...]), as onnxruntime's Tensor carries them",
        );
    }
    if (!(count >= 1 && count <= rows.max)) refuse(`has ${rowsOf(count)} of ${rows.name}; the model takes 1 to ${rows.max}`);
    if (n !== undefined && count !== n) refuse(`has ${rowsOf(count)} of ${rows.name}, where ${rows.inputs[0]} has ${n}`);
    n = count;
  }
  if (n === 1) return runOne(withRowDims(feeds, rows.inputs));
  const outs: Outputs[] = [];
  for (let r = 0; r < n!; r++) {
    const row: PlainFeeds = { arrays: { ...feeds.arrays }, dims: feeds.dims };
    for (const name of rows.inputs) {
      const data = feeds.arrays[name];
      const per = data.length / n!;
      row.arrays[name] = data.subarray(r * per, (r + 1) * per) as TensorData;
    }
    outs.push(await runOne(withRowDims(row, rows.inputs)));
  }
  return Object.fromEntries(
    manifest.outputs.map((spec) => [
      spec.name,
      stack(
        outs.map((o) => o[spec.name]),
        spec.elementType === "bool",
      ),
    ]),
  );
}

/** One row's dims (1 leading) where the batch's were given. */
function withRowDims(feeds: PlainFeeds, inputs: readonly string[]): PlainFeeds {
  const dims = { ...feeds.dims };
  for (const name of inputs) if (dims[name]) dims[name] = [1, ...dims[name].slice(1)];
  return { arrays: feeds.arrays, dims };
}

/** The rows' outputs, [1, ...] each, as one [rows, ...] tensor. */
function stack(parts: Outputs[string][], bool: boolean): Outputs[string] {
  const [first] = parts;
  const out = new (first.constructor as new (n: number) => TensorData)(first.length * parts.length);
  // Every part is of the output's one typed array type.
  parts.forEach((p, r) => (out as Float32Array).set(p as Float32Array, r * first.length));
  return tensor(out, [parts.length, ...first.dims.slice(1)], bool);
}
