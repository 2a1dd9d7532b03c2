/**
 * ONNX's control flow, expanded into straight-line nodes as the graph is folded (fold.ts calls
 * expandControlFlow when it reaches the node, so what came before it is known):
 *
 * - If: a condition known at build time (a constant, or computed from shapes) puts the branch it
 *   chooses in the If's place; the other is not built (its ops are still checked, with the rest,
 *   before any work). One known only at run time puts both, and each output chooses between the
 *   two branches' (ai.seec:Select, which needs them alike in shape): both run, so a branch the
 *   condition guards (an index it checks) runs too, and the graph stays a straight line, as seec's
 *   targets run it.
 * - Scan (opset 9 and up): unrolled over the scan inputs' length, which the build knows — the body
 *   once per step, each step reading the scan inputs' slices (forward or reverse, along any axis)
 *   and the state the step before left, the scan outputs stacked along their axes.
 * - Loop: unrolled one iteration at a time. The Loop puts the body once, followed by
 *   ai.seec:LoopStep, which folding reaches after the body, so its expansion knows whether the loop
 *   goes on: the trip count and the condition the body leaves must be known at build time (a loop
 *   whose end depends on run-time values cannot be a straight line), and at most MAX_LOOP_STEPS
 *   iterations run. The scan outputs are stacked at the end.
 *
 * A subgraph's own values (its inputs and node outputs) are renamed under the node and the step
 * (`<node>/then/x`, `<node>/3/x`), in subgraphs nested in it too; its initializers under the node
 * alone (`<node>/x`: one copy for every step); the names it reads from the enclosing graphs stay.
 * Names the expansion makes itself carry a `#` where a subgraph's have their `/`
 * (`<node>/3#slice_0`), so that the two never meet.
 */
import { SeecError } from "../../../runtime/errors.js";
import type { Lowering } from "./lower-ops.js";
import { attr, type OnnxGraphAttr, type OnnxNode, type OnnxSubgraph } from "./read.js";
import { SEEC_DOMAIN } from "./seec-domain.js";
import { tensor, type OnnxTensor } from "./tensor.js";

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

/** A graph that does not hold together: input.onnx. */
const malformed = (node: OnnxNode, message: string): never => {
  throw new SeecError("input.onnx", message, { at: `node ${node.name}` });
};
/** A graph seec cannot make straight: unsupported.onnx_op. */
const refuse = (node: OnnxNode, message: string): never => {
  throw new SeecError("unsupported.onnx_op", message, { at: `node ${node.name}` });
};

const bodyOf = (node: OnnxNode, key: string): OnnxSubgraph => {
  const g = node.attrs[key] as OnnxGraphAttr | undefined;
  return g?.body ?? malformed(node, `${node.op} ${node.name} has no ${key}`);
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
  return node.op === "Loop" ? startLoop(node, known, opset) : stepLoop(node, known, opset);
}

function expandIf(node: OnnxNode, known: (name: string) => OnnxTensor | undefined): Expansion {
  const branches = { then: bodyOf(node, "then_branch"), else: bodyOf(node, "else_branch") };
  for (const b of Object.values(branches))
    if (b.outputs.length !== node.outputs.length)
      malformed(node, `If ${node.name}'s branches give ${b.outputs.length} outputs; the node has ${node.outputs.length}`);
  const cond = known(node.inputs[0]);
  if (cond) {
    if (cond.data.length !== 1) malformed(node, `If ${node.name}'s condition holds ${cond.data.length} values, not one`);
    const taken = cond.data[0] ? "then" : "else";
    return inline(branches[taken], `${node.name}/${taken}/`, `${node.name}/${taken}/`, new Map(), node.outputs);
  }
  // Known only at run time: both branches, each output chosen between theirs.
  const chosen = (k: string, i: number) => `${node.name}#${k}_output_${i}`;
  const parts = (["then", "else"] as const).map((k) =>
    inline(
      branches[k],
      `${node.name}/${k}/`,
      `${node.name}/${k}/`,
      new Map(),
      node.outputs.map((_, i) => chosen(k, i)),
    ),
  );
  const select = node.outputs.flatMap((y, i): OnnxNode[] =>
    y
      ? [
          {
            name: `${node.name}#select_${i}`,
            op: "Select",
            domain: SEEC_DOMAIN,
            inputs: [node.inputs[0], chosen("then", i), chosen("else", i)],
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
    malformed(
      node,
      `Scan ${node.name}: ${node.inputs.length} inputs with num_scan_inputs ${M} do not fit its body's ${body.inputs.length} inputs and ${body.outputs.length} outputs`,
    );
  const list = (key: string, count: number) => (node.attrs[key] as number[] | undefined) ?? Array.from({ length: count }, () => 0);
  const scans = node.inputs.slice(N);
  const axes = list("scan_input_axes", M).map((a, j) => {
    const rank = shape(scans[j]).length;
    return a >= -rank && a < rank
      ? (a + rank) % rank
      : malformed(node, `Scan ${node.name}'s scan_input_axes[${j}] ${a} is outside the rank ${rank} of ${scans[j]}`);
  });
  const inReverse = list("scan_input_directions", M);
  const outAxes = list("scan_output_axes", K);
  const outReverse = list("scan_output_directions", K);
  const lengths = scans.map((x, j) => shape(x)[axes[j]]);
  const L = lengths[0];
  if (lengths.some((l) => l !== L)) malformed(node, `Scan ${node.name}'s scan inputs have lengths ${lengths.join(", ")}; they must be one`);
  if (L < 1) refuse(node, `Scan ${node.name} scans ${L} steps; seec unrolls a scan of at least one`);

  const nodes: OnnxNode[] = [];
  const initializers = new Map<string, OnnxTensor>();
  let state = node.inputs.slice(0, N);
  const steps: string[][] = Array.from({ length: K }, () => []);
  for (let t = 0; t < L; t++) {
    const made = `${node.name}/${t}#`;
    // Each scan input's slice for this step: its axis removed (Gather at a scalar index).
    const slices = scans.map((x, j) => {
      const [index, slice] = [`${made}index_${j}`, `${made}slice_${j}`];
      initializers.set(index, tensor("int64", [], [inReverse[j] ? L - 1 - t : t]));
      nodes.push({ name: slice, op: "Gather", domain: "", inputs: [x, index], outputs: [slice], attrs: { axis: axes[j] } });
      return slice;
    });
    const outputs = body.outputs.map((_, k) => `${made}output_${k}`);
    const step = inline(
      body,
      `${node.name}/${t}/`,
      `${node.name}/`,
      new Map(body.inputs.map((i, k) => [i.name, [...state, ...slices][k]])),
      outputs,
    );
    nodes.push(...step.nodes);
    for (const [k, v] of step.initializers) initializers.set(k, v);
    state = outputs.slice(0, N);
    outputs.slice(N).forEach((o, k) => steps[k].push(o));
  }
  state.forEach((s, k) => node.outputs[k] && nodes.push(identity(`${node.name}#state_${k}`, s, node.outputs[k])));
  steps.forEach((values, k) => {
    const y = node.outputs[N + k];
    // A negative axis counts from the end of the stacked rank, for Unsqueeze and Concat alike.
    if (y)
      nodes.push(
        ...stack(`${node.name}#scan_output_${k}`, outReverse[k] ? [...values].reverse() : values, outAxes[k], y, opset, initializers),
      );
  });
  return { nodes, initializers };
}

/** Loop(M, cond, v…): its first iteration, where its trip count and condition (those given) allow one. */
function startLoop(node: OnnxNode, known: (name: string) => OnnxTensor | undefined, opset: number): Expansion {
  const [M, cond, ...carried] = node.inputs;
  const unknown = [M, cond].filter((x) => x && !known(x));
  if (unknown.length)
    refuse(
      node,
      `Loop ${node.name} reads ${unknown.map((x) => `"${x}"`).join(", ")} at run time; seec needs ${unknown.length > 1 ? "these values" : "this value"} at build time to unroll it (a constant, or computed from shapes)`,
    );
  const trips = M ? Number(known(M)!.data[0]) : Infinity;
  return iterate(node, { loop: node.name, t: 0, trips, goes: !cond || known(cond)!.data[0] !== 0, carried, scans: [] }, opset);
}

/** ai.seec:LoopStep(cond, v…), after iteration t − 1: the next, where the condition that iteration left allows one. */
function stepLoop(node: OnnxNode, known: (name: string) => OnnxTensor | undefined, opset: number): Expansion {
  const [cond, ...carried] = node.inputs;
  const loop = String(node.attrs.loop),
    t = attr(node, "iteration", 0);
  const c = known(cond);
  if (!c)
    refuse(
      node,
      `Loop ${loop}'s body leaves its condition (${String(node.attrs.condition)}) known only at run time after iteration ${t - 1}; seec unrolls a loop whose end it knows at build time`,
    );
  const scans = node.attrs.scans as string[];
  return iterate(node, { loop, t, trips: attr(node, "trips", Infinity), goes: c!.data[0] !== 0, carried, scans }, opset);
}

interface LoopState {
  loop: string;
  /** The iteration about to run. */
  t: number;
  trips: number;
  /** The condition allows iteration t. */
  goes: boolean;
  carried: string[];
  /** The iterations' scan outputs, K an iteration. */
  scans: string[];
}

/**
 * Iteration t of the body and the step after it, or, when the trip count or the condition ends the
 * loop, its outputs. Without a condition input a Loop still ends when its body's condition does,
 * as ONNX Runtime runs it.
 */
function iterate(node: OnnxNode, { loop, t, trips, goes, carried, scans }: LoopState, opset: number): Expansion {
  const body = bodyOf(node, "body");
  const N = carried.length;
  const K = body.outputs.length - 1 - N;
  if (body.inputs.length !== N + 2 || K < 0)
    malformed(
      node,
      `Loop ${loop}: ${N} carried values do not fit its body's ${body.inputs.length} inputs and ${body.outputs.length} outputs`,
    );
  const nodes: OnnxNode[] = [];
  const initializers = new Map<string, OnnxTensor>();
  if (t >= trips || !goes) {
    carried.forEach((v, k) => node.outputs[k] && nodes.push(identity(`${loop}#final_${k}`, v, node.outputs[k])));
    for (let k = 0; k < K; k++) {
      const y = node.outputs[N + k];
      if (!y) continue;
      if (t === 0) refuse(node, `Loop ${loop} runs no iteration, so its scan output ${y} has no shape seec can know`);
      const values = Array.from({ length: t }, (_, i) => scans[i * K + k]);
      nodes.push(...stack(`${loop}#scan_output_${k}`, values, 0, y, opset, initializers));
    }
    return { nodes, initializers };
  }
  if (t >= MAX_LOOP_STEPS) refuse(node, `Loop ${loop} runs past ${MAX_LOOP_STEPS} iterations, the most seec unrolls`);

  const made = `${loop}/${t}#`;
  const iteration = `${made}iteration`,
    condIn = `${made}cond_in`;
  initializers.set(iteration, tensor("int64", [], [t]));
  initializers.set(condIn, tensor("bool", [], [1]));
  const outputs = body.outputs.map((_, k) => `${made}output_${k}`);
  const once = inline(
    body,
    `${loop}/${t}/`,
    `${loop}/`,
    new Map(body.inputs.map((i, k) => [i.name, [iteration, condIn, ...carried][k]])),
    outputs,
  );
  for (const [k, v] of once.initializers) initializers.set(k, v);
  nodes.push(...once.nodes, {
    name: `${loop}#step_${t + 1}`,
    op: "LoopStep",
    domain: SEEC_DOMAIN,
    inputs: [outputs[0], ...outputs.slice(1, 1 + N)],
    outputs: node.outputs,
    attrs: {
      body: node.attrs.body,
      loop,
      iteration: t + 1,
      trips,
      condition: body.outputs[0].name,
      scans: [...scans, ...outputs.slice(1 + N)],
    },
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
    const u = `${name}_${t}`;
    // Unsqueeze takes its axes as an input from opset 13, as an attribute before.
    if (opset < 13) return { name: u, op: "Unsqueeze", domain: "", inputs: [v], outputs: [u], attrs: { axes: [axis] } };
    initializers.set(`${u}_axes`, tensor("int64", [1], [axis]));
    return { name: u, op: "Unsqueeze", domain: "", inputs: [v, `${u}_axes`], outputs: [u], attrs: {} };
  });
  return [...nodes, { name, op: "Concat", domain: "", inputs: nodes.map((n) => n.outputs[0]), outputs: [y], attrs: { axis } }];
}

/**
 * The subgraph's nodes with its values under `prefix` and its initializers under `shared` (the
 * same for every step of a loop), its formal inputs read as `bind` says, and Identity nodes giving
 * its outputs the names `outputs` ("" where nothing reads one).
 */
function inline(
  sub: OnnxSubgraph,
  prefix: string,
  shared: string,
  bind: ReadonlyMap<string, string>,
  outputs: readonly string[],
): Expansion {
  const own = ownNames(sub);
  const rename = (x: string) => (!x ? x : (bind.get(x) ?? (sub.initializers.has(x) ? `${shared}${x}` : own.has(x) ? `${prefix}${x}` : x)));
  const nodes = sub.nodes.map((n) => renameNode(n, rename, prefix));
  sub.outputs.forEach((o, i) => outputs[i] && nodes.push(identity(`${prefix.slice(0, -1)}#output_${i}`, rename(o.name), outputs[i])));
  return { nodes, initializers: new Map([...sub.initializers].filter(([k]) => !bind.has(k)).map(([k, v]) => [rename(k), v])) };
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
  // A condition of any rank holds one value: as a scalar it adds no dimension to the output.
  return [l.map("where", [l.reshape(l.ir(cond), []), l.ir(a), l.ir(b)], l.dtype(a))];
};

export const CONTROL_FLOW_LOWERINGS: Readonly<Record<string, Lowering>> = { [`${SEEC_DOMAIN}:Select`]: select };
