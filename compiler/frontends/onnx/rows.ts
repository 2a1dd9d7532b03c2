/**
 * A batch run row by row (`--shape input_ids=?8x?128`: the leading `?` is the batch). The graph is
 * built for one row, and run() runs it once per row (runtime/rows.ts), which is right only where
 * the graph computes each row from that row alone. Nothing here proves that for every input; the
 * build checks it on probes instead: the graph built for two rows, run by the interpreter on two
 * different rows, must give what the one-row graph gives for each row alone, with a row of every
 * output. Evidence, as the length's five probes are (onnx/dynamic.ts), not a proof.
 */
import { SeecError } from "../../../runtime/errors.js";
import { elementCount, type Graph, type TensorData } from "../../ir/graph.js";
import { Interpreter } from "../../ir/interpreter.js";
import { rng } from "../../util/random.js";

/**
 * Integer probes, by row r and place j in the row: every row of the first all ones but the second's
 * alternating, so that the rows differ in sum (a mask's length) as well as in content; in the second
 * counting 0 to 3 from a different start, for graphs that treat values above 1 differently. Ids,
 * masks, positions and token types all take 0 and 1; a probe whose values lie outside what a Gather
 * can index is skipped (the first never is).
 */
const PATTERNS: ((r: number, j: number) => number)[] = [(r, j) => (r === 0 || j % 2 === 0 ? 1 : 0), (r, j) => (j + 3 * r + 1) % 4];

/**
 * Why running `row` (one row's graph) once per row does not give what each graph of `twos` (the same
 * graph for two rows, at one or more lengths) gives, if it does not. `inputs` carry the batch at axis
 * 0; the others are fed whole to both. Float inputs are random.
 */
export function rowsDiffer(row: Graph, twos: readonly Graph[], inputs: readonly string[]): string | undefined {
  const r = rng(11);
  const single = new Interpreter(row);
  for (const two of twos)
    for (const [p, pattern] of PATTERNS.entries()) {
      const feeds: Record<string, TensorData> = {};
      for (const name of two.inputs) {
        const v = two.values.get(name)!;
        const n = elementCount(v.shape as number[]);
        const per = inputs.includes(name) ? n / 2 : n;
        feeds[name] =
          v.dtype === "f32"
            ? Float32Array.from({ length: n }, () => r() * 2 - 1)
            : Int32Array.from({ length: n }, (_, k) => pattern(Math.floor(k / per), k % per));
      }
      let whole: ReturnType<Interpreter["run"]>;
      try {
        whole = new Interpreter(two).run(feeds);
      } catch (e) {
        if (p > 0 && e instanceof SeecError && !e.code.startsWith("internal.")) continue;
        throw e;
      }
      for (let k = 0; k < 2; k++) {
        const rowFeeds = Object.fromEntries(
          Object.entries(feeds).map(([name, data]) => [
            name,
            inputs.includes(name) ? data.subarray((k * data.length) / 2, ((k + 1) * data.length) / 2) : data,
          ]),
        );
        const alone = single.run(rowFeeds);
        for (const name of row.outputs) {
          const a = alone[name],
            b = whole[name];
          if (a.shape[0] !== 1 || b.shape[0] !== 2 || b.data.length !== 2 * a.data.length)
            return `output "${name}" is [${b.shape.join(", ")}] for two rows and [${a.shape.join(", ")}] for one: not a row per row`;
          let top = 0,
            diff = 0;
          for (let i = 0; i < a.data.length; i++) {
            const x = a.data[i],
              y = b.data[k * a.data.length + i];
            top = Math.max(top, Math.abs(y));
            diff = Math.max(diff, Number.isNaN(x) && Number.isNaN(y) ? 0 : Math.abs(x - y));
          }
          if (!(diff <= 1e-5 * Math.max(top, 1)))
            return `row ${k} of output "${name}" is ${diff.toPrecision(2)} off what that row gives alone (largest ${top.toPrecision(2)}): the graph mixes the rows`;
        }
      }
    }
  return undefined;
}
