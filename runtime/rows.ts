/**
 * Feeds as callers give them, and a batch run row by row.
 *
 * run() takes each input as a typed array, as a typed array carrying `dims` (what run() returns), or
 * as an object with `data` and `dims` (onnxruntime-web's Tensor); `dims`, where given, must be a
 * shape the model takes. An imported graph built with its leading dimension marked as a batch
 * (`--shape input_ids=?8x?128`: manifest.model.rows) computes one row a module call: the inputs that
 * carry the batch are cut into rows, each row runs alone (the other inputs whole), and every output
 * is the rows' outputs stacked, [rows, ...], as the graph run on the whole batch gives them.
 */
import { SeecError } from "./errors.js";
import type { Feeds, Manifest, Outputs, TensorSpec } from "./artifact.js";
import { tensor, type TensorData } from "./tensor.js";

/** The feeds' arrays, and the dims of those that came with them. */
export interface PlainFeeds {
  arrays: Record<string, TensorData>;
  dims: Record<string, readonly number[]>;
}

/** Each feed's typed array and, where it carries them, its dims (checked to be whole sizes that hold its elements). */
export function plainFeeds(feeds: Feeds): PlainFeeds {
  if (typeof feeds !== "object" || feeds === null)
    throw new SeecError("runtime.input", `run() takes an object of named inputs, got ${feeds === null ? "null" : typeof feeds}`);
  const arrays: Record<string, TensorData> = {},
    dims: Record<string, readonly number[]> = {};
  for (const [name, feed] of Object.entries(feeds)) {
    const f = feed as Partial<{ data: unknown; dims: unknown }> | undefined;
    const data = ArrayBuffer.isView(f) ? f : f?.data;
    arrays[name] = data as TensorData;
    if (f?.dims === undefined) continue;
    const d = f.dims;
    const size = Array.isArray(d) && d.every((x) => Number.isInteger(x) && x >= 0) ? d.reduce((a: number, x: number) => a * x, 1) : -1;
    const length = ArrayBuffer.isView(data) ? (data as TensorData).length : undefined;
    if (size < 0 || (length !== undefined && size !== length))
      throw new SeecError(
        "runtime.input",
        `input "${name}" has dims ${Array.isArray(d) ? `[${d.join(", ")}]` : String(d)}, which ${size < 0 ? "are not whole sizes" : `hold ${size} elements, not its ${length}`}`,
        { at: name },
      );
    dims[name] = d as number[];
  }
  return { arrays, dims };
}

/** Where dims came with a feed, that they are a shape of `spec` (its numbers equal, its symbolic dimensions bound once). */
export function checkDims(spec: TensorSpec, dims: readonly number[] | undefined, bound: Record<string, number>): void {
  if (!dims) return;
  const ok =
    dims.length === spec.shape.length &&
    spec.shape.every((d, i) => (typeof d === "number" ? d === dims[i] : (bound[d] ?? dims[i]) === dims[i]));
  if (!ok)
    throw new SeecError("runtime.input", `input "${spec.name}" has dims [${dims.join(", ")}]; the model takes [${spec.shape.join(", ")}]`, {
      at: spec.name,
    });
}

/** The batch's rows: run row by row, the other inputs whole to each, the outputs stacked. */
export async function runRows(manifest: Manifest, feeds: PlainFeeds, runOne: (feeds: PlainFeeds) => Promise<Outputs>): Promise<Outputs> {
  const rows = manifest.model.rows!;
  let n: number | undefined;
  for (const name of rows.inputs) {
    const data = feeds.arrays[name];
    const spec = manifest.inputs.find((i) => i.name === name)!;
    if (!ArrayBuffer.isView(data)) continue; // missing or not an array: the row's own check names it
    const given = feeds.dims[name];
    const rest = spec.shape.slice(1);
    if (given && (given.length !== spec.shape.length || rest.some((d, i) => typeof d === "number" && d !== given[i + 1])))
      throw new SeecError(
        "runtime.input",
        `input "${name}" has dims [${given.join(", ")}]; the model takes [${[rows.name, ...rest].join(", ")}]`,
        {
          at: name,
        },
      );
    // Without dims: as many rows as the rest of a fixed shape makes; one row where the rest is symbolic too.
    const fixed = rest.every((d) => typeof d === "number") ? rest.reduce<number>((a, d) => a * (d as number), 1) : undefined;
    const count = given ? given[0] : fixed ? data.length / fixed : 1;
    if (!(Number.isInteger(count) && count >= 1 && count <= rows.max))
      throw new SeecError(
        "runtime.input",
        given || fixed
          ? `input "${name}" has ${count} rows of ${rows.name}; the model takes 1 to ${rows.max}`
          : `input "${name}" has ${data.length} elements, which are not whole rows of [${rest.join(", ")}]`,
        { at: name, hint: given || fixed ? undefined : "give its dims ([rows, ...]), as onnxruntime's Tensor carries them" },
      );
    if (n !== undefined && count !== n)
      throw new SeecError("runtime.input", `input "${name}" has ${count} rows of ${rows.name}, where ${rows.inputs[0]} has ${n}`, {
        at: name,
      });
    n = count;
  }
  if (n === undefined || n === 1) return runOne(withRowDims(feeds, rows.inputs));
  const outs: Outputs[] = [];
  for (let r = 0; r < n; r++) {
    const row: PlainFeeds = { arrays: { ...feeds.arrays }, dims: { ...feeds.dims } };
    for (const name of rows.inputs) {
      const data = feeds.arrays[name];
      const per = data.length / n;
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
