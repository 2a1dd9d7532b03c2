/**
 * The SEE ops on wasm: one function per model builds a row e(t), with the slot structure,
 * widths, rank and addresses written in as literals (SIMD over the innermost slot); the three
 * ops loop it over tokens (embedding), over the vocabulary into a table (materialized head) or
 * into dot products with h (streamed head).
 */
import type { Node } from "../../compiler/ir/graph.js";
import type { OpName } from "../../compiler/ir/op-names.js";
import { entangledScratchLayout, readEntangledAttrs } from "../../compiler/ir/ops/entangled.js";
import type { Binding, CallContext } from "./binding.js";

const ROW_KERNELS: [string, string][] = [
  ["entangled", "kron"],
  ["entangled", "kronAccumulate"],
  ["entangled", "bagSum"],
  ["norm", "layerNorm"],
];

function rowFunction(node: Node, c: CallContext): { name: string; source: string } {
  const a = readEntangledAttrs(node.attrs);
  const ops = node.inputs.slice(node.op === "EntangledTable" ? 0 : 1);
  const scratch = c.addr(ops[ops.length - 1]);
  const L = entangledScratchLayout(a);
  const S = (floats: number) => (floats ? `${scratch} + ${4 * floats}` : scratch);
  const n = a.slotSource.length;
  let operand = a.rows.length;
  const lines: string[] = [];
  const slotVec: string[] = [];
  a.slotSource.forEach((src, j) => {
    const table = `${c.addr(ops[src])} + at(k * ${a.rows[src] * a.q[src]})`;
    if (a.slotBag[j]) {
      const [offsets, ids, weights] = ops.slice(operand, (operand += 3)).map((o) => c.addr(o));
      lines.push(`    bagSum(${S(L.bags[j])}, ${table}, ${offsets}, ${ids}, ${weights}, t, ${a.q[src]}, ${a.nullRow[src]});`);
      slotVec.push(S(L.bags[j]));
    } else {
      const entry = a.slotPerTerm[j] ? `k * ${a.vocab} + t` : "t";
      lines.push(`    const s${j} = ${table} + at(${loadIndex(c.addr(ops[operand++]), entry, a.slotIndexBytes[j])} * ${a.q[src]});`);
      slotVec.push(`s${j}`);
    }
  });
  // Multiply out all slots but the innermost, then accumulate their product with it.
  let prefix = slotVec[0],
    len = L.q[0];
  if (n === 1) {
    lines.push(`    store<f32>(${S(L.prefix[0])}, 1.0);`);
    prefix = S(L.prefix[0]);
    len = 1;
  }
  for (let j = 1; j < n - 1; j++) {
    const out = S(L.prefix[(j - 1) % 2]);
    lines.push(`    kron(${prefix}, ${len}, ${slotVec[j]}, ${L.q[j]}, ${out});`);
    prefix = out;
    len *= L.q[j];
  }
  const last = n - 1;
  lines.push(`    kronAccumulate(${prefix}, ${len}, ${slotVec[last]}, ${L.q[last]}, ${S(L.acc)});`);
  const finish = a.norm
    ? `layerNorm(${S(L.acc)}, ${c.addr(ops[operand])}, ${c.addr(ops[operand + 1])}, out, 1, ${a.dim}, ${a.epsilon});`
    : `memory.copy(out, ${S(L.acc)}, at(${a.dim}));`;
  const slots = a.slotSource.map((s, j) => `${a.q[s]}${a.slotBag[j] ? " (bag)" : ""}`).join(" ⊗ ");
  return {
    name: "entangledRow",
    source: [
      `/** SEE row e(t): rank ${a.rank}, slots ${slots} = ${L.width} entries, cut to ${a.dim}${a.norm ? ", LayerNorm" : ""}. */`,
      `function entangledRow(t: i32, out: usize): void {`,
      `  if (<u32>t >= ${a.vocab}) unreachable();`,
      `  memory.fill(${S(L.acc)}, 0, at(${L.width}));`,
      `  for (let k = 0; k < ${a.rank}; k++) {`,
      ...lines,
      `  }`,
      `  ${finish}`,
      `}`,
    ].join("\n"),
  };
}

const attrs = (node: Node) => readEntangledAttrs(node.attrs);

/** Entry `entry` of an index stored as u8, u16 or i32 entries, as an i32 expression. */
function loadIndex(index: string, entry: string, bytes: number): string {
  if (bytes === 1) return `<i32>load<u8>(${index} + <usize>(${entry}))`;
  if (bytes === 2) return `<i32>load<u16>(${index} + (<usize>(${entry}) << 1))`;
  return `load<i32>(${index} + at(${entry}))`;
}

export const SEE_BINDINGS = {
  EntangledEmbedding: {
    kernels: [...ROW_KERNELS, ["simd", "at"]],
    define: (node, c) => [
      rowFunction(node, c),
      {
        name: "entangledEmbedding",
        source: `/** y[i] = e(ids[i]) for T tokens. */\nfunction entangledEmbedding(ids: usize, y: usize, T: i32): void {\n  for (let i = 0; i < T; i++) entangledRow(load<i32>(ids + at(i)), y + at(i * ${attrs(node).dim}));\n}`,
      },
    ],
    call: ({ inputs: [ids], outputs: [y] }, c) => `entangledEmbedding(${c.addr(ids)}, ${c.addr(y)}, ${c.shape(ids)[0]})`,
  },
  EntangledTable: {
    kernels: [...ROW_KERNELS, ["simd", "at"]],
    define: (node, c) => [
      rowFunction(node, c),
      {
        name: "entangledTable",
        source: `/** The whole table, row by row: the materialized tied head. */\nfunction entangledTable(y: usize): void {\n  for (let v = 0; v < ${attrs(node).vocab}; v++) entangledRow(v, y + at(v * ${attrs(node).dim}));\n}`,
      },
    ],
    call: ({ outputs: [y] }, c) => `entangledTable(${c.addr(y)})`,
  },
  EntangledLogits: {
    kernels: [...ROW_KERNELS, ["simd", "at"], ["simd", "dot"]],
    define: (node, c) => {
      const a = attrs(node);
      const row = `${c.addr(node.inputs[node.inputs.length - 1])} + ${4 * entangledScratchLayout(a).row}`;
      return [
        rowFunction(node, c),
        {
          name: "entangledLogits",
          source:
            `/** y[r, v] = h[r] · e(v), rebuilding each row on the fly: the streamed tied head. */\n` +
            `function entangledLogits(h: usize, y: usize, rows: i32): void {\n` +
            `  for (let v = 0; v < ${a.vocab}; v++) {\n` +
            `    entangledRow(v, ${row});\n` +
            `    for (let r = 0; r < rows; r++) store<f32>(y + at(r * ${a.vocab} + v), dot(h + at(r * ${a.dim}), ${row}, ${a.dim}));\n` +
            `  }\n}`,
        },
      ];
    },
    call: ({ inputs: [h], outputs: [y] }, c) => `entangledLogits(${c.addr(h)}, ${c.addr(y)}, ${c.shape(h)[0]})`,
  },
} satisfies Partial<Record<OpName, Binding>>;
