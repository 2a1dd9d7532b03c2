/**
 * RNN, GRU and LSTM (opset 7 and 14), unrolled over the sequence, whose length is known at build
 * time: the inputs' part of every gate for all steps in one matmul ([S·B, I] · Wᵀ), then per step
 * the hidden state's part (H · Rᵀ), the gates and the new state, as ONNX defines them and ONNX
 * Runtime computes them. Both layouts, the three directions, clip, the activation functions and
 * their alpha and beta, GRU's linear_before_reset, LSTM's peepholes and input_forget.
 *
 * sequence_lens (at run time, held within [0, S]) ends each batch entry early: past its length the
 * state stays as it was and Y is 0; an entry of length 0 ends with zeros, as ONNX Runtime gives it.
 * A reverse pass runs over each entry's own steps reversed (ReverseSequence's picking), forward,
 * and its Y is reversed back the same way.
 */
import type { Lowerer, Lowering } from "./lower-ops.js";
import { reverseSequences } from "./lower-ops.js";
import { attr, type OnnxNode } from "./read.js";

type Kind = "RNN" | "GRU" | "LSTM";

/** Gates per kind, in the order of W's and R's rows: RNN i; GRU z, r, h; LSTM i, o, f, c. */
const GATES: Record<Kind, number> = { RNN: 1, GRU: 3, LSTM: 4 };

/** The activation functions a cell takes per direction (RNN f; GRU f, g; LSTM f, g, h). */
const DEFAULT_ACTIVATIONS: Record<Kind, string[]> = { RNN: ["tanh"], GRU: ["sigmoid", "tanh"], LSTM: ["sigmoid", "tanh", "tanh"] };

/** An activation applied to an IR tensor. */
type Activation = (x: string) => string;

/**
 * The activations that take alpha (and beta), with their defaults where ONNX (the ops of those
 * names) and ONNX Runtime (0 for the rest) agree; NaN where they do not, and the node must give it.
 */
const PARAMETERS: Record<string, [alpha: number, beta?: number]> = {
  leakyrelu: [0.01],
  elu: [1],
  hardsigmoid: [0.2, 0.5],
  thresholdedrelu: [NaN],
  scaledtanh: [NaN, NaN],
  affine: [NaN, NaN],
};

/** The activation named (case aside), with its alpha and beta taken in turn from the lists given. */
function activation(l: Lowerer, name: string, alphas: number[], betas: number[]): Activation {
  const key = name.toLowerCase();
  const [a0, b0] = PARAMETERS[key] ?? [];
  const take = (list: number[], fallback: number | undefined, what: string) => {
    if (fallback === undefined) return 0;
    const v = list.shift() ?? fallback;
    if (Number.isNaN(v))
      l.fail(
        `activation "${name}" needs its ${what} in activation_${what}, which has none left for it (ONNX and ONNX Runtime default it differently)`,
      );
    return v;
  };
  const alpha = take(alphas, a0, "alpha"),
    beta = take(betas, b0, "beta");
  const f = (fn: string, ...xs: string[]) => l.map(fn, xs);
  const k = (x: number) => l.scalar(x);
  switch (key) {
    case "sigmoid":
    case "tanh":
    case "relu":
      return (x) => f(key, x);
    case "leakyrelu":
      return (x) => f("add", f("relu", x), f("mul", f("min", x, k(0)), k(alpha)));
    case "thresholdedrelu":
      return (x) => l.map("where", [l.map("greater", [x, k(alpha)], "i32"), x, k(0)]);
    case "elu":
      return (x) => l.map("where", [l.map("less", [x, k(0)], "i32"), f("mul", f("sub", f("exp", x), k(1)), k(alpha)), x]);
    case "hardsigmoid":
      return (x) => f("max", f("min", f("add", f("mul", x, k(alpha)), k(beta)), k(1)), k(0));
    case "scaledtanh":
      return (x) => f("mul", f("tanh", f("mul", x, k(beta))), k(alpha));
    case "affine":
      return (x) => f("add", f("mul", x, k(alpha)), k(beta));
    case "softsign":
      return (x) => f("div", x, f("add", f("abs", x), k(1)));
    case "softplus":
      return (x) => f("log", f("add", f("exp", x), k(1)));
    default:
      return l.fail(
        `activation "${name}" is not one of Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus`,
      );
  }
}

const strings = (n: OnnxNode, key: string): string[] | undefined => {
  const v = n.attrs[key];
  return Array.isArray(v) && v.every((s) => typeof s === "string") ? (v as string[]) : undefined;
};
const numbers = (n: OnnxNode, key: string): number[] => {
  const v = n.attrs[key];
  return Array.isArray(v) && v.every((s) => typeof s === "number") ? (v as number[]).slice() : [];
};

/**
 * x [rows, K] times rows [from, from + count) of direction d of w ([D, N, K]), transposed: Linear on
 * a constant (its rows made a constant once, whichever step asks), MatMul on weights fed at run time.
 */
function weightRows(l: Lowerer, w: string): (x: string, d: number, from: number, count: number) => string {
  const [, N, K] = l.shape(w);
  const constants = new Map<string, string>();
  return (x, d, from, count) => {
    if (!l.isConstant(w)) {
      const part = l.slice(l.slice(l.ir(w), 0, d, 1), 1, from, count);
      return l.add("MatMul", [x, l.transpose(l.reshape(part, [count, K]), [1, 0])]);
    }
    const key = `${d}:${from}:${count}`;
    let rows = constants.get(key);
    if (!rows) {
      const start = (d * N + from) * K;
      rows = l.constantData(Float32Array.from(l.value(w).data.subarray(start, start + count * K)), [count, K]);
      constants.set(key, rows);
    }
    return l.linear(x, rows);
  };
}

const recurrent =
  (kind: Kind): Lowering =>
  (l, n) => {
    const [x, w, r, b, lens, h0, c0, p] = n.inputs;
    for (const name of [x, w, r, b, h0, c0, p]) if (name && !l.isFloat(name)) l.fail(`${kind}'s ${name} must be a float tensor`);
    const layout = attr(n, "layout", 0);
    if (layout !== 0 && layout !== 1) l.fail(`${kind}'s layout ${layout} is not 0 or 1`);
    const direction = typeof n.attrs.direction === "string" ? n.attrs.direction : "forward";
    if (!["forward", "reverse", "bidirectional"].includes(direction))
      l.fail(`${kind}'s direction "${direction}" is not forward, reverse or bidirectional`);
    const D = direction === "bidirectional" ? 2 : 1;
    const X = l.shape(x);
    if (X.length !== 3) l.fail(`${kind}'s X must have rank 3; got [${X.join(", ")}]`);
    const [S, B, I] = layout === 0 ? X : [X[1], X[0], X[2]];
    const G = GATES[kind];
    const timesW = weightRows(l, w),
      timesR = weightRows(l, r);
    const H = attr(n, "hidden_size", l.shape(r)[2] ?? 0);
    const expect = (name: string | undefined, what: string, shape: number[]) => {
      if (!name) return;
      const got = l.shape(name);
      if (got.length !== shape.length || got.some((g, i) => g !== shape[i]))
        l.fail(`${kind}'s ${what} "${name}" has shape [${got.join(", ")}]; expected [${shape.join(", ")}]`);
    };
    expect(w, "W", [D, G * H, I]);
    expect(r, "R", [D, G * H, H]);
    expect(b, "B", [D, 2 * G * H]);
    expect(lens, "sequence_lens", [B]);
    const stateShape = layout === 0 ? [D, B, H] : [B, D, H];
    expect(h0, "initial_h", stateShape);
    expect(c0, "initial_c", stateShape);
    expect(p, "P", [D, 3 * H]);
    if (S < 1 || H < 1) l.fail(`${kind} needs a sequence and a hidden size of at least 1; got ${S} and ${H}`);
    const clip = n.attrs.clip === undefined ? undefined : attr(n, "clip", 0);
    if (clip !== undefined && !(clip > 0)) l.fail(`${kind}'s clip ${clip} must be above 0`);
    const linearBeforeReset = attr(n, "linear_before_reset", 0) !== 0;
    const inputForget = attr(n, "input_forget", 0) !== 0;

    // The activations, per direction in turn; a forward pass may list a second direction's too (opset
    // 7's default for RNN is ["Tanh", "Tanh"]), which it does not use.
    const listed = strings(n, "activations");
    const per = DEFAULT_ACTIVATIONS[kind].length;
    if (listed && listed.length !== per * D && listed.length !== 2 * per)
      l.fail(`${kind} takes ${per * D} activations here (${per} a direction); got ${listed.length}`);
    const names = listed?.slice(0, per * D) ?? Array.from({ length: D }, () => DEFAULT_ACTIVATIONS[kind]).flat();
    const alphas = numbers(n, "activation_alpha"),
      betas = numbers(n, "activation_beta");
    // Each activation takes the next alpha and beta, in order, as ONNX says.
    const activations = names.map((name) => activation(l, name, alphas, betas));

    const f = (fn: string, ...xs: string[]) => l.map(fn, xs);
    const clipped = (act: Activation): Activation =>
      clip === undefined ? act : (v) => act(f("min", f("max", v, l.scalar(-clip)), l.scalar(clip)));
    /** Columns [from, from + count) of a [rows, width] tensor. */
    const columns = (v: string, from: number, count: number) => l.slice(v, 1, from * H, count * H);
    /** A [D, B, H] (layout 0) or [B, D, H] (layout 1) state's direction d as [B, H]; zeros without one. */
    const initial = (name: string | undefined, d: number) =>
      name ? l.reshape(l.slice(l.ir(name), layout === 0 ? 0 : 1, d, 1), [B, H]) : l.constantData(new Float32Array(B * H), [B, H]);
    const biasPart = (d: number, from: number, count: number) =>
      l.reshape(l.slice(l.slice(l.ir(b), 0, d, 1), 1, from * H, count * H), [count * H]);

    // The steps in time order, [S, B, I]; per entry reversed by its length where a pass runs backwards.
    const steps = layout === 0 ? l.ir(x) : l.transpose(l.ir(x), [1, 0, 2]);
    // Lengths held within [0, S] (ONNX Runtime refuses others at run time; known at build time, they are refused here).
    if (lens && l.isConstant(lens)) {
      const bad = Array.from(l.value(lens).data, Number).find((v) => !(v >= 0 && v <= S));
      if (bad !== undefined) l.fail(`${kind}'s sequence_lens holds ${bad}, outside 0 to the sequence's ${S} steps`);
    }
    const lengths = lens
      ? l.map("min", [l.map("max", [l.ir(lens), l.constantData(Int32Array.of(0), [])], "i32"), l.constantData(Int32Array.of(S), [])], "i32")
      : undefined;
    const reversedSteps = (v: string, shape: number[]) => {
      if (lengths) return reverseSequences(l, v, shape, lengths);
      return l.concat(
        Array.from({ length: S }, (_, t) => l.slice(v, 0, S - 1 - t, 1)),
        0,
      );
    };
    // Whether step t is within each entry's length, [B, 1] (0 or 1): without lengths, always.
    const within = (t: number) =>
      lengths ? l.reshape(l.map("less", [l.constantData(Int32Array.of(t), []), lengths], "i32"), [B, 1]) : undefined;
    const keep = (m: string | undefined, next: string, previous: string) => (m ? l.map("where", [m, next, previous]) : next);

    const ys: string[] = [],
      hs: string[] = [],
      cs: string[] = [];
    for (let d = 0; d < D; d++) {
      const backwards = direction === "reverse" || d === 1;
      const input = backwards ? reversedSteps(steps, [S, B, I]) : steps;
      // The inputs' part of every gate at every step with its biases: [S·B, G·H]. GRU's h gate adds
      // its recurrent bias to the hidden state's part, inside the reset where linear_before_reset says.
      let xw = timesW(l.reshape(input, [S * B, I]), d, 0, G * H);
      const rbh = kind === "GRU" && b ? biasPart(d, G + 2, 1) : undefined;
      if (b) {
        const recurrentBias =
          kind === "GRU" ? l.concat([biasPart(d, G, 2), l.constantData(new Float32Array(H), [H])], 0) : biasPart(d, G, G);
        xw = f("add", xw, f("add", biasPart(d, 0, G), recurrentBias));
      }
      const [act1, act2, act3] = activations.slice(d * per, (d + 1) * per).map((a, i) => (i < 2 ? clipped(a) : a));
      // The direction's peephole weights (i, o, f), sliced once rather than at every step.
      const peepholes = p ? [0, 1, 2].map((i) => l.reshape(l.slice(l.slice(l.ir(p), 0, d, 1), 1, i * H, H), [H])) : undefined;
      const withPeephole = (v: string, i: number, c: string) => (peepholes ? f("add", v, f("mul", c, peepholes[i])) : v);

      let h = initial(h0, d),
        c = kind === "LSTM" ? initial(c0, d) : "";
      const out: string[] = [];
      for (let t = 0; t < S; t++) {
        const gates = l.slice(xw, 0, t * B, B); // step t's rows of [S·B, G·H]
        const m = within(t);
        let next: string;
        if (kind === "RNN") {
          next = act1(f("add", gates, timesR(h, d, 0, H)));
        } else if (kind === "GRU") {
          const zr = f("add", columns(gates, 0, 2), timesR(h, d, 0, 2 * H));
          const z = act1(columns(zr, 0, 1)),
            reset = act1(columns(zr, 1, 1));
          const hidden = linearBeforeReset
            ? f("mul", reset, rbh ? f("add", timesR(h, d, 2 * H, H), rbh) : timesR(h, d, 2 * H, H))
            : (() => {
                const rh = timesR(f("mul", reset, h), d, 2 * H, H);
                return rbh ? f("add", rh, rbh) : rh;
              })();
          const candidate = act2(f("add", columns(gates, 2, 1), hidden));
          next = f("add", f("mul", f("sub", l.scalar(1), z), candidate), f("mul", z, h));
        } else {
          const all = f("add", gates, timesR(h, d, 0, G * H));
          const i = act1(withPeephole(columns(all, 0, 1), 0, c));
          const forget = inputForget ? f("sub", l.scalar(1), i) : act1(withPeephole(columns(all, 2, 1), 2, c));
          const cell = f("add", f("mul", forget, c), f("mul", i, act2(columns(all, 3, 1))));
          const o = act1(withPeephole(columns(all, 1, 1), 1, cell));
          next = f("mul", o, act3(cell));
          c = keep(m, cell, c);
        }
        out.push(m ? l.map("where", [m, next, l.scalar(0)]) : next);
        h = keep(m, next, h);
      }
      // An entry of length 0 ends with a state of zeros, as ONNX Runtime gives it, not its initial state.
      const started = lengths ? l.reshape(l.map("greater", [lengths, l.constantData(Int32Array.of(0), [])], "i32"), [B, 1]) : undefined;
      hs.push(started ? l.map("where", [started, h, l.scalar(0)]) : h);
      cs.push(started && c ? l.map("where", [started, c, l.scalar(0)]) : c);
      if (l.isUsed(n.outputs[0] ?? "")) {
        const y = l.concat(
          out.map((v) => l.reshape(v, [1, B, H])),
          0,
        );
        ys.push(backwards ? reversedSteps(y, [S, B, H]) : y);
      }
    }

    /** [D, B, H] from each direction's [B, H] (layout 1: [B, D, H]). */
    const state = (parts: string[]) => {
      const stacked = l.concat(
        parts.map((v) => l.reshape(v, [1, B, H])),
        0,
      );
      return layout === 0 ? stacked : l.transpose(stacked, [1, 0, 2]);
    };
    const y = ys.length
      ? (() => {
          const stacked = l.concat(
            ys.map((v) => l.reshape(v, [S, 1, B, H])),
            1,
          );
          return layout === 0 ? stacked : l.transpose(stacked, [2, 0, 1, 3]);
        })()
      : undefined;
    return kind === "LSTM" ? [y, state(hs), state(cs)] : [y, state(hs)];
  };

export const RECURRENT_LOWERINGS: Readonly<Record<string, Lowering>> = {
  RNN: recurrent("RNN"),
  GRU: recurrent("GRU"),
  LSTM: recurrent("LSTM"),
};
