/**
 * model.webgpu.json: what the WebGPU engine runs, written by targets/webgpu/program.ts. Every
 * tensor gets its own buffer, sized for the largest call; weights come from weights.bin at the
 * offsets given; dispatches run in order, each over ceil((perT · T + fixed) / workgroupSize)
 * workgroups for a call of T tokens.
 */
export interface GpuTensor {
  name: string;
  bytes: number;
  /** Offset in weights.bin, for weights. */
  weights?: number;
}

export interface GpuDispatch {
  /** The IR node it runs (for people reading the file). */
  node: string;
  wgsl: string;
  /** Tensors bound at 1, 2, ... (0 is the uniforms). */
  tensors: string[];
  threads: { perT: number; fixed: number };
  workgroupSize: number;
}

export interface GpuProgram {
  format: "seec-webgpu/1";
  tensors: GpuTensor[];
  /** Run once after the weights are in place (load-time tables). */
  init: GpuDispatch[];
  /** Run on every call. */
  forward: GpuDispatch[];
}
