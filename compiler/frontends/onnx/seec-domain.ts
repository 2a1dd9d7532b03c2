/**
 * seec's own ONNX domain: the ops a stateful decoder is rewritten into (decoder-state.ts), the
 * calls seec's export-onnx writes (seec-export.ts), and If's run-time choice (control-flow.ts);
 * their lowerings are in lower-decoder.ts and control-flow.ts.
 */
export const SEEC_DOMAIN = "ai.seec";
