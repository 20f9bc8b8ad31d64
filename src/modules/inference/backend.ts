/**
 * What the inference runtime needs from whatever scores a model version: an onnxruntime session in a
 * worker thread, or a remote model server speaking the Open Inference Protocol.
 */

/** One output tensor, row-major. Integer outputs arrive widened to float64. */
export interface OutputTensor {
  data: Float32Array | Float64Array;
  dims: number[];
}

/** Output tensors by name. */
export type ScoredOutputs = Record<string, OutputTensor>;

/** One model input: the `width` columns from `offset` of each preprocessed row. */
export interface InputSlot {
  name: string;
  offset: number;
  width: number;
}

/**
 * A model version ready to score: the preprocessed features are one float32 matrix [rows, width], which
 * holds each model input's columns side by side ({@link InputSlot}); one input takes the whole row.
 */
export interface ScoringBackend {
  /** Where it runs, for `inferenceRuntime`: `cpu`, `cuda`, or `remote:<base url>`. */
  readonly provider: string;
  /** Scores `rows` rows of `width` features (row-major in `features`), split among `inputs`. */
  run(
    inputs: readonly InputSlot[],
    features: Float32Array,
    rows: number,
    width: number,
  ): Promise<ScoredOutputs>;
  /** Frees the session or connection pool. */
  close(): Promise<void>;
}
