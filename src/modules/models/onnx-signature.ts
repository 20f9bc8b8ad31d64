/** One tensor of a model's inputs or outputs, as the ONNX graph declares it. */
export interface TensorSpec {
  name: string;
  /** ONNX element type, e.g. `float32`, `int64`, `string`; `map`/`sequence` for non-tensors. */
  type: string;
  /** Dimensions; a symbolic or unknown dimension is `null`. */
  shape: Array<number | null>;
}

export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}
