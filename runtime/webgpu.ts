/**
 * The WebGPU engine: runs model.webgpu.json on a GPUDevice. Buffers (one per tensor) and pipelines
 * are made once at load; each call writes its inputs and T, records the dispatches in one compute
 * pass, copies the outputs out and reads them back.
 */
import { SeecError } from "./errors.js";
import type { TensorSpec } from "./manifest.js";
import type { Engine } from "./model.js";
import { groupsFor, type GpuDispatch, type GpuProgram } from "./webgpu-program.js";

/* The WebGPU constants, from the spec (globals only where WebGPU is). */
const STORAGE = 0x80,
  COPY_SRC = 0x04,
  COPY_DST = 0x08,
  UNIFORM = 0x40,
  MAP_READ = 0x01,
  MAP_MODE_READ = 0x01;

export class GpuEngine implements Engine {
  readonly backend = "webgpu";

  private constructor(
    /** Held for the engine's life: Dawn (Node) frees its instance when the GPU object is collected, and a live device then crashes. */
    readonly gpu: GPU,
    private readonly device: GPUDevice,
    private readonly buffers: Map<string, GPUBuffer>,
    private readonly uniforms: GPUBuffer,
    private readonly steps: { pipeline: GPUComputePipeline; group: GPUBindGroup; d: GpuDispatch }[],
    readonly adapter: string,
  ) {}

  /** The engine on the GPU's first adapter, or a reason there is none. */
  static async create(gpu: GPU, program: GpuProgram, weights: Uint8Array): Promise<GpuEngine> {
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new SeecError("runtime.webgpu", "WebGPU gives no adapter");
    const largest = program.tensors.reduce((m, t) => (t.bytes > m.bytes ? t : m), program.tensors[0]);
    const bind = adapter.limits.maxStorageBufferBindingSize;
    if (largest && largest.bytes > bind)
      throw new SeecError("runtime.webgpu", `tensor ${largest.name} needs ${largest.bytes} bytes; this adapter binds at most ${bind}`);
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBuffersPerShaderStage: Math.min(8, adapter.limits.maxStorageBuffersPerShaderStage),
        ...(largest && largest.bytes > 128 << 20
          ? { maxStorageBufferBindingSize: bind, maxBufferSize: Math.max(bind, adapter.limits.maxBufferSize) }
          : {}),
      },
    });
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("validation");
    const buffers = new Map<string, GPUBuffer>();
    for (const t of program.tensors) {
      const buffer = device.createBuffer({ size: t.bytes, usage: STORAGE | COPY_SRC | COPY_DST });
      if (t.weights !== undefined) {
        // Whole words: a tensor ending weights.bin mid-word is padded with zeros.
        let bytes = weights.subarray(t.weights, t.weights + t.bytes);
        if (bytes.byteLength % 4 || bytes.byteOffset % 4) {
          const whole = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
          whole.set(bytes);
          bytes = whole;
        }
        device.queue.writeBuffer(buffer, 0, bytes.buffer, bytes.byteOffset, bytes.byteLength);
      }
      buffers.set(t.name, buffer);
    }
    const uniforms = device.createBuffer({ size: 16, usage: UNIFORM | COPY_DST });
    const modules = new Map<string, { module: GPUShaderModule; pipeline: GPUComputePipeline; node: string }>();
    const prepare = (d: GpuDispatch) => {
      let compiled = modules.get(d.wgsl);
      if (!compiled) {
        const module = device.createShaderModule({ code: d.wgsl });
        compiled = {
          module,
          pipeline: device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } }),
          node: d.node,
        };
        modules.set(d.wgsl, compiled);
      }
      // An automatic layout leaves out what the shader never reads: the uniforms, for fixed-size kernels.
      const entries = [
        ...(d.wgsl.includes("params.") ? [{ binding: 0, resource: { buffer: uniforms } }] : []),
        ...d.tensors.map((t, i) => ({ binding: i + 1, resource: { buffer: buffers.get(t)! } })),
      ];
      return {
        pipeline: compiled.pipeline,
        group: device.createBindGroup({ layout: compiled.pipeline.getBindGroupLayout(0), entries }),
        d,
      };
    };
    const forward = program.forward.map(prepare);
    const init = program.init.map(prepare);
    const [invalid, memory] = [await device.popErrorScope(), await device.popErrorScope()];
    if (invalid || memory) {
      device.destroy();
      if (memory)
        throw new SeecError("runtime.webgpu", `the GPU is out of memory for the model's buffers: ${memory.message.split("\n")[0]}`);
      const node = await failedShader([...modules.values()]);
      throw new SeecError("runtime.webgpu", `the WGSL program does not validate: ${invalid!.message.split("\n")[0]}`, {
        ...(node ? { at: `node ${node}` } : {}),
        hint: "this is a bug in seec's WebGPU backend; the artifact still runs on wasm",
      });
    }
    const engine = new GpuEngine(gpu, device, buffers, uniforms, forward, adapter.info?.description || adapter.info?.vendor || "WebGPU");
    if (init.length) engine.submit(init, 0);
    return engine;
  }

  /** One call: inputs in, the dispatches for T tokens, outputs read back. */
  async run(
    inputs: { spec: TensorSpec; data: Int32Array | Float32Array }[],
    outputs: { spec: TensorSpec; length: number }[],
    bound: Readonly<Record<string, number>>,
  ): Promise<Float32Array[]> {
    const T = bound.T ?? 0;
    for (const { spec, data } of inputs)
      this.device.queue.writeBuffer(this.buffers.get(spec.name)!, 0, data.buffer, data.byteOffset, data.byteLength);
    const staging = outputs.map((o) => this.device.createBuffer({ size: Math.max(4, o.length * 4), usage: MAP_READ | COPY_DST }));
    this.submit(this.steps, T, (encoder) =>
      outputs.forEach((o, i) => encoder.copyBufferToBuffer(this.buffers.get(o.spec.name)!, 0, staging[i], 0, o.length * 4)),
    );
    return Promise.all(
      staging.map(async (b, i) => {
        await b.mapAsync(MAP_MODE_READ);
        const data = new Float32Array(b.getMappedRange().slice(0, outputs[i].length * 4));
        b.unmap();
        b.destroy();
        return data;
      }),
    );
  }

  private submit(steps: GpuEngine["steps"], T: number, after?: (e: GPUCommandEncoder) => void): void {
    this.device.queue.writeBuffer(this.uniforms, 0, Uint32Array.of(T, 0, 0, 0));
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    for (const { pipeline, group, d } of steps) {
      if (T < (d.tokens?.min ?? 0) || T > (d.tokens?.max ?? Infinity)) continue;
      const [x, y = 1] = d.groups.map((g) => groupsFor(g, T));
      if (x === 0 || y === 0) continue;
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(x, y);
    }
    pass.end();
    after?.(encoder);
    this.device.queue.submit([encoder.finish()]);
  }

  dispose(): void {
    for (const b of this.buffers.values()) b.destroy();
    this.device.destroy();
  }
}

/** The node whose shader has a compilation error, where the adapter says. */
async function failedShader(modules: { module: GPUShaderModule; node: string }[]): Promise<string | undefined> {
  for (const { module, node } of modules) {
    const info = await module.getCompilationInfo?.();
    if (info?.messages.some((m) => m.type === "error")) return node;
  }
  return undefined;
}
