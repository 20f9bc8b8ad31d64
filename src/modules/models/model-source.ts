import { BadInputError, DomainError, ErrorCode } from '../../common/errors';
import { requireText } from '../../common/validate';
import type { ArtifactService } from '../artifacts/artifact.service';
import { runGoldenSamples, type GoldenReport } from '../inference/golden-samples';
import type { InferenceRuntime, ModelSource } from '../inference/inference-runtime';
import type { ServingPlan } from '../inference/serving-plan';
import type { ModelVersion, RemoteModel } from './model.entity';
import type { GoldenSampleInput, RegisterModelVersionInput, RemoteModelInput } from './model.types';
import { OnnxLoadError, readOnnxSignature, type ModelSignature } from '../inference/onnx-signature';

/**
 * Where a version's model comes from: an uploaded ONNX artifact or a remote (Open Inference Protocol)
 * model server. A registration opens it to read its signature and run its golden samples.
 */

const MAX_REMOTE_TIMEOUT_MS = 60_000;
const DEFAULT_REMOTE_TIMEOUT_MS = 2_000;

/** What a registration's model turned out to be. */
export interface OpenedModel {
  source: ModelSource;
  artifact: { sha256: string; size: number } | null;
  remote: RemoteModel | null;
  signature: ModelSignature;
}

/** The artifact (or remote model) a registration names, and its signature. */
export async function openModel(
  input: Pick<RegisterModelVersionInput, 'artifactSha256' | 'remote'>,
  projectId: string,
  { artifacts, runtime }: { artifacts: ArtifactService; runtime: InferenceRuntime },
): Promise<OpenedModel> {
  if ((input.artifactSha256 == null) === (input.remote == null))
    throw new BadInputError('artifactSha256', 'give either artifactSha256 (an ONNX artifact) or remote');
  if (input.artifactSha256 != null) {
    const { artifact, path } = await locateArtifact(artifacts, projectId, input.artifactSha256);
    const signature = await readSignature(path);
    return { source: { kind: 'onnx', sha256: artifact.sha256, path }, artifact, remote: null, signature };
  }
  const remote = requireRemote(input.remote!);
  const source: ModelSource = { kind: 'oip', ...remote };
  const signature = await runtime.remoteSignature(source);
  return { source, artifact: null, remote, signature };
}

/** Runs a registration's golden samples; a model the runtime cannot load is the caller's bad input. */
export async function runGolden(
  runtime: InferenceRuntime,
  source: ModelSource,
  plan: ServingPlan,
  samples: GoldenSampleInput[],
): Promise<GoldenReport> {
  try {
    return await runGoldenSamples(runtime, source, plan, samples);
  } catch (error) {
    if (error instanceof OnnxLoadError)
      throw new BadInputError('artifactSha256', `is not a loadable ONNX model: ${error.reason}`);
    throw error;
  }
}

/** Where the runtime finds a version's model. */
export function sourceOf(version: ModelVersion, artifacts: ArtifactService): ModelSource {
  if (version.remote) return { kind: 'oip', ...version.remote };
  return {
    kind: 'onnx',
    sha256: version.artifactSha256!,
    path: artifacts.store.pathOf(version.artifactSha256!),
  };
}

async function locateArtifact(
  artifacts: ArtifactService,
  projectId: string,
  sha256: string,
): Promise<{ artifact: { sha256: string; size: number }; path: string }> {
  try {
    return await artifacts.locate(projectId, sha256, 'artifactSha256');
  } catch (error) {
    if (error instanceof DomainError && error.code === ErrorCode.NOT_FOUND) {
      throw new DomainError(ErrorCode.NOT_FOUND, error.message, { field: 'artifactSha256' });
    }
    throw error;
  }
}

async function readSignature(path: string): Promise<ModelSignature> {
  try {
    return await readOnnxSignature(path);
  } catch (error) {
    if (error instanceof OnnxLoadError) {
      throw new BadInputError('artifactSha256', `is not a loadable ONNX model: ${error.reason}`);
    }
    throw error;
  }
}

function requireRemote(input: RemoteModelInput): RemoteModel {
  const url = requireText('remote.url', input.url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new BadInputError('remote.url', 'must be an absolute http(s) URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new BadInputError('remote.url', 'must be an absolute http(s) URL');
  if (parsed.username || parsed.password) throw new BadInputError('remote.url', 'must not carry credentials');
  const timeoutMs = input.timeoutMs ?? DEFAULT_REMOTE_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_REMOTE_TIMEOUT_MS)
    throw new BadInputError('remote.timeoutMs', `must be 1 to ${MAX_REMOTE_TIMEOUT_MS}`);
  return {
    url: parsed.origin + parsed.pathname.replace(/\/+$/, ''),
    model: requireText('remote.model', input.model),
    version: input.version == null ? null : requireText('remote.version', input.version),
    timeoutMs,
  };
}
