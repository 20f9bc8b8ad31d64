import { InferenceSession } from 'onnxruntime-node';

/** One tensor of a model's inputs or outputs, as the ONNX graph declares it. */
export interface TensorSpec {
  name: string;
  /** Element type as onnxruntime names it, e.g. `float32`, `int64`, `string`; `non-tensor` for maps and sequences. */
  type: string;
  /** Dimensions; a symbolic or unknown dimension is `null`. */
  shape: Array<number | null>;
}

export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/** Why a blob could not be opened as an ONNX model, in words safe to show a caller. */
export class OnnxLoadError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'OnnxLoadError';
  }
}

/** The shape of onnxruntime's value metadata that the signature needs (tensor or not). */
export interface ValueMetadataLike {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: ReadonlyArray<number | string>;
}

/** One input or output as Nerve stores it: symbolic or unknown dimensions become `null`. */
export function tensorSpec(meta: ValueMetadataLike): TensorSpec {
  if (!meta.isTensor) return { name: meta.name, type: 'non-tensor', shape: [] };
  return {
    name: meta.name,
    type: meta.type ?? 'unknown',
    shape: (meta.shape ?? []).map((d) => (typeof d === 'number' && Number.isInteger(d) && d >= 0 ? d : null)),
  };
}

/**
 * onnxruntime's load errors carry the server path and C++ source locations; keep only the reason
 * ("Protobuf parsing failed.", "ModelProto does not have a graph.").
 */
export function loadFailureReason(message: string): string {
  let reason = message
    .replace(/^Load model from .*? failed:/s, '')
    .split('\n')[0]
    .trim();
  if (/^\/?\S+:\d+\s/.test(reason) && reason.includes(') '))
    reason = reason.slice(reason.lastIndexOf(') ') + 2);
  reason = reason.replace(/\/\S+/g, '').trim();
  if (!reason) reason = 'the runtime could not load it';
  return reason.length > 200 ? `${reason.slice(0, 197)}...` : reason;
}

/**
 * Opens the model at `path` with onnxruntime-node, reads the names, element types and shapes of its
 * inputs and outputs, and releases the session. Throws OnnxLoadError when the runtime rejects the file.
 */
export async function readOnnxSignature(path: string): Promise<ModelSignature> {
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(path, { graphOptimizationLevel: 'disabled' });
  } catch (error) {
    throw new OnnxLoadError(loadFailureReason(error instanceof Error ? error.message : String(error)));
  }
  try {
    return {
      inputs: session.inputMetadata.map((m) => tensorSpec(m)),
      outputs: session.outputMetadata.map((m) => tensorSpec(m)),
    };
  } finally {
    await session.release();
  }
}
