/** manifest.json: everything a runtime needs to drive an artifact, and what a person needs to audit it. */
export type DType = "f32" | "i32";

export interface TensorSpec {
  name: string;
  dtype: DType;
  /** Numbers, or the name of a symbolic dimension bound per call (see `dims`). */
  shape: (number | string)[];
  /** Byte address in the module's linear memory. */
  address: number;
}

export interface Region {
  address: number;
  bytes: number;
}

export interface Manifest {
  format: "seec/1";
  seec: string;
  /** The command line that built the artifact. */
  command: string;
  name: string;
  target: string;
  /** The compiled modules, in the order to try them: the first that WebAssembly.validate accepts runs. */
  modules: { backend: string; file: string }[];
  model: {
    family: "decoder" | "encoder";
    config: Record<string, number>;
    bosId?: number;
    eosId?: number;
  };
  dims: Record<string, { max: number }>;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  memory: { pages: number; weights: Region; arena: Region; state: Region; totalBytes: number };
  tokenizer?: { file: string; type: "llama2c-bpe" | "sentencepiece-unigram" };
  /** Every other file of the artifact: size and sha256 (hex). */
  files: Record<string, { bytes: number; sha256: string }>;
}
