import { BadInputError } from '../../common/errors';
import type { BatchingInput, SlaInput } from './endpoint.types';

// An endpoint's settings as given to createEndpoint and updateEndpoint, checked field by field.

const MAX_BATCH_SIZE = 4_096;
const MAX_QUEUE_DELAY_MS = 1_000;

export function checkSla(input: SlaInput | null | undefined): SlaInput {
  if (!input) return {};
  if (input.p95LatencyMs != null && !(Number.isFinite(input.p95LatencyMs) && input.p95LatencyMs > 0))
    throw new BadInputError('sla.p95LatencyMs', 'must be a positive number of milliseconds');
  if (input.maxErrorRate != null && !(input.maxErrorRate >= 0 && input.maxErrorRate <= 1))
    throw new BadInputError('sla.maxErrorRate', 'must be from 0 to 1');
  if (
    input.minThroughputPerMinute != null &&
    !(Number.isFinite(input.minThroughputPerMinute) && input.minThroughputPerMinute >= 0)
  )
    throw new BadInputError('sla.minThroughputPerMinute', 'must be a number >= 0');
  if (input.minLiveAccuracy != null && !(input.minLiveAccuracy >= 0 && input.minLiveAccuracy <= 1))
    throw new BadInputError('sla.minLiveAccuracy', 'must be from 0 to 1');
  return input;
}

export function checkBatching(input: BatchingInput | null | undefined): BatchingInput {
  if (!input) return {};
  if (
    input.maxBatchSize != null &&
    !(Number.isInteger(input.maxBatchSize) && input.maxBatchSize >= 1 && input.maxBatchSize <= MAX_BATCH_SIZE)
  )
    throw new BadInputError('batching.maxBatchSize', `must be a whole number from 1 to ${MAX_BATCH_SIZE}`);
  if (
    input.maxQueueDelayMs != null &&
    !(
      Number.isFinite(input.maxQueueDelayMs) &&
      input.maxQueueDelayMs >= 0 &&
      input.maxQueueDelayMs <= MAX_QUEUE_DELAY_MS
    )
  )
    throw new BadInputError('batching.maxQueueDelayMs', `must be from 0 to ${MAX_QUEUE_DELAY_MS}`);
  return input;
}

export function checkSampleRate(rate: number | null | undefined): number | undefined {
  if (rate == null) return undefined;
  if (!(rate >= 0 && rate <= 1)) throw new BadInputError('logSampleRate', 'must be from 0 to 1');
  return rate;
}
