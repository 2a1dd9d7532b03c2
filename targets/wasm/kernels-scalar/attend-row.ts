// One query's attention over a run of keys, in the scalar flavour: the online softmax key by key.
import { attendKeys, softmaxEnd, softmaxStart } from "./online-softmax";

/** One query's attention over n keys and values (rows `stride` floats apart): an online softmax of scale · q·k into out. */
@inline export function attendRow(q: usize, keys: usize, values: usize, stride: i32, n: i32, headDim: i32, scale: f32, out: usize): void {
  softmaxStart(out, headDim);
  attendKeys(q, keys, values, stride, 0, n, headDim, scale, out);
  softmaxEnd(out, headDim);
}
