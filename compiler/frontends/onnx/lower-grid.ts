/**
 * GridSample (opset 16, 4-D): each output pixel samples the input at the place the grid gives
 * (x, y in [−1, 1], at run time). Written out as the ops a hand-written sampler would use: the
 * place unnormalized and, for border and reflection padding, brought inside the image; the taps of
 * the mode (nearest: 1, bilinear: 2 × 2, bicubic: 4 × 4, the cubic convolution with A = −0.75) each
 * a Gather of pixel rows ([N·H·W, C], the channels last) at indices computed at run time, weighted,
 * a tap outside the image weighing 0 (zeros padding); their sum, channels moved back to second.
 * As PyTorch's grid_sample and ONNX Runtime compute it.
 */
import type { Lowerer, Lowering } from "./lower-ops.js";
import { attr } from "./read.js";

/** A tap: its pixel's column and row (whole numbers, as floats) and its weight, each [N, P]. */
interface Tap {
  x: string;
  y: string;
  w: string;
}

const A = -0.75;

const gridSampleOp: Lowering = (l, n) => {
  const [input, grid] = n.inputs;
  const X = l.shape(input),
    G = l.shape(grid);
  if (X.length !== 4 || G.length !== 4 || G[3] !== 2 || G[0] !== X[0])
    l.fail(`GridSample takes X [N, C, H, W] and a grid [N, H_out, W_out, 2]; got [${X.join(", ")}] and [${G.join(", ")}]`);
  if (!l.isFloat(input) || !l.isFloat(grid)) l.fail("GridSample's input and grid must be float tensors");
  const text = (key: string, fallback: string) => (typeof n.attrs[key] === "string" ? (n.attrs[key] as string) : fallback);
  const mode = text("mode", "bilinear"),
    padding = text("padding_mode", "zeros"),
    align = attr(n, "align_corners", 0) !== 0;
  if (!["bilinear", "nearest", "bicubic"].includes(mode)) l.fail(`GridSample's mode "${mode}" is not bilinear, nearest or bicubic`);
  if (!["zeros", "border", "reflection"].includes(padding))
    l.fail(`GridSample's padding_mode "${padding}" is not zeros, border or reflection`);
  const [N, C, H, W] = X;
  const P = G[1] * G[2];
  const f = (fn: string, ...xs: string[]) => l.map(fn, xs);
  const k = (x: number) => l.scalar(x);
  /** A comparison or logical op: 0 or 1, as i32, as Where reads its condition. */
  const test = (fn: string, a: string, b: string) => l.map(fn, [a, b], "i32");

  // The place in pixels: x along W, y along H, each [N, P].
  const coordinate = (axis: number, size: number) => {
    const g = l.reshape(l.slice(l.ir(grid), 3, axis, 1), [N, P]);
    const plus1 = f("add", g, k(1));
    return align ? f("mul", plus1, k((size - 1) / 2)) : f("mul", f("sub", f("mul", plus1, k(size)), k(1)), k(0.5));
  };
  /** A place brought inside [0, size − 1] as border and reflection padding do (zeros: as it is). */
  const inside = (c: string, size: number) => {
    if (padding === "zeros") return c;
    if (padding === "reflection") c = reflect(c, size);
    return f("min", f("max", c, k(0)), k(size - 1));
  };
  /** PyTorch's reflect_coordinates: about the edges (align_corners) or the pixels' outer borders. */
  const reflect = (c: string, size: number) => {
    const [low, high] = align ? [0, size - 1] : [-0.5, size - 0.5];
    const span = high - low;
    if (span <= 0) return f("mul", c, k(0));
    const from = f("abs", f("sub", c, k(low)));
    const extra = f("fmod", from, k(span));
    const flips = f("floor", f("div", from, k(span)));
    const even = test("equal", f("fmod", flips, k(2)), k(0));
    return l.map("where", [even, f("add", extra, k(low)), f("add", f("sub", k(span), extra), k(low))]);
  };

  const ix = coordinate(0, W),
    iy = coordinate(1, H);
  const taps: Tap[] = [];
  if (mode === "nearest") {
    // Rounded (halves to even), then brought inside: ONNX Runtime's order, which differs from PyTorch's
    // (inside, then rounded) only where a reflection lands on a half.
    taps.push({ x: inside(f("round", ix), W), y: inside(f("round", iy), H), w: k(1) });
  } else if (mode === "bilinear") {
    const x = inside(ix, W),
      y = inside(iy, H);
    const x0 = f("floor", x),
      y0 = f("floor", y);
    const x1 = f("add", x0, k(1)),
      y1 = f("add", y0, k(1));
    const [wx0, wx1, wy0, wy1] = [f("sub", x1, x), f("sub", x, x0), f("sub", y1, y), f("sub", y, y0)];
    for (const [tx, wx] of [
      [x0, wx0],
      [x1, wx1],
    ])
      for (const [ty, wy] of [
        [y0, wy0],
        [y1, wy1],
      ])
        taps.push({ x: tx, y: ty, w: f("mul", wx, wy) });
  } else {
    // Bicubic: the taps at floor − 1 … floor + 2, each place brought inside on its own.
    const x0 = f("floor", ix),
      y0 = f("floor", iy);
    const cx = cubic(l, f("sub", ix, x0)),
      cy = cubic(l, f("sub", iy, y0));
    for (let j = 0; j < 4; j++)
      for (let i = 0; i < 4; i++)
        taps.push({ x: inside(f("add", x0, k(i - 1)), W), y: inside(f("add", y0, k(j - 1)), H), w: f("mul", cx[i], cy[j]) });
  }

  // Pixel rows, channels last: [N·H·W, C]; a tap's row n·H·W + y·W + x.
  const table = l.reshape(l.transpose(l.ir(input), [0, 2, 3, 1]), [N * H * W, C]);
  const base = l.constantData(
    Float32Array.from({ length: N }, (_, i) => i * H * W),
    [N, 1],
  );
  let sum: string | undefined;
  for (const t of taps) {
    const column = test("and", test("greaterOrEqual", t.x, k(0)), test("lessOrEqual", t.x, k(W - 1)));
    const valid = test("and", column, test("and", test("greaterOrEqual", t.y, k(0)), test("lessOrEqual", t.y, k(H - 1))));
    // Outside the image: any row (the first), weighing 0.
    const row = l.map("where", [valid, f("add", base, f("add", f("mul", t.y, k(W)), t.x)), base]);
    const pixels = l.gatherRows(table, l.map("trunc", [row], "i32"));
    const weight = l.reshape(l.map("where", [valid, t.w, k(0)]), [N, P, 1]);
    const term = f("mul", l.reshape(pixels, [N, P, C]), weight);
    sum = sum === undefined ? term : f("add", sum, term);
  }
  return [l.reshape(l.transpose(sum!, [0, 2, 1]), [N, C, G[1], G[2]])];
};

/** The cubic convolution's four weights for a tap at fraction t past the floor (taps at −1, 0, 1, 2). */
function cubic(l: Lowerer, t: string): string[] {
  const f = (fn: string, ...xs: string[]) => l.map(fn, xs);
  const k = (x: number) => l.scalar(x);
  // |x| ≤ 1: ((A + 2)|x| − (A + 3))|x|² + 1; 1 < |x| < 2: ((A|x| − 5A)|x| + 8A)|x| − 4A.
  const near = (x: string) => f("add", f("mul", f("sub", f("mul", x, k(A + 2)), k(A + 3)), f("mul", x, x)), k(1));
  const far = (x: string) => f("sub", f("mul", f("add", f("mul", f("sub", f("mul", x, k(A)), k(5 * A)), x), k(8 * A)), x), k(4 * A));
  const one = k(1);
  return [far(f("add", t, one)), near(t), near(f("sub", one, t)), far(f("sub", k(2), t))];
}

export const GRID_LOWERINGS: Readonly<Record<string, Lowering>> = { GridSample: gridSampleOp };
