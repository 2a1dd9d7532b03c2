/**
 * The signal ops an audio front end reaches (opset 17): DFT and STFT as matmuls by a constant
 * matrix of cosines and sines (a DFT of N points over rows of N complex or real samples is one
 * [rows, N·C] · [N·C, 2K] product, K the bins kept, a matrix of at most MAX_ELEMENTS), STFT's frames a strided copy of the signal
 * times the window, and the windows themselves (Hann, Hamming, Blackman) and the mel filter bank
 * (MelWeightMatrix) as constants. Every size (the DFT's length, the STFT's step and frame length, a
 * window's size, the mel matrix's inputs) must be known at build time.
 */
import { elementCount } from "../../ir/graph.js";
import type { Lowerer, Lowering } from "./lower-ops.js";
import { attr, type OnnxNode } from "./read.js";
import { MAX_ELEMENTS } from "./tensor.js";

/**
 * The DFT as a matrix, [N·C, 2K] (inputs by outputs): output bin k's real and imaginary parts from
 * input sample n's C parts (C = 1: real, C = 2: complex), for a DFT of `length` points (samples past
 * it dropped, missing ones zero), inverse with the 1/length scale.
 */
function dftMatrix(samples: number, parts: number, length: number, bins: number, inverse: boolean): Float32Array {
  const w = new Float32Array(samples * parts * 2 * bins);
  const sign = inverse ? 1 : -1,
    scale = inverse ? 1 / length : 1;
  for (let n = 0; n < Math.min(samples, length); n++)
    for (let k = 0; k < bins; k++) {
      // e^{sign·2πi·kn/length}, the angle reduced exactly in integers first.
      const angle = (2 * Math.PI * ((k * n) % length)) / length;
      const c = Math.cos(angle) * scale,
        s = sign * Math.sin(angle) * scale;
      // (a + ib)(c + is) = (ac − bs) + i(as + bc): row n·C + part, columns 2k (real) and 2k + 1 (imaginary).
      const real = n * parts * 2 * bins + 2 * k;
      w[real] = c;
      w[real + 1] = s;
      if (parts === 2) {
        w[real + 2 * bins] = -s;
        w[real + 2 * bins + 1] = c;
      }
    }
  return w;
}

/**
 * x [..., N, C] (the transform's axis next to last): the DFT of its rows, [..., K, 2]. A MatMul by
 * the constant matrix, not a Linear: a transform is not a learned weight, and --quantize, which
 * rounds every Linear's weights, must leave it exact.
 */
function dftRows(l: Lowerer, x: string, length: number, bins: number, inverse: boolean, op: string): string {
  const X = l.irShape(x);
  const [samples, parts] = X.slice(-2);
  const elements = samples * parts * 2 * bins;
  if (elements > MAX_ELEMENTS)
    l.fail(
      `${op} of ${length} points over ${samples} samples needs a matrix of ${elements} elements; seec holds at most ${MAX_ELEMENTS} (1 GiB of float32) in one tensor`,
    );
  const rows = l.reshape(x, [elementCount(X.slice(0, -2)), samples * parts]);
  const w = l.constantData(dftMatrix(samples, parts, length, bins, inverse), [samples * parts, 2 * bins]);
  return l.reshape(l.matmul(rows, undefined, w), [...X.slice(0, -2), bins, 2]);
}

/** A flag attribute: ONNX reads any value but 0 as true. */
const flag = (n: OnnxNode, name: string, fallback: number) => attr(n, name, fallback) !== 0;

/** A size the node reads from the input `name`, known at build time, a whole number from `min`. */
function sizeInput(l: Lowerer, name: string, what: string, min: number): number {
  const v = Number(l.value(name).data[0]);
  if (!(Number.isInteger(v) && v >= min)) l.fail(`${what} is ${v}; it must be a whole number, at least ${min}`);
  return v;
}

/** DFT: dft_length an optional input; the axis an attribute (opset 17, default 1) or an optional input (opset 20, default −2). */
const dftOp: Lowering = (l, n) => {
  const X = l.shape(n.inputs[0]);
  if (!l.isFloat(n.inputs[0])) l.fail("DFT's input must be a float tensor");
  const rank = X.length;
  const parts = X[rank - 1];
  if (parts !== 1 && parts !== 2) l.fail(`DFT's input ends in a dimension of ${parts}; it must be 1 (real) or 2 (complex)`);
  const a = l.opset >= 20 ? (n.inputs[2] ? Number(l.value(n.inputs[2]).data[0]) : -2) : attr(n, "axis", 1);
  const axis = a < 0 ? a + rank : a;
  if (!(axis >= 0 && axis < rank - 1)) l.fail(`DFT's axis ${a} is not a signal axis of a rank-${rank} input (the last holds the parts)`);
  const inverse = flag(n, "inverse", 0),
    onesided = flag(n, "onesided", 0);
  if (inverse && onesided) l.fail("DFT: an inverse onesided transform is not supported");
  const length = n.inputs[1] ? sizeInput(l, n.inputs[1], "DFT's dft_length", 1) : X[axis];
  const bins = onesided ? Math.floor(length / 2) + 1 : length;
  // The axis moved next to the parts, transformed, and moved back.
  const others = X.map((_, i) => i).filter((i) => i !== axis && i !== rank - 1);
  const y = dftRows(l, l.transpose(l.ir(n.inputs[0]), [...others, axis, rank - 1]), length, bins, inverse, "DFT");
  const back = X.map((_, i) => (i === axis ? others.length : i === rank - 1 ? others.length + 1 : others.indexOf(i)));
  return [l.transpose(y, back)];
};

/** STFT (opset 17): signal [batch, length, C], frames of frame_length every frame_step samples, each times the window, transformed. */
const stftOp: Lowering = (l, n) => {
  const [signal, step, window, frameLength] = n.inputs;
  const S = l.shape(signal);
  if (S.length !== 3 || (S[2] !== 1 && S[2] !== 2)) l.fail(`STFT's signal is [${S.join(", ")}]; it must be [batch, length, 1 or 2]`);
  const [batch, samples, parts] = S;
  const hop = sizeInput(l, step, "STFT's frame_step", 1);
  const fromWindow = window ? l.shape(window) : undefined;
  if (fromWindow && fromWindow.length !== 1) l.fail(`STFT's window is [${fromWindow.join(", ")}]; it must be one dimension`);
  const given = frameLength ? sizeInput(l, frameLength, "STFT's frame_length", 1) : fromWindow?.[0];
  const frame = given ?? l.fail("STFT needs a window or a frame_length");
  if (fromWindow && fromWindow[0] !== frame) l.fail(`STFT's window has ${fromWindow[0]} samples and frame_length is ${frame}`);
  if (frame > samples) l.fail(`STFT's frames of ${frame} samples are longer than the signal's ${samples}`);
  if (!l.isFloat(signal)) l.fail("STFT's signal must be a float tensor");
  const onesided = flag(n, "onesided", 1);
  if (onesided && parts === 2) l.fail("STFT: a onesided transform of a complex signal is not supported");
  const frames = Math.floor((samples - frame) / hop) + 1;
  const cut = l.copy(l.ir(signal), [batch, frames, frame, parts], [samples * parts, hop * parts, parts, 1]);
  const windowed = window ? l.map("mul", [cut, l.reshape(l.ir(window), [frame, 1])]) : cut;
  return [dftRows(l, windowed, frame, onesided ? Math.floor(frame / 2) + 1 : frame, false, "STFT")];
};

/**
 * HannWindow, HammingWindow and BlackmanWindow (opset 17): Σ a_j·cos(2πjn/N) over n < size, N the
 * size where `periodic` (the default), else size − 1, as ONNX's reference computes them.
 */
const windowOp =
  (name: string, a: readonly number[]): Lowering =>
  (l, n) => {
    const count = sizeInput(l, n.inputs[0], `${name}'s size`, 1);
    const type = attr(n, "output_datatype", 1);
    if (type !== 1 && type !== 11 && type !== 10 && type !== 16) l.fail(`${name}'s output_datatype ${type} is not a float type`);
    const N = flag(n, "periodic", 1) ? count : count - 1;
    const w = Float32Array.from({ length: count }, (_, i) => a.reduce((sum, c, j) => sum + c * Math.cos((2 * Math.PI * j * i) / N), 0));
    return [l.constantData(w, [count])];
  };

/** A float the node reads from the input `name`, known at build time. */
const floatInput = (l: Lowerer, name: string) => Number(l.value(name).data[0]);

/**
 * MelWeightMatrix (opset 17): [⌊dft_length / 2⌋ + 1, num_mel_bins], each mel band a triangle of
 * peak 1 over the spectrogram's bins, its corners num_mel_bins + 2 points evenly spaced on the mel
 * scale (2595 · log10(1 + f / 700)) from lower_edge_hertz, each at bin ⌊(dft_length + 1) · f / rate⌋;
 * as ONNX's reference and ONNX Runtime compute it, refusing edges that fall outside the bins as
 * ONNX Runtime does.
 */
const melWeightMatrixOp: Lowering = (l, n) => {
  const [melInput, lengthInput, rateInput, lowInput, highInput] = n.inputs;
  const mels = sizeInput(l, melInput, "MelWeightMatrix's num_mel_bins", 1),
    length = sizeInput(l, lengthInput, "MelWeightMatrix's dft_length", 1),
    rate = sizeInput(l, rateInput, "MelWeightMatrix's sample_rate", 1);
  const low = floatInput(l, lowInput),
    high = floatInput(l, highInput);
  const type = attr(n, "output_datatype", 1);
  if (type !== 1 && type !== 11 && type !== 10 && type !== 16) l.fail(`MelWeightMatrix's output_datatype ${type} is not a float type`);
  const bins = Math.floor(length / 2) + 1;
  const bin = (hz: number) => Math.floor(((length + 1) * hz) / rate);
  for (const [what, hz] of [
    ["lower_edge_hertz", low],
    ["upper_edge_hertz", high],
  ] as const)
    if (!(bin(hz) >= 0 && bin(hz) < bins))
      l.fail(`MelWeightMatrix's ${what} ${hz} falls at bin ${bin(hz)}, outside the ${bins} bins of a ${length}-point DFT at ${rate} Hz`);
  const mel = (hz: number) => 2595 * Math.log10(1 + hz / 700);
  const step = (mel(high) - mel(low)) / (mels + 2);
  const corners = Array.from({ length: mels + 2 }, (_, i) => bin(700 * (10 ** ((i * step + mel(low)) / 2595) - 1)));
  const w = new Float32Array(bins * mels);
  for (let i = 0; i < mels; i++) {
    const [left, center, right] = corners.slice(i, i + 3);
    if (center === left) w[center * mels + i] = 1;
    else for (let j = left; j <= center; j++) w[j * mels + i] = (j - left) / (center - left);
    for (let j = center; j < right; j++) w[j * mels + i] = (right - j) / (right - center);
  }
  return [l.constantData(w, [bins, mels])];
};

export const SIGNAL_LOWERINGS: Readonly<Record<string, Lowering>> = {
  MelWeightMatrix: melWeightMatrixOp,
  DFT: dftOp,
  STFT: stftOp,
  HannWindow: windowOp("HannWindow", [0.5, -0.5]),
  HammingWindow: windowOp("HammingWindow", [25 / 46, -(1 - 25 / 46)]),
  BlackmanWindow: windowOp("BlackmanWindow", [0.42, -0.5, 0.08]),
};
