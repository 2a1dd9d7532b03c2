/**
 * Files of the seec package itself (kernels, runtime sources, asconfig.json). bin/seec.mjs sets
 * SEEC_ROOT because it runs the compiler from a bundle elsewhere; tests run the sources in place.
 */
const root = (globalThis as { SEEC_ROOT?: string }).SEEC_ROOT ?? new URL("../../", import.meta.url).href;

export function packageFile(path: string): URL {
  return new URL(path, root);
}
