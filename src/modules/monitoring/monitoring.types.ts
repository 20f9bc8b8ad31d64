import { ArgsType, Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { Connection, PageArgs } from '../../common/pagination';
import { DriftReport } from './drift-report.entity';

@ObjectType()
export class VersionStats {
  @Field(() => ID)
  modelVersionId: string;

  @Field(() => Int)
  requests: number;

  @Field(() => Int)
  errors: number;

  @Field(() => Float)
  errorRate: number;

  @Field(() => Float, {
    nullable: true,
    description: 'Milliseconds, within 1% (DDSketch); null without traffic',
  })
  p50Ms: number | null;

  @Field(() => Float, { nullable: true })
  p95Ms: number | null;

  @Field(() => Float, { nullable: true })
  p99Ms: number | null;
}

@ObjectType({ description: "An endpoint's traffic over a window of whole minutes, merged across replicas" })
export class EndpointStats {
  @Field(() => ID)
  endpointId: string;

  @Field()
  endpoint: string;

  @Field(() => Int)
  windowMinutes: number;

  @Field()
  from: Date;

  @Field()
  to: Date;

  @Field(() => Int)
  requests: number;

  @Field(() => Int)
  errors: number;

  @Field(() => Float)
  errorRate: number;

  @Field(() => Float)
  throughputPerMinute: number;

  @Field(() => Float, { nullable: true })
  p50Ms: number | null;

  @Field(() => Float, { nullable: true })
  p95Ms: number | null;

  @Field(() => Float, { nullable: true })
  p99Ms: number | null;

  @Field(() => [VersionStats])
  byVersion: VersionStats[];
}

@ArgsType()
export class DriftReportsArgs extends PageArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field(() => String, { nullable: true, description: 'Only this endpoint (by name)' })
  endpoint?: string | null;
}

@ArgsType()
export class DriftReportedArgs {
  @Field({ description: 'The project, by slug or id' })
  project: string;

  @Field(() => String, { nullable: true, description: 'Only this endpoint (by name)' })
  endpoint?: string | null;

  @Field({ nullable: true, defaultValue: false, description: 'Only reports that found drift' })
  driftedOnly: boolean;
}

@ArgsType()
export class EndpointStatsArgs {
  @Field({ description: 'The endpoint, by name' })
  endpoint: string;
}

export const DriftReportConnection = Connection(DriftReport);
