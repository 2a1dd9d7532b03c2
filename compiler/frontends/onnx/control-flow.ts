/**
 * ONNX's control flow, expanded into straight-line nodes as the graph is folded (fold.ts calls
 * expandControlFlow when it reaches the node, so what came before it is known):
 *
 * - If: a condition known at build time (a constant, or computed from shapes) puts the branch it
 *   chooses in the If's place, and the other is never read. One known only at run time puts both,
 *   and each output chooses between the two branches' (ai.seec:Select, which needs them alike in
 *   shape): both are computed, the graph stays a straight line, as seec's targets run it.
 * - Scan (opset 9 and up): unrolled over the scan inputs' length, which the build knows — the body
 *   once per step, each step reading the scan inputs' slices (forward or reverse, along any axis)
 *   and the state the step before left, the scan outputs stacked along their axes.
 * - Loop: unrolled one iteration at a time. Each expansion puts the body once, followed by
 *   ai.seec:LoopStep, which folding reaches after the body, so the next expansion knows whether the
 *   loop goes on: the trip count and the condition the body leaves must be known at build time
 *   (a loop whose end depends on run-time values cannot be a straight line), and at most
 *   MAX_LOOP_STEPS iterations run. The scan outputs are stacked at the end.
 *
 * A subgraph's own names (its inputs, initializers and node outputs) are renamed under the node
 * (`<node>/then/x`, `<node>/3/x`), in subgraphs nested in it too; the names it reads from the
 * enclosing graphs stay as they are.
 */
import type { Lowering } from "./lower-ops.js";
import { SEEC_DOMAIN } from "./seec-domain.js";
import { attr, type OnnxGraphAttr, type OnnxNode, type OnnxSubgraph } from "./read.js";
import { tensor, type OnnxTensor } from "./tensor.js";
import { SeecError } from "../../../runtime/errors.js";

/** Ops expandControlFlow replaces (in the default domain). */
export const CONTROL_FLOW_OPS: ReadonlySet<string> = new Set(["If", "Scan", "Loop"]);

/** A node expandControlFlow replaces: a control-flow op, or a Loop's next iteration. */
export const expands = (node: OnnxNode): boolean =>
  node.domain === SEEC_DOMAIN ? node.op === "LoopStep" : !node.domain && CONTROL_FLOW_OPS.has(node.op);

/** The most iterations a Loop is unrolled to. */
export const MAX_LOOP_STEPS = 4096;

/** What replaces a control-flow node: nodes in order, and the initializers their subgraphs bring. */
export interface Expansion {
  nodes: OnnxNode[];
  initializers: Map<string, OnnxTensor>;
}

const refuse = (node: OnnxNode, message: string): never => {
  throw new SeecError("unsupported.onnx_op", message, { at: `node ${node.name}` });
};

const bodyOf = (node: OnnxNode, key: string): OnnxSubgraph => {
  const g = node.attrs[key] as OnnxGraphAttr | undefined;
  return g?.body ?? refuse(node, `${node.op} ${node.name} has no ${key}`);
};

/**
 * The node's expansion. `known(name)` is a tensor's value where the build knows it (undefined
 * otherwise), `shape(name)` its shape (every tensor's, once folding reached it).
 */
export function expandControlFlow(
  node: OnnxNode,
  known: (name: string) => OnnxTensor | undefined,
  shape: (name: string) => number[],
  opset: number,
): Expansion {
  if (node.op === "If") return expandIf(node, known);
  if (node.op === "Scan") return expandScan(node, shape, opset);
  return expandLoop(node, known, opset);
}

function expandIf(node: OnnxNode, known: (name: string) => OnnxTensor | undefined): Expansion {
  const branches = { then: bodyOf(node, "then_branch"), else: bodyOf(node, "else_branch") };
  for (const b of Object.values(branches))
    if (b.outputs.length !== node.outputs.length)
      refuse(node, `If ${node.name}'s branches give ${b.outputs.length} outputs; the node has ${node.outputs.length}`);
  const cond = known(node.inputs[0]);
  if (cond) {
    if (cond.data.length !== 1) refuse(node, `If ${node.name}'s condition holds ${cond.data.length} values, not one`);
    const taken = cond.data[0] ? "then" : "else";
    return inline(branches[taken], `${node.name}/${taken}/`, new Map(), node.outputs);
  }
  // Known only at run time: both branches, each output chosen between theirs.
  const parts = (["then", "else"] as const).map((k) =>
    inline(
      branches[k],
      `${node.name}/${k}/`,
      new Map(),
      node.outputs.map((_, i) => `${node.name}/${k}_output_${i}`),
    ),
  );
  const select = node.outputs.flatMap((y, i): OnnxNode[] =>
    y
      ? [
          {
            name: `${node.name}/select_${i}`,
            op: "Select",
            domain: SEEC_DOMAIN,
            inputs: [node.inputs[0], `${node.name}/then_output_${i}`, `${node.name}/else_output_${i}`],
            outputs: [y],
            attrs: {},
          },
        ]
      : [],
  );
  return {
    nodes: [...parts[0].nodes, ...parts[1].nodes, ...select],
    initializers: new Map([...parts[0].initializers, ...parts[1].initializers]),
  };
}

function expandScan(node: OnnxNode, shape: (name: string) => number[], opset: number): Expansion {
  if (opset < 9) refuse(node, `Scan before opset 9 (a batch axis and sequence_lens) is not supported; this graph imports opset ${opset}`);
  const body = bodyOf(node, "body");
  const M = attr(node, "num_scan_inputs", 0);
  const N = node.inputs.length - M;
  const K = body.outputs.length - N;
  if (M < 1 || N < 0 || K < 0 || body.inputs.length !== N + M)
    refuse(
      node,
      `Scan ${node.name}: ${node.inputs.length} inputs with num_scan_inputs ${M} do not fit its body's ${body.inputs.length} inputs and ${body.outputs.length} outputs`,
    );
  const list = (key: string, count: number) => {
    const v = node.attrs[key] as number[] | undefined;
    return v ?? Array.from({ length: count }, () => 0);
  };
  const scans = node.inputs.slice(N);
  const axes = list("scan_input_axes", M).map((a, j) => (a < 0 ? a + shape(scans[j]).length : a));
  const inReverse = list("scan_input_directions", M);
  const outAxes = list("scan_output_axes", K);
  const outReverse = list("scan_output_directions", K);
  const lengths = scans.map((x, j) => shape(x)[axes[j]]);
  const L = lengths[0];
  if (lengths.some((l) => l !== L)) refuse(node, `Scan ${node.name}'s scan inputs have lengths ${lengths.join(", ")}; they must be one`);
  if (!(L >= 1)) refuse(node, `Scan ${node.name} scans ${L} steps; seec unrolls a scan of at least one`);

  const nodes: OnnxNode[] = [];
  const initializers = new Map<string, OnnxTensor>();
  let state = node.inputs.slice(0, N);
  const steps: string[][] = Array.from({ length: K }, () => []);
  for (let t = 0; t < L; t++) {
    const at = `${node.name}/${t}/`;
    // Each scan input's slice for this step: its axis removed (Gather at a scalar index).
    const slices = scans.map((x, j) => {
      const [index, slice] = [`${at}index_${j}`, `${at}slice_${j}`];
      initializers.set(index, tensor("int64", [], [inReverse[j] ? L - 1 - t : t]));
      nodes.push({ name: slice, op: "Gather", domain: "", inputs: [x, index], outputs: [slice], attrs: { axis: axes[j] } });
      return slice;
    });
    const outputs = body.outputs.map((_, k) => `${at}output_${k}`);
    const step = inline(body, at, new Map(body.inputs.map((i, k) => [i.name, [...state, ...slices][k]])), outputs);
    nodes.push(...step.nodes);
    for (const [k, v] of step.initializers) initializers.set(k, v);
    state = outputs.slice(0, N);
    outputs.slice(N).forEach((o, k) => steps[k].push(o));
  }
  state.forEach((s, k) => node.outputs[k] && nodes.push(identity(`${node.name}/state_${k}`, s, node.outputs[k])));
  steps.forEach((values, k) => {
    const y = node.outputs[N + k];
    // A negative axis counts from the end of the stacked rank, for Unsqueeze and Concat alike.
    if (y)
      nodes.push(
        ...stack(`${node.name}/scan_output_${k}`, outReverse[k] ? [...values].reverse() : values, outAxes[k], y, opset, initializers),
      );
  });
  return { nodes, initializers };
}

/**
 * Loop, or its next iteration (ai.seec:LoopStep, whose inputs are the condition the body left and
 * the carried values): the body once more and another step, or, when the loop ends, its outputs.
 */
function expandLoop(node: OnnxNode, known: (name: string) => OnnxTensor | undefined, opset: number): Expansion {
  const body = bodyOf(node, "body");
  const step = node.op === "LoopStep";
  const loop = step ? String(node.attrs.loop) : node.name;
  const t = step ? attr(node, "iteration", 0) : 0;
  const [cond, ...carried] = step ? node.inputs : node.inputs.slice(1);
  const N = carried.length;
  const K = body.outputs.length - 1 - N;
  if (body.inputs.length !== N + 2 || K < 0)
    refuse(node, `Loop ${loop}: ${N} carried values do not fit its body's ${body.inputs.length} inputs and ${body.outputs.length} outputs`);
  const scans = step ? (node.attrs.scans as string[]) : [];
  const nodes: OnnxNode[] = [];
  const initializers = new Map<string, OnnxTensor>();

  // The trip count (read once, by the Loop) and the condition, where given, must be known.
  const first = step ? [] : [node.inputs[0], cond].filter(Boolean);
  const unknown = (step ? [cond] : first).filter((x) => x && !known(x));
  if (unknown.length)
    refuse(
      node,
      `Loop ${loop} reads ${unknown.map((x) => `"${x}"`).join(", ")} at run time${step ? ` (the condition after iteration ${t - 1})` : ""}; seec needs ${unknown.length > 1 ? "these values" : "this value"} at build time to unroll it (a constant, or computed from shapes)`,
    );
  const trips = step ? attr(node, "trips", Infinity) : node.inputs[0] ? Number(known(node.inputs[0])!.data[0]) : Infinity;
  const goes = t < trips && (!cond || known(cond)!.data[0] !== 0);
  if (!goes) {
    carried.forEach((v, k) => node.outputs[k] && nodes.push(identity(`${loop}/final_${k}`, v, node.outputs[k])));
    for (let k = 0; k < K; k++) {
      const y = node.outputs[N + k];
      if (!y) continue;
      if (t === 0) refuse(node, `Loop ${loop} runs no iteration, so its scan output ${y} has no shape seec can know`);
      const values = Array.from({ length: t }, (_, i) => scans[i * K + k]);
      nodes.push(...stack(`${loop}/scan_output_${k}`, values, 0, y, opset, initializers));
    }
    return { nodes, initializers };
  }
  if (t >= MAX_LOOP_STEPS) refuse(node, `Loop ${loop} runs past ${MAX_LOOP_STEPS} iterations, the most seec unrolls`);

  const at = `${loop}/${t}/`;
  const iteration = `${at}iteration`;
  initializers.set(iteration, tensor("int64", [], [t]));
  let condIn = cond;
  if (!condIn) initializers.set((condIn = `${at}cond_in`), tensor("bool", [], [1]));
  const outputs = body.outputs.map((_, k) => `${at}output_${k}`);
  const once = inline(body, at, new Map(body.inputs.map((i, k) => [i.name, [iteration, condIn, ...carried][k]])), outputs);
  for (const [k, v] of once.initializers) initializers.set(k, v);
  nodes.push(...once.nodes, {
    name: `${loop}/step_${t + 1}`,
    op: "LoopStep",
    domain: SEEC_DOMAIN,
    // Without a condition the Loop runs on its trip count: the body's condition output is read all the same (ONNX).
    inputs: [outputs[0], ...outputs.slice(1, 1 + N)],
    outputs: node.outputs,
    attrs: { body: node.attrs.body, loop, iteration: t + 1, trips, scans: [...scans, ...outputs.slice(1 + N)] },
  });
  return { nodes, initializers };
}

const identity = (name: string, x: string, y: string): OnnxNode => ({
  name,
  op: "Identity",
  domain: "",
  inputs: [x],
  outputs: [y],
  attrs: {},
});

/** `values` stacked along a new axis into `y`: each unsqueezed, then concatenated. */
function stack(
  name: string,
  values: readonly string[],
  axis: number,
  y: string,
  opset: number,
  initializers: Map<string, OnnxTensor>,
): OnnxNode[] {
  const nodes = values.map((v, t): OnnxNode => {
    const u = `${name}/${t}`;
    // Unsqueeze takes its axes as an input from opset 13, as an attribute before.
    if (opset < 13) return { name: u, op: "Unsqueeze", domain: "", inputs: [v], outputs: [u], attrs: { axes: [axis] } };
    initializers.set(`${u}/axes`, tensor("int64", [1], [axis]));
    return { name: u, op: "Unsqueeze", domain: "", inputs: [v, `${u}/axes`], outputs: [u], attrs: {} };
  });
  return [...nodes, { name, op: "Concat", domain: "", inputs: nodes.map((n) => n.outputs[0]), outputs: [y], attrs: { axis } }];
}

/**
 * The subgraph's nodes with its own names under `prefix`, its formal inputs read as `bind` says,
 * and Identity nodes giving its outputs the names `outputs` ("" where nothing reads one).
 */
function inline(sub: OnnxSubgraph, prefix: string, bind: ReadonlyMap<string, string>, outputs: readonly string[]): Expansion {
  const own = ownNames(sub);
  const rename = (x: string) => (!x ? x : (bind.get(x) ?? (own.has(x) ? `${prefix}${x}` : x)));
  const nodes = sub.nodes.map((n) => renameNode(n, rename, prefix));
  sub.outputs.forEach((o, i) => outputs[i] && nodes.push(identity(`${prefix}output_${i}`, rename(o.name), outputs[i])));
  return { nodes, initializers: new Map([...sub.initializers].map(([k, v]) => [rename(k), v])) };
}

/** The names a subgraph defines: its inputs, initializers and node outputs. */
const ownNames = (sub: OnnxSubgraph) =>
  new Set([...sub.inputs.map((i) => i.name), ...sub.initializers.keys(), ...sub.nodes.flatMap((n) => n.outputs).filter(Boolean)]);

/** A node with its names renamed, in the subgraphs of its attributes too (where they read the enclosing graph's). */
function renameNode(n: OnnxNode, rename: (x: string) => string, prefix: string): OnnxNode {
  const attrs = Object.fromEntries(
    Object.entries(n.attrs).map(([k, v]) => {
      if (typeof v !== "object" || v === null || !("body" in v)) return [k, v];
      const inner = ownNames(v.body);
      const outer = (x: string) => (!x || inner.has(x) ? x : rename(x));
      const body: OnnxSubgraph = {
        ...v.body,
        nodes: v.body.nodes.map((m) => renameNode(m, outer, "")),
        outputs: v.body.outputs.map((o) => ({ ...o, name: outer(o.name) })),
      };
      return [k, { graph: v.graph, body }];
    }),
  );
  return { ...n, name: `${prefix}${n.name}`, inputs: n.inputs.map(rename), outputs: n.outputs.map(rename), attrs };
}

/** ai.seec:Select(cond, a, b): If's output where its condition is known only at run time. */
const select: Lowering = (l, n) => {
  const [cond, a, b] = n.inputs;
  const [A, B] = [l.shape(a), l.shape(b)];
  if (l.shape(cond).reduce((x, y) => x * y, 1) !== 1) l.fail(`If's condition must hold one value, not [${l.shape(cond).join(", ")}]`);
  if (A.length !== B.length || A.some((d, i) => d !== B[i]))
    l.fail(
      `If's branches give ${n.outputs[0]} as [${A.join(", ")}] and [${B.join(", ")}]: with its condition known only at run time seec computes both, and needs them alike`,
    );
  return [l.map("where", [l.ir(cond), l.ir(a), l.ir(b)], l.dtype(a))];
};

export const CONTROL_FLOW_LOWERINGS: Readonly<Record<string, Lowering>> = { [`${SEEC_DOMAIN}:Select`]: select };
