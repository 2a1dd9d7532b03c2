// applySee: the dense embedding leaves the graph, its Gather becomes EntangledEmbedding and a tied
// head EntangledLogits ("stream") or a Linear over one EntangledTable ("materialize"), with the
// outputs of the same graph over the dense table the factors stand for (on the interpreter); see/2
// weights and adapters replace the model's; factors that do not fit the graph are refused, naming
// what does not fit.
import { describe, expect, it } from "vitest";
import { denseTable, withAdapter, type SeeFactors } from "../../compiler/factors/factors.js";
import { GraphBuilder } from "../../compiler/ir/builder.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { Interpreter } from "../../compiler/ir/interpreter.js";
import { entangledAttrs, entangledScratchLayout } from "../../compiler/ir/ops/entangled.js";
import { applySee } from "../../compiler/passes/see.js";
import { catchSeec } from "../helpers/errors.js";
import { maxAbsDiff, randomF32 } from "../helpers/random.js";
import { randomFactors, type Shape } from "../helpers/see.js";

const [V, D] = [11, 6];
const SHAPE: Shape = {
  vocab: V,
  dim: D,
  rank: 2,
  slots: [
    ["a", 2],
    ["b", 4, true],
  ],
  norm: true,
};

/**
 * ids [T ≤ 5] → x = emb[ids] → h = Linear(x, w) [T, D] and the tied heads logits = Linear(h, emb)
 * and, with `twoHeads`, logits2 = Linear(x, emb). `emb` is [V, D] (the factors' dense table by default).
 */
function tied({ emb = new Float32Array(V * D) as Float32Array, twoHeads = false, vocab = V, dim = D } = {}): Graph {
  const b = new GraphBuilder("tied", { family: "decoder", config: {} });
  b.dim("T", 5);
  const table = b.constant("emb", emb, [vocab, dim]);
  const x = b.node("Gather", "embed", [table, b.input("ids", "i32", ["T"])]);
  const h = b.node("Linear", "h", [x, b.constant("w", randomF32(dim * dim, 7), [dim, dim])]);
  b.output(b.node("Linear", "logits", [h, table]));
  if (twoHeads) b.output(b.node("Linear", "logits2", [x, table]));
  return b.finish();
}

const IDS = Int32Array.of(0, 3, 10, 5, 1);

function expectSameOutputs(want: Graph, got: Graph): void {
  const [a, b] = [new Interpreter(want).run({ ids: IDS }), new Interpreter(got).run({ ids: IDS })];
  expect(Object.keys(b)).toEqual(Object.keys(a));
  for (const name of Object.keys(a)) {
    expect(b[name].shape).toEqual(a[name].shape);
    expect(maxAbsDiff(b[name].data, a[name].data), name).toBeLessThan(1e-5);
  }
}

const factors = (): SeeFactors => randomFactors(SHAPE, 3);

describe("applySee", () => {
  it("materialize: one EntangledTable first, which every tied head reads; the embedding's Gather becomes EntangledEmbedding", () => {
    const f = factors();
    const graph = applySee(tied({ twoHeads: true }), f, "materialize");
    const factorInputs = [
      "see.tables.a",
      "see.tables.b",
      "see.index.0",
      "see.bag.1.offsets",
      "see.bag.1.ids",
      "see.bag.1.weights",
      "see.norm.weight",
      "see.norm.bias",
      "see.scratch",
    ];
    expect(graph.nodes.map((n) => `${n.op} ${n.name} (${n.inputs.join(", ")}) -> ${n.outputs.join(", ")}`)).toEqual([
      `EntangledTable see.table (${factorInputs.join(", ")}) -> see.table`,
      `EntangledEmbedding embed (ids, ${factorInputs.join(", ")}) -> embed`,
      "Linear h (embed, w) -> h",
      "Linear logits (h, see.table) -> logits",
      "Linear logits2 (embed, see.table) -> logits2",
    ]);
    const attrs = entangledAttrs(f);
    for (const i of [0, 1]) expect(graph.nodes[i].attrs).toEqual(attrs);
    expect(graph.nodes[3].attrs).toEqual({});
    expect(graph.values.has("emb")).toBe(false);
    expect(graph.values.get("see.table")).toEqual({ name: "see.table", kind: "activation", dtype: "f32", shape: [V, D] });
    expect(graph.values.get("see.scratch")).toEqual({
      name: "see.scratch",
      kind: "state",
      dtype: "f32",
      shape: [entangledScratchLayout(attrs).floats],
    });
    const operand = (name: string) => {
      const { kind, dtype, shape } = graph.values.get(name)!;
      return `${kind} ${dtype} [${shape.join(", ")}]`;
    };
    expect(factorInputs.slice(0, -1).map(operand)).toEqual([
      `const f32 [2, ${f.spec.sources.a.rows}, 2]`,
      `const f32 [2, ${f.spec.sources.b.rows}, 4]`,
      `const i8 [${V}]`, // an index into a source of at most 256 rows: a byte each
      `const i32 [${V + 1}]`,
      `const i32 [${(f.slots[1] as { bag: { ids: Int32Array } }).bag.ids.length}]`,
      `const f32 [${(f.slots[1] as { bag: { ids: Int32Array } }).bag.ids.length}]`,
      `const f32 [${D}]`,
      `const f32 [${D}]`,
    ]);
    expect(graph.values.get("see.tables.b")!.data).toBe(f.tables.b);
    expect(Array.from(graph.values.get("see.index.0")!.data!)).toEqual(Array.from((f.slots[0] as { index: Int32Array }).index));
    expect([...graph.values.keys()].filter((k) => !k.startsWith("see.")).sort()).toEqual(["embed", "h", "ids", "logits", "logits2", "w"]);
    expect(graph.inputs).toEqual(["ids"]);
    expect(graph.outputs).toEqual(["logits", "logits2"]);
    expectSameOutputs(tied({ emb: denseTable(f), twoHeads: true }), graph);
  });

  it("stream: each tied head becomes EntangledLogits over the factors, with no table", () => {
    const f = factors();
    const graph = applySee(tied({ twoHeads: true }), f, "stream");
    expect(graph.nodes.map((n) => `${n.op} ${n.name} (${n.inputs.slice(0, 2).join(", ")}, ...${n.inputs.length})`)).toEqual([
      "EntangledEmbedding embed (ids, see.tables.a, ...10)",
      "Linear h (embed, w, ...2)",
      "EntangledLogits logits (h, see.tables.a, ...10)",
      "EntangledLogits logits2 (embed, see.tables.a, ...10)",
    ]);
    expect(graph.nodes[2].attrs).toEqual(entangledAttrs(f));
    expect(graph.values.has("see.table")).toBe(false);
    expect(graph.values.has("emb")).toBe(false);
    expectSameOutputs(tied({ emb: denseTable(f), twoHeads: true }), graph);
  });

  it("leaves the input graph as it was", () => {
    const before = tied();
    const nodes = [...before.nodes],
      values = new Map(before.values);
    applySee(before, factors(), "materialize");
    expect(before.nodes).toEqual(nodes);
    expect(before.values).toEqual(values);
  });

  it("see/2: replaces model weights with the file's, and merges adapters into them (W + A·B)", () => {
    const f = factors();
    const w = randomF32(D * D, 20);
    const a = randomF32(D * 2, 21),
      b = randomF32(2 * D, 22);
    const see2: SeeFactors = {
      ...f,
      spec: { ...f.spec, format: "see/2", weights: { w: [D, D] }, adapters: { w: { rank: 2, shape: [D, D] } } },
      weights: { w },
      adapters: { w: { a, b } },
    };
    const graph = applySee(tied(), see2, "stream");
    const merged = withAdapter(w, a, b, D, 2, D);
    expect(graph.values.get("w")).toEqual({ name: "w", kind: "const", dtype: "f32", shape: [D, D], data: merged });
    // Adapters alone merge into the model's own weight.
    const own = tied().values.get("w")!.data as Float32Array;
    const adapted = applySee(
      tied(),
      { ...f, spec: { ...f.spec, format: "see/2", adapters: { w: { rank: 2, shape: [D, D] } } }, adapters: { w: { a, b } } },
      "stream",
    );
    expect(adapted.values.get("w")!.data).toEqual(withAdapter(own, a, b, D, 2, D));
    expect(adapted.values.get("w")!.data).not.toEqual(own);
    // And weights alone replace it as they are.
    const replaced = applySee(tied(), { ...f, spec: { ...f.spec, format: "see/2", weights: { w: [D, D] } }, weights: { w } }, "stream");
    expect(replaced.values.get("w")!.data).toBe(w);
  });

  it("refuses factors for a tensor that is not a weight of the graph, naming the graph's embedding", () => {
    const f = factors();
    const missing = catchSeec(() => applySee(tied(), { ...f, spec: { ...f.spec, replaces: "nope" } }, "materialize", "f.see"));
    expect(missing.code).toBe("mismatch.see");
    expect(missing.message).toBe('the factors replace "nope", which is not a weight of tied');
    expect(missing.file).toBe("f.see");
    expect(missing.hint).toBe("the graph's embedding is emb");

    const input = catchSeec(() => applySee(tied(), { ...f, spec: { ...f.spec, replaces: "ids" } }, "materialize"));
    expect(input.code).toBe("mismatch.see");
    expect(input.message).toBe('the factors replace "ids", which is not a weight of tied');

    const noGather = tied();
    const g = { ...noGather, nodes: noGather.nodes.filter((n) => n.op !== "Gather") };
    expect(catchSeec(() => applySee(g, { ...f, spec: { ...f.spec, replaces: "nope" } }, "materialize")).hint).toBe(
      "the graph's embedding is (none)",
    );
  });

  it("refuses factors of another vocabulary or width", () => {
    const f = factors();
    for (const [vocab, dim] of [
      [V + 1, D],
      [V, D + 1],
    ]) {
      const e = catchSeec(() => applySee(tied({ vocab, dim, emb: new Float32Array(vocab * dim) }), f, "materialize", "f.see"));
      expect(e.code).toBe("mismatch.see");
      expect(e.message).toBe(`the factors are for a ${V} × ${D} embedding; emb is [${vocab}, ${dim}]`);
      expect(e.file).toBe("f.see");
    }
  });

  it("refuses see/2 weights and adapters the graph has not, or has of another kind, type or shape", () => {
    const f = factors();
    const g = tied();
    const values = new Map(g.values)
      .set("w.i32", { name: "w.i32", kind: "const", dtype: "i32", shape: [D, D], data: new Int32Array(D * D) })
      .set("w.row", { name: "w.row", kind: "const", dtype: "f32", shape: [D * D], data: new Float32Array(D * D) })
      .set("w.3d", { name: "w.3d", kind: "const", dtype: "f32", shape: [D, D, 1], data: new Float32Array(D * D) })
      .set("w.wide", { name: "w.wide", kind: "const", dtype: "f32", shape: [D, D + 1], data: new Float32Array(D * (D + 1)) })
      .set("w.tall", { name: "w.tall", kind: "const", dtype: "f32", shape: [D + 1, D], data: new Float32Array(D * (D + 1)) })
      .set("w.vec", { name: "w.vec", kind: "const", dtype: "f32", shape: [D], data: new Float32Array(D) })
      .set("w.state", { name: "w.state", kind: "state", dtype: "f32", shape: [D, D] });
    const graph = { ...g, values };
    const cases: [string, string][] = [
      ["absent", "does not have"],
      ["ids", "has as input i32 [T]"],
      ["embed", "has as activation f32 [T, 6]"],
      ["w.i32", "has as const i32 [6, 6]"],
      ["w.row", "has as const f32 [36]"],
      ["w.3d", "has as const f32 [6, 6, 1]"],
      ["w.wide", "has as const f32 [6, 7]"],
      ["w.tall", "has as const f32 [7, 6]"],
      ["w.vec", "has as const f32 [6]"],
      ["w.state", "has as state f32 [6, 6]"],
    ];
    for (const [name, has] of cases) {
      const weight = catchSeec(() =>
        applySee(
          graph,
          { ...f, spec: { ...f.spec, format: "see/2", weights: { [name]: [D, D] } }, weights: { [name]: new Float32Array(D * D) } },
          "stream",
          "f.see",
        ),
      );
      expect(weight.code, name).toBe("mismatch.see");
      expect(weight.message).toBe(`the file replaces model weight ${name} [6, 6], which tied ${has}`);
      expect(weight.file).toBe("f.see");
      expect(weight.at).toBe(`tensor model.${name}`);

      const adapter = catchSeec(() =>
        applySee(
          graph,
          {
            ...f,
            spec: { ...f.spec, format: "see/2", adapters: { [name]: { rank: 1, shape: [D, D] } } },
            adapters: { [name]: { a: new Float32Array(D), b: new Float32Array(D) } },
          },
          "stream",
          "f.see",
        ),
      );
      expect(adapter.code, name).toBe("mismatch.see");
      expect(adapter.message).toBe(`the file adapts model weight ${name} [6, 6], which tied ${has}`);
      expect(adapter.file).toBe("f.see");
      expect(adapter.at).toBe(`tensor adapter.${name}.a`);
    }
    // The file's weight with the graph's own shape, [D·D], replaces it.
    const data = randomF32(D * D, 3);
    const row = applySee(
      graph,
      { ...f, spec: { ...f.spec, format: "see/2", weights: { "w.row": [D * D] } }, weights: { "w.row": data } },
      "stream",
    );
    expect(row.values.get("w.row")).toEqual({ name: "w.row", kind: "const", dtype: "f32", shape: [D * D], data });
  });

  it("refuses a node that reads the embedding other than as a Gather's table or a Linear's weight", () => {
    const f = factors();
    const withNode = (node: Graph["nodes"][number]) => {
      const g = tied();
      return { ...g, nodes: [...g.nodes, node] };
    };
    const cases = [
      withNode({ name: "sum", op: "Add", inputs: ["emb", "emb"], outputs: ["sum"], attrs: {} }),
      withNode({ name: "sum", op: "Linear", inputs: ["emb", "w"], outputs: ["sum"], attrs: {} }),
      withNode({ name: "sum", op: "Gather", inputs: ["w", "emb"], outputs: ["sum"], attrs: {} }),
    ];
    for (const head of ["materialize", "stream"] as const)
      for (const g of cases) {
        const e = catchSeec(() => applySee(g, f, head, "f.see"));
        expect(e.code).toBe("unsupported.see");
        expect(e.message).toBe(`${g.nodes.at(-1)!.op} node sum reads the embedding in a way SEE cannot replace`);
        expect(e.file).toBe("f.see");
        expect(e.at).toBe("node sum");
      }
  });
});
