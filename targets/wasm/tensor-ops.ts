/**
 * The general tensor ops on wasm. Maps, copies, concatenations and reductions are generated per
 * node as loops with the node's shapes and strides written in (dimensions that are contiguous in
 * every operand merged first, whole contiguous runs as memory.copy); matrix products and softmax
 * call the kernel library (kernels/tensor.ts).
 */
import { createHash } from "node:crypto";
import type { Node, Shape } from "../../compiler/ir/graph.js";
import type { OpName } from "../../compiler/ir/op-names.js";
import { broadcastPolyStrides, coalescePolys, isSymbolic, Poly, polyProduct, polyShape } from "../../compiler/ir/affine.js";
import { heads4, scaledAttentionAttrs } from "../../compiler/ir/ops/attention.js";
import {
  concatAttrs,
  copyAttrs,
  mapAttrs,
  mapComputeType,
  reduceAttrs,
  REDUCE_FUNCTIONS,
  symbolicCopyAttrs,
  type MapFunction,
  type ReduceFunction,
} from "../../compiler/ir/ops/tensor.js";
import type { Binding, CallContext, Import } from "./binding.js";
import { f32 } from "./literals.js";

/** A generated function's name, from a hash of its body: equal nodes share one function. */
function named(prefix: string, body: (name: string) => string): { name: string; source: string } {
  const probe = body("NAME");
  const name = `${prefix}_${createHash("sha256").update(probe).digest("hex").slice(0, 8)}`;
  return { name, source: body(name) };
}

/** The AssemblyScript expression of each map function, over operands already loaded in `type`. */
const EXPRESSIONS: Record<MapFunction, (x: string[], t: "f32" | "i32") => string> = {
  add: ([a, b]) => `${a} + ${b}`,
  sub: ([a, b]) => `${a} - ${b}`,
  mul: ([a, b]) => `${a} * ${b}`,
  div: ([a, b]) => `${a} / ${b}`,
  divInt: ([a, b]) => `${a} / ${b}`,
  // Integer powers computed in f32 (exact up to 2^24), as WebGPU computes them.
  pow: ([a, b], t) => (t === "i32" ? `<i32>Mathf.pow(<f32>${a}, <f32>${b})` : `Mathf.pow(${a}, ${b})`),
  max: ([a, b]) => `max(${a}, ${b})`,
  min: ([a, b]) => `min(${a}, ${b})`,
  equal: ([a, b]) => `<i32>(${a} == ${b})`,
  less: ([a, b]) => `<i32>(${a} < ${b})`,
  lessOrEqual: ([a, b]) => `<i32>(${a} <= ${b})`,
  greater: ([a, b]) => `<i32>(${a} > ${b})`,
  greaterOrEqual: ([a, b]) => `<i32>(${a} >= ${b})`,
  and: ([a, b]) => `<i32>(${a} != 0 && ${b} != 0)`,
  or: ([a, b]) => `<i32>(${a} != 0 || ${b} != 0)`,
  where: ([c, a, b]) => `${c} != 0 ? ${a} : ${b}`,
  copy: ([a]) => a,
  trunc: ([a]) => a,
  bool: ([a]) => `<i32>(${a} != 0)`,
  not: ([a]) => `<i32>(${a} == 0)`,
  neg: ([a]) => `-${a}`,
  abs: ([a]) => `Mathf.abs(${a})`,
  sqrt: ([a]) => `Mathf.sqrt(${a})`,
  reciprocal: ([a]) => `${f32(1)} / ${a}`,
  exp: ([a]) => `Mathf.exp(${a})`,
  log: ([a]) => `Mathf.log(${a})`,
  tanh: ([a]) => `Mathf.tanh(${a})`,
  sigmoid: ([a]) => `${f32(1)} / (${f32(1)} + Mathf.exp(-${a}))`,
  relu: ([a]) => `max(${a}, ${f32(0)})`,
  sin: ([a]) => `Mathf.sin(${a})`,
  cos: ([a]) => `Mathf.cos(${a})`,
  erf: ([a]) => `erff(${a})`,
  gelu: ([a]) => `${f32(0.5)} * ${a} * (${f32(1)} + erff(${a} * ${f32(Math.SQRT1_2)}))`,
  geluTanh: ([a]) =>
    `${f32(0.5)} * ${a} * (${f32(1)} + Mathf.tanh(${f32(Math.sqrt(2 / Math.PI))} * (${a} + ${f32(0.044715)} * ${a} * ${a} * ${a})))`,
  // i32: the remainder moved to the divisor's sign; f32: a - floor(a / b) · b.
  mod: ([a, b], t) =>
    t === "i32"
      ? `(${a} % ${b} != 0 && ((${a} % ${b}) ^ ${b}) < 0 ? ${a} % ${b} + ${b} : ${a} % ${b})`
      : `${a} - Mathf.floor(${a} / ${b}) * ${b}`,
  fmod: ([a, b], t) => (t === "i32" ? `${a} % ${b}` : `${a} - Mathf.trunc(${a} / ${b}) * ${b}`),
  xor: ([a, b]) => `<i32>((${a} != 0) != (${b} != 0))`,
  sign: ([a], t) =>
    t === "i32" ? `(${a} > 0 ? 1 : ${a} < 0 ? -1 : 0)` : `(${a} > ${f32(0)} ? ${f32(1)} : ${a} < ${f32(0)} ? ${f32(-1)} : ${a})`,
  floor: ([a], t) => (t === "i32" ? a : `Mathf.floor(${a})`),
  ceil: ([a], t) => (t === "i32" ? a : `Mathf.ceil(${a})`),
  round: ([a], t) => (t === "i32" ? a : `nearest<f32>(${a})`),
  isinf: ([a]) => `<i32>(Mathf.abs(${a}) == Infinity)`,
  isnan: ([a]) => `<i32>(${a} != ${a})`,
  tan: ([a]) => `Mathf.tan(${a})`,
  asin: ([a]) => `Mathf.asin(${a})`,
  acos: ([a]) => `Mathf.acos(${a})`,
  atan: ([a]) => `Mathf.atan(${a})`,
  sinh: ([a]) => `Mathf.sinh(${a})`,
  cosh: ([a]) => `Mathf.cosh(${a})`,
  asinh: ([a]) => `Mathf.asinh(${a})`,
  acosh: ([a]) => `Mathf.acosh(${a})`,
  atanh: ([a]) => `Mathf.atanh(${a})`,
  bfloat16: ([a]) => `toBfloat16(${a})`,
  shl: ([a, b]) => `${a} << ${b}`,
  shr: ([a, b]) => `${a} >>> ${b}`,
};

/** The kernel functions a map expression calls, by map function. */
const MAP_KERNELS: Partial<Record<MapFunction, Import[]>> = {
  erf: [["tensor", "erff"]],
  gelu: [["tensor", "erff"]],
  bfloat16: [["tensor", "toBfloat16"]],
};

/**
 * Maps of one f32 tensor to another of its shape whose function is costly a lane (e^x in each):
 * the elementwise kernels' vector loops (kernels/simd.ts's exp4 and tanh4, about 2 ulp), in place of
 * the generated loop's Mathf calls (musl's, half an ulp, one element at a time). Not exp itself:
 * expf gives 0 where e^x is subnormal (below e^−87.3), and a graph's own softmax that does not
 * subtract its maximum first would then divide 0 by 0 where Mathf.exp keeps it finite.
 */
const VECTOR_MAPS: Partial<Record<MapFunction, string>> = { sigmoid: "sigmoid", tanh: "tanh" };

/** The elementwise kernel that computes the map, if one does (see VECTOR_MAPS). */
function vectorMap(node: Node, c: CallContext): string | undefined {
  const { fn, dtype } = mapAttrs(node.attrs);
  const [x] = node.inputs,
    [y] = node.outputs;
  const same = (a: Shape, b: Shape) => a.length === b.length && a.every((d, i) => d === b[i]);
  return node.inputs.length === 1 && dtype === "f32" && c.dtype(x) === "f32" && same(c.shape(x), c.shape(y)) ? VECTOR_MAPS[fn] : undefined;
}

const mapBinding: Binding = {
  kernels: (node, c) => {
    const vector = vectorMap(node, c);
    return vector ? [["elementwise", vector]] : (MAP_KERNELS[mapAttrs(node.attrs).fn] ?? []);
  },
  define(node, c) {
    return vectorMap(node, c) ? [] : [mapFunction(node, c)];
  },
  call(node, c) {
    const vector = vectorMap(node, c);
    if (vector) return `${vector}(${c.addr(node.inputs[0])}, ${c.addr(node.outputs[0])}, ${product(polys(c.shape(node.outputs[0])))})`;
    const args = [...node.inputs, ...node.outputs].map((t) => c.addr(t));
    return `${mapFunction(node, c).name}(${[...args, ...(isSymbolicNode(node, c) ? [SYMBOL] : [])].join(", ")})`;
  },
};

/** A node whose shapes or attributes hold the symbolic token count (an ONNX graph built with --shape ...x?max). */
function isSymbolicNode(node: Node, c: CallContext): boolean {
  return isSymbolic(node.attrs) || [...node.inputs, ...node.outputs].some((t) => c.shape(t).some((d) => typeof d === "string"));
}

/** The dimension generated functions take as their last argument, forward()'s T. */
const SYMBOL = "T";
const polys = (shape: Shape | readonly (number | string)[]) => polyShape(shape, SYMBOL);
const broadcastPolys = (shape: Shape, out: readonly Poly[]) => broadcastPolyStrides(shape, out, SYMBOL);
const coalesce = (shape: readonly Poly[], strides: readonly (readonly Poly[])[]) => coalescePolys(shape, strides, SYMBOL);

/** Nested loops over `shape`, with `index(k)` the element offset expression of operand k; bounds and strides may depend on T. */
function loops(shape: Poly[], strides: Poly[][], statement: (index: (k: number) => string) => string, indent = "  "): string[] {
  const vars = shape.map((_, d) => `i${d}`);
  const term = (v: string, s: Poly) => (s.constant === 0 ? "" : s.constant === 1 ? v : `${v} * ${/ [+-] /.test(String(s)) ? `(${s})` : s}`);
  const index = (k: number) =>
    shape
      .map((_, d) => term(vars[d], strides[k][d]))
      .filter(Boolean)
      .join(" + ") || "0";
  const lines = shape.map((d, i) => `${indent}${"  ".repeat(i)}for (let ${vars[i]} = 0; ${vars[i]} < ${d}; ${vars[i]}++)`);
  lines.push(`${indent}${"  ".repeat(shape.length)}${statement(index)}`);
  return lines;
}

/** The map's loop: shapes and strides written in, as expressions of T (the last argument) where they hold it. */
function mapFunction(node: Node, c: CallContext): { name: string; source: string } {
  const { fn, dtype: outType } = mapAttrs(node.attrs);
  const out = polys(c.shape(node.outputs[0]));
  const types = node.inputs.map((t) => c.dtype(t) as "f32" | "i32");
  const { shape, strides } = coalesce(out, [...node.inputs.map((t) => broadcastPolys(c.shape(t), out)), Poly.strides(out, SYMBOL)]);
  const t = mapComputeType(fn, types);
  const args = node.inputs.map((_, k) => `x${k}`);
  return named("map", (name) => {
    const load = (k: number, index: string) => {
      const raw = `load<${types[k]}>(x${k} + (<usize>(${index}) << 2))`;
      const want = fn === "where" && k === 0 ? "i32" : t;
      return types[k] === want ? raw : `<${want}>${raw}`;
    };
    return [
      `/** ${fn}: [${c.shape(node.outputs[0]).join(", ")}] from ${node.inputs.map((i) => `[${c.shape(i).join(", ")}]`).join(", ")} */`,
      `function ${name}(${[...args, "y"].map((a) => `${a}: usize`).join(", ")}${tParam(isSymbolicNode(node, c))}): void {`,
      ...loops(shape, strides, (index) => {
        const value = EXPRESSIONS[fn](
          node.inputs.map((_, k) => load(k, index(k))),
          t,
        );
        const resultType = /^<i32>\(/.test(value) ? "i32" : t;
        const stored = resultType === outType ? value : `<${outType}>(${value})`;
        return `store<${outType}>(y + (<usize>(${index(node.inputs.length)}) << 2), ${stored});`;
      }),
      `}`,
    ].join("\n");
  });
}

const copyBinding: Binding = {
  kernels: [],
  define(node, c) {
    const { define } = copy(node, c);
    return define ? [define] : [];
  },
  call(node, c) {
    return copy(node, c).call(c.addr(node.inputs[0]), c.addr(node.outputs[0]));
  },
};

/**
 * A strided copy: one memory.copy where the box is one contiguous run, else a generated loop (a
 * memory.copy per contiguous innermost run of at least four elements). Sizes, strides and the
 * offset are expressions of T (the loop's last argument) where they hold it.
 */
function copy(node: Node, c: CallContext): { define?: { name: string; source: string }; call(x: string, y: string): string } {
  const symbolic = isSymbolicNode(node, c);
  const attrs = symbolic ? symbolicCopyAttrs(node.attrs) : copyAttrs(node.attrs);
  const iter = polys(attrs.shape),
    offset = Poly.of(attrs.offset, SYMBOL);
  const {
    shape,
    strides: [src, dst],
  } = coalesce(iter, [polys(attrs.strides), Poly.strides(iter, SYMBOL)]);
  const type = c.dtype(node.inputs[0]) === "i8" ? "i8" : "i32";
  const shift = type === "i8" ? 0 : 2;
  const bytes = (p: Poly) => (p.constant !== undefined ? String(p.constant << shift) : `<usize>(${shift ? `(${p}) << ${shift}` : p})`);
  if (shape.length === 1 && src[0].constant === 1)
    return { call: (x, y) => `memory.copy(${y}, ${offset.constant === 0 ? x : `${x} + ${bytes(offset)}`}, ${bytes(shape[0])})` };
  const define = named("copy", (name) => {
    const from = (index: string) => `x + (<usize>(${offset.constant === 0 ? "" : `${offset} + `}${index}) << ${shift})`;
    const to = (index: string) => `y + (<usize>(${index}) << ${shift})`;
    const run = shape.at(-1)!;
    // A contiguous innermost run copies as a block.
    const body =
      src.at(-1)!.constant === 1 && (run.constant ?? 4) >= 4
        ? loops(
            shape.slice(0, -1),
            [src.slice(0, -1), dst.slice(0, -1)],
            (index) => `memory.copy(${to(index(1))}, ${from(index(0))}, ${bytes(run)});`,
          )
        : loops(shape, [src, dst], (index) => `store<${type}>(${to(index(1))}, load<${type}>(${from(index(0))}));`);
    return [
      `/** copy [${iter.join(", ")}] with strides [${polys(attrs.strides).join(", ")}] from offset ${offset} */`,
      `function ${name}(x: usize, y: usize${tParam(symbolic)}): void {`,
      ...body,
      `}`,
    ].join("\n");
  });
  return { define, call: (x, y) => `${define.name}(${[x, y, ...(symbolic ? [SYMBOL] : [])].join(", ")})` };
}

/** The product of dimensions, as a polynomial in T. */
const product = (dims: readonly Poly[]) => polyProduct(dims, SYMBOL);
/** A generated function's T parameter, where its body uses T. */
const tParam = (symbolic: boolean) => (symbolic ? `, ${SYMBOL}: i32` : "");

const concatBinding: Binding = {
  kernels: [],
  call(node, c) {
    const { axis } = concatAttrs(node.attrs);
    const out = polys(c.shape(node.outputs[0]));
    const outer = product(out.slice(0, axis)),
      inner = product(out.slice(axis + 1));
    const y = c.addr(node.outputs[0]);
    let offset = Poly.of(0, SYMBOL);
    const parts = node.inputs.map((input) => {
      const w = polys(c.shape(input))[axis].times(inner);
      const four = (p: Poly) => p.times(Poly.of(4, SYMBOL));
      const part =
        outer.constant === 1
          ? `memory.copy(${y} + ${four(offset)}, ${c.addr(input)}, ${four(w)})`
          : `for (let o = 0; o < ${outer}; o++) memory.copy(${y} + <usize>(o * ${paren(out[axis].times(inner))} + ${offset}) * 4, ${c.addr(input)} + <usize>(o * ${paren(w)}) * 4, ${four(w)})`;
      offset = offset.plus(w);
      return part;
    });
    return parts.join(";\n  ");
  },
};

/** A polynomial as a factor: parenthesized where it is a sum. */
const paren = (p: Poly) => (/ [+-] /.test(String(p)) ? `(${p})` : String(p));

const matmulBinding: Binding = {
  kernels: [["tensor", "matmul"]],
  call(node, c) {
    const [aShape, bShape] = node.inputs.map((t) => c.shape(t));
    const [a, b] = [aShape, bShape].map(polys);
    const out = polys(c.shape(node.outputs[0]));
    const [M, K] = a.slice(-2),
      N = b.at(-1)!;
    const batch = out.slice(0, -2);
    const [A, B, Y] = [...node.inputs, ...node.outputs].map((t) => c.addr(t));
    if (product(batch).constant === 1) return `matmul(${A}, ${B}, ${Y}, ${M}, ${K}, ${N})`;
    const { shape, strides } = coalesce(batch, [
      broadcastPolys(aShape.slice(0, -2), batch),
      broadcastPolys(bShape.slice(0, -2), batch),
      Poly.strides(batch, SYMBOL),
    ]);
    const bytes = (...ds: Poly[]) => paren(product([Poly.of(4, SYMBOL), ...ds]));
    return loops(
      shape,
      strides,
      (index) =>
        `matmul(${A} + (<usize>(${index(0)}) * ${bytes(M, K)}), ${B} + (<usize>(${index(1)}) * ${bytes(K, N)}), ${Y} + (<usize>(${index(2)}) * ${bytes(M, N)}), ${M}, ${K}, ${N})`,
      "",
    ).join("\n  ");
  },
};

const softmaxBinding: Binding = {
  kernels: [["tensor", "softmax"]],
  call(node, c) {
    const x = polys(c.shape(node.inputs[0]));
    return `softmax(${c.addr(node.inputs[0])}, ${c.addr(node.outputs[0])}, ${product(x.slice(0, -1))}, ${x.at(-1)})`;
  },
};

const reduceBinding: Binding = {
  kernels: [],
  define(node, c) {
    return [reduceFunction(node, c)];
  },
  call(node, c) {
    return `${reduceFunction(node, c).name}(${c.addr(node.inputs[0])}, ${c.addr(node.outputs[0])}${isSymbolicNode(node, c) ? `, ${SYMBOL}` : ""})`;
  },
};

function reduceFunction(node: Node, c: CallContext): { name: string; source: string } {
  const { fn } = reduceAttrs(node.attrs);
  const xShape = c.shape(node.inputs[0]),
    yShape = c.shape(node.outputs[0]);
  const x = polys(xShape),
    y = polys(yShape);
  const { shape, strides } = coalesce(x, [Poly.strides(x, SYMBOL), broadcastPolys(yShape, x)]);
  // The elements each output sums: the reduced axes' sizes.
  const count = product(x.filter((_, d) => yShape[d] === 1 && xShape[d] !== 1));
  const n = product(y);
  return named("reduce", (name) =>
    [
      `/** ${fn} of [${xShape.join(", ")}] to [${yShape.join(", ")}] */`,
      `function ${name}(x: usize, y: usize${tParam(isSymbolicNode(node, c))}): void {`,
      `  for (let i = 0; i < ${n}; i++) store<f32>(y + (<usize>i << 2), ${reduceStart(fn)});`,
      ...loops(shape, strides, (index) => {
        const at = `y + (<usize>(${index(1)}) << 2)`,
          v = `load<f32>(x + (<usize>(${index(0)}) << 2))`;
        return `store<f32>(${at}, ${REDUCE_STEPS[fn](`load<f32>(${at})`, v)});`;
      }),
      ...(fn === "mean"
        ? [
            `  for (let i = 0; i < ${n}; i++) store<f32>(y + (<usize>i << 2), load<f32>(y + (<usize>i << 2)) / ${count.isConstant ? f32(count.constant!) : `<f32>(${count})`});`,
          ]
        : []),
      `}`,
    ].join("\n"),
  );
}

const reduceStart = (fn: ReduceFunction) => {
  const v = REDUCE_FUNCTIONS[fn].init;
  return v === Infinity ? "Infinity" : v === -Infinity ? "-Infinity" : f32(v);
};

/** Each reduction's step in AssemblyScript, from the accumulator and the next element. */
const REDUCE_STEPS: Record<ReduceFunction, (acc: string, x: string) => string> = {
  sum: (acc, x) => `${acc} + ${x}`,
  mean: (acc, x) => `${acc} + ${x}`,
  max: (acc, x) => `max(${acc}, ${x})`,
  min: (acc, x) => `min(${acc}, ${x})`,
  prod: (acc, x) => `${acc} * ${x}`,
};

const attentionBinding: Binding = {
  kernels: [["attention", "scaledAttention"]],
  call(node, c) {
    const [q, k, v] = node.inputs;
    // Sizes and the mask's strides as polynomials: a graph built for any T (onnx/dynamic.ts) passes them as expressions of T.
    const [B, Nq, S, H] = polys(heads4(c.shape(q))),
      [, Nkv, T] = polys(heads4(c.shape(k)));
    const extra = node.inputs.slice(3);
    const a = scaledAttentionAttrs(node.attrs);
    const bias = a.bias ? extra.shift() : undefined,
      keep = a.keep ? extra.shift() : undefined;
    const strided = (t: string | undefined) => (t ? [c.addr(t), ...broadcastPolys(c.shape(t), [B, Nq, S, T])] : [0, 0, 0, 0, 0]);
    return `scaledAttention(${[
      ...[q, k, v, node.outputs[0]].map((t) => c.addr(t)),
      B,
      Nq,
      Nkv,
      S,
      T,
      H,
      f32(a.scale),
      ...strided(bias),
      ...strided(keep),
      f32(a.fill),
      a.causal ? 1 : 0,
      f32(a.causalFill),
    ].join(", ")})`;
  },
};

export const TENSOR_BINDINGS = {
  ScaledAttention: attentionBinding,
  Map: mapBinding,
  Copy: copyBinding,
  Concat: concatBinding,
  MatMul: matmulBinding,
  Softmax: softmaxBinding,
  Reduce: reduceBinding,
} satisfies Partial<Record<OpName, Binding>>;
