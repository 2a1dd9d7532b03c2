/**
 * model.webgpu.json: what the WebGPU engine runs, written by targets/webgpu/program.ts. Every
 * tensor gets its own buffer, sized for the largest call; weights come from weights.bin at the
 * offsets given; dispatches run in order, each over a grid of workgroups sized by the call's T.
 */
export interface GpuTensor {
  name: string;
  bytes: number;
  /** Offset in weights.bin, for weights. */
  weights?: number;
}

/** ceil((perT2 · T² + perT · T + fixed) / per) workgroups along one axis of the grid, for a call of T tokens. */
export interface GroupCount {
  perT: number;
  fixed: number;
  per: number;
  /** A [.., T, T] tensor's elements (a graph built for any length). */
  perT2?: number;
}

/** The workgroups of one axis for a call of T tokens. */
export const groupsFor = (g: GroupCount, T: number) => Math.ceil(((g.perT2 ?? 0) * T * T + g.perT * T + g.fixed) / g.per);

export interface GpuDispatch {
  /** The IR node it runs (for people reading the file). */
  node: string;
  wgsl: string;
  /** Tensors bound at 1, 2, ... (0 is the uniforms). */
  tensors: string[];
  /** The grid: x, then y where the kernel tiles two ways. */
  groups: GroupCount[];
  /** Only for calls of this many tokens (a node may have one kernel for decoding and one for prompts). */
  tokens?: { min?: number; max?: number };
}

export interface GpuProgram {
  format: "seec-webgpu/2";
  tensors: GpuTensor[];
  /** Run once after the weights are in place (load-time tables). */
  init: GpuDispatch[];
  /** Run on every call. */
  forward: GpuDispatch[];
}
