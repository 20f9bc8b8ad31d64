import { ArgsType, Field, Float, InputType, Int } from 'type-graphql';
import { Connection, PageArgs } from '../../common/pagination';
import { Endpoint, EndpointTraffic } from './endpoint.entity';

@InputType({ description: 'Service-level targets; omitted fields stay unset' })
export class SlaInput {
  @Field(() => Float, { nullable: true, description: 'p95 latency target, milliseconds (> 0)' })
  p95LatencyMs?: number | null;

  @Field(() => Float, { nullable: true, description: 'Highest acceptable error rate, 0 to 1' })
  maxErrorRate?: number | null;

  @Field(() => Float, {
    nullable: true,
    description:
      'Lowest expected predictions per minute over the SLA window (>= 0); below it a KPI alert is raised',
  })
  minThroughputPerMinute?: number | null;

  @Field(() => Float, { nullable: true, description: 'Lowest acceptable live accuracy per version, 0 to 1' })
  minLiveAccuracy?: number | null;
}

@InputType({ description: 'Dynamic batching: how concurrent requests are merged into one model run' })
export class BatchingInput {
  @Field(() => Int, { nullable: true, description: 'Rows per run, 1 (off) to 4096; default 32' })
  maxBatchSize?: number | null;

  @Field(() => Float, {
    nullable: true,
    description:
      'Milliseconds a request may wait for others while the model has room, 0 to 1000; default 0 (no timer: requests arriving in the same event-loop turn run together)',
  })
  maxQueueDelayMs?: number | null;
}

@InputType()
export class CreateEndpointInput {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field({ description: 'Unique across the hub: 1 to 63 lowercase letters, digits or dashes' })
  name: string;

  @Field({ description: 'The model, by id or by name within the project' })
  model: string;

  @Field(() => Int, { description: 'The version number to serve' })
  version: number;

  @Field(() => SlaInput, { nullable: true })
  sla?: SlaInput | null;

  @Field(() => BatchingInput, { nullable: true })
  batching?: BatchingInput | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Share of successful predictions logged, 0 to 1; default 1',
  })
  logSampleRate?: number | null;

  @Field(() => String, {
    nullable: true,
    description: 'A retry with the same key returns what the first call created, and creates nothing',
  })
  idempotencyKey?: string | null;
}

@InputType()
export class UpdateEndpointInput {
  @Field({ description: 'The endpoint, by name' })
  endpoint: string;

  @Field(() => SlaInput, { nullable: true })
  sla?: SlaInput | null;

  @Field(() => BatchingInput, { nullable: true })
  batching?: BatchingInput | null;

  @Field(() => Float, { nullable: true })
  logSampleRate?: number | null;
}

@InputType({ description: 'The whole traffic split of an endpoint; what is omitted is removed' })
export class SetEndpointTrafficInput {
  @Field({ description: 'The endpoint, by name' })
  endpoint: string;

  @Field(() => Int, { description: 'Version number answering every request not sent to the canary' })
  stableVersion: number;

  @Field(() => Int, { nullable: true })
  canaryVersion?: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Percent of request keys (0 to 100) answered by the canary; required with canaryVersion',
  })
  canaryWeight?: number | null;

  @Field(() => Int, { nullable: true, description: 'Sees a copy of every request; never answers' })
  shadowVersion?: number | null;

  @Field(() => String, { nullable: true, description: 'Why, for the history' })
  reason?: string | null;
}

@ArgsType()
export class EndpointsArgs extends PageArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;
}

@ArgsType()
export class TrafficHistoryArgs extends PageArgs {
  @Field(() => Date, { nullable: true, description: 'Only the split in force at this instant' })
  at?: Date | null;
}

export const EndpointConnection = Connection(Endpoint);
export const EndpointTrafficConnection = Connection(EndpointTraffic);
