import { GraphQLJSONObject } from '../../common/json-scalar';
import { ArgsType, Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ModelVersion } from '../models/model.entity';
import { Kpi, KpiAggregation, KpiDirection } from './kpi.entity';
import { Connection, PageArgs } from '../../common/pagination';

export enum KpiGranularity {
  HOUR = 'hour',
  DAY = 'day',
  WEEK = 'week',
  MONTH = 'month',
}
registerEnumType(KpiGranularity, { name: 'KpiGranularity' });

@InputType()
export class DefineKpiInput {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field({ description: 'Stable identifier: lower case letters, digits and underscores' })
  key: string;

  @Field()
  name: string;

  @Field()
  unit: string;

  @Field(() => KpiAggregation, { defaultValue: KpiAggregation.MEAN })
  aggregation: KpiAggregation;

  @Field(() => KpiDirection, { defaultValue: KpiDirection.HIGHER_IS_BETTER })
  direction: KpiDirection;

  @Field(() => String, { nullable: true })
  description?: string | null;
}

@InputType()
export class KpiPointInput {
  @Field({ description: 'The KPI’s key' })
  kpi: string;

  @Field()
  time: Date;

  @Field(() => Float)
  value: number;

  @Field(() => ID, { nullable: true, description: 'The version to attribute it to; or give requestKey' })
  modelVersionId?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'The request key of the prediction behind it: the hub attributes the point to its version',
  })
  requestKey?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  dimensions?: Record<string, unknown> | null;

  @Field(() => String, {
    nullable: true,
    description: 'The pushing system’s id for this fact: a second point with the same ref replaces the first',
  })
  sourceRef?: string | null;
}

@InputType()
export class RecordKpiPointsInput {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field(() => [KpiPointInput])
  points: KpiPointInput[];

  @Field(() => String, { nullable: true })
  idempotencyKey?: string | null;
}

@ObjectType()
export class RecordKpiPointsResult {
  @Field(() => Int)
  recorded: number;

  @Field(() => Int, {
    description: 'Points attributed to a model version (given or through the request key)',
  })
  attributed: number;
}

@ArgsType()
export class KpisArgs extends PageArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;
}

@ArgsType()
export class KpiSeriesArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field({ description: 'The KPI’s key' })
  kpi: string;

  @Field({ description: 'Inclusive' })
  from: Date;

  @Field({ description: 'Exclusive' })
  to: Date;

  @Field(() => KpiGranularity, { defaultValue: KpiGranularity.DAY })
  granularity: KpiGranularity;

  @Field({ defaultValue: false, description: 'One line per model version (and one for unattributed points)' })
  byModelVersion: boolean;

  @Field(() => Float, { defaultValue: 0.95, description: 'Of the intervals, in (0, 1)' })
  confidence: number;
}

@ObjectType({ description: 'A value with its confidence interval (null below two observations)' })
export class KpiEstimate {
  @Field(() => Int, { description: 'Observations (points) behind it' })
  count: number;

  @Field(() => Float, {
    description: 'MEAN: the mean of the points; SUM: the sum (per bucket) or mean bucket sum',
  })
  value: number;

  @Field(() => Float, { nullable: true })
  low: number | null;

  @Field(() => Float, { nullable: true })
  high: number | null;
}

@ObjectType()
export class KpiBucket extends KpiEstimate {
  @Field({ description: 'Start of the bucket (UTC)' })
  start: Date;
}

@ObjectType()
export class KpiSeriesLine {
  @Field(() => ModelVersion, {
    nullable: true,
    description: 'null: points no prediction touched (or all, without byModelVersion)',
  })
  modelVersion: ModelVersion | null;

  @Field(() => KpiEstimate, { description: 'The whole range' })
  summary: KpiEstimate;

  @Field(() => [KpiBucket])
  buckets: KpiBucket[];
}

@ObjectType({
  description: 'Did the candidate beat the baseline? The difference candidate − baseline with its interval',
})
export class KpiComparison {
  @Field(() => ModelVersion)
  baseline: ModelVersion;

  @Field(() => ModelVersion)
  candidate: ModelVersion;

  @Field(() => Float)
  baselineValue: number;

  @Field(() => Float)
  candidateValue: number;

  @Field(() => Float)
  difference: number;

  @Field(() => Float, { nullable: true })
  low: number | null;

  @Field(() => Float, { nullable: true })
  high: number | null;

  @Field(() => Float, { nullable: true, description: 'difference / baselineValue' })
  relativeChange: number | null;

  @Field({ description: 'The interval excludes 0 and the difference goes the KPI’s better way' })
  better: boolean;

  @Field({ description: 'The interval excludes 0 and the difference goes the KPI’s worse way' })
  worse: boolean;
}

@ObjectType()
export class KpiSeries {
  @Field(() => Kpi)
  kpi: Kpi;

  @Field(() => KpiGranularity)
  granularity: KpiGranularity;

  @Field(() => [KpiSeriesLine])
  lines: KpiSeriesLine[];

  @Field(() => [KpiComparison], {
    description: 'With byModelVersion: each version against the one that came before it (by version number)',
  })
  comparisons: KpiComparison[];
}

export const KpiConnection = Connection(Kpi);
