/**
 * seec's own ONNX domain: the ops a stateful decoder is rewritten into (decoder-state.ts), the
 * calls seec's export-onnx writes (seec-export.ts), If's run-time choice (control-flow.ts) and
 * the SwiGLU that fuse.ts finds; their lowerings are in lower-decoder.ts, control-flow.ts and lower-fused.ts.
 */
export const SEEC_DOMAIN = "ai.seec";
