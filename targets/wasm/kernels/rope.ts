import { at } from "./simd";

/**
 * Rotary position embedding, interleaved pairs: token t sits at position pos + t and each head's
 * pair (x[2i], x[2i+1]) turns by the angle whose cos/sin are cos[p, i], sin[p, i].
 */
export function rope(x: usize, cos: usize, sin: usize, y: usize, T: i32, pos: i32, D: i32, headDim: i32): void {
  const half = headDim >> 1;
  for (let t = 0; t < T; t++) {
    const c = cos + at((pos + t) * half), s = sin + at((pos + t) * half);
    for (let h = 0; h < D; h += headDim) {
      const xr = x + at(t * D + h), yr = y + at(t * D + h);
      for (let i = 0; i < half; i++) {
        const x0 = load<f32>(xr + at(2 * i)), x1 = load<f32>(xr + at(2 * i + 1));
        const ci = load<f32>(c + at(i)), si = load<f32>(s + at(i));
        store<f32>(yr + at(2 * i), x0 * ci - x1 * si);
        store<f32>(yr + at(2 * i + 1), x0 * si + x1 * ci);
      }
    }
  }
}
