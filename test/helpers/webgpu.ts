/**
 * WebGPU in Node: the `webgpu` package (Dawn) on a Vulkan driver. Without a GPU, SwiftShader's
 * Vulkan driver from Debian's chromium package gives an adapter (see ../shared/docs/TOOLCHAIN.md);
 * the runtime's load() then finds both by itself. Tests skip, saying why, where there is no adapter.
 */
import { existsSync } from "node:fs";

const SWIFTSHADER = "/usr/lib/chromium/vk_swiftshader_icd.json";

/** Points Vulkan at SwiftShader (unless told otherwise) and asks Dawn for an adapter: its name, or why there is none. */
export async function nodeWebgpu(): Promise<{ adapter?: string; reason?: string }> {
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) process.env.VK_ICD_FILENAMES = SWIFTSHADER;
  try {
    const { create } = (await import("webgpu")) as { create: (options: string[]) => GPU };
    const gpu = create([]);
    const adapter = await gpu.requestAdapter();
    if (adapter) return { adapter: adapter.info.description || adapter.info.vendor || "WebGPU" };
    return {
      reason: `Dawn gives no WebGPU adapter (VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? "unset"}; install chromium for SwiftShader)`,
    };
  } catch (e) {
    return { reason: `the webgpu package does not load: ${(e as Error).message}` };
  }
}
