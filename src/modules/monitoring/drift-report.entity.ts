import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { References } from '../../db/references';
import { Endpoint } from '../endpoints/endpoint.entity';

export enum DriftTest {
  KOLMOGOROV_SMIRNOV = 'KOLMOGOROV_SMIRNOV',
  CHI_SQUARE = 'CHI_SQUARE',
}
registerEnumType(DriftTest, { name: 'DriftTest' });

@ObjectType({ description: "One feature's (or the output's) window against its reference profile" })
export class FeatureDrift {
  @Field({ description: 'The feature, or `<output>` for the predicted labels' })
  feature: string;

  @Field({ description: 'NUMERIC (binned at the reference deciles) or CATEGORICAL' })
  kind: string;

  @Field(() => DriftTest)
  test: DriftTest;

  @Field(() => Float, { description: 'KS D at the bin edges, or the chi-square statistic' })
  statistic: number;

  @Field(() => Float)
  pValue: number;

  @Field(() => Float, { description: 'Population Stability Index' })
  psi: number;

  @Field(() => Float, { description: 'Jensen–Shannon divergence, base 2, 0 to 1' })
  jensenShannon: number;

  @Field(() => Float, { description: 'The PSI this window had to exceed, given both sample sizes' })
  psiThreshold: number;

  @Field(() => Int, { description: 'Values in the window (missing ones are not counted)' })
  sampleSize: number;

  @Field()
  drifted: boolean;

  @Field(() => [String], { description: 'Bins: deciles as [low, high), or categories' })
  bins: string[];

  @Field(() => [Float], { description: 'Reference share per bin' })
  reference: number[];

  @Field(() => [Float], { description: 'Window share per bin' })
  current: number[];
}

/** A drift check of one endpoint's traffic over a window, against its served version's training data. */
@ObjectType()
@Entity('drift_report')
@Index('idx_drift_report__endpoint_created', ['endpointId', 'createdAt'])
@Index('idx_drift_report__project_created', ['projectId', 'createdAt'])
export class DriftReport {
  @Field(() => ID)
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_drift_report' })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @Field(() => ID)
  @Column('uuid')
  endpointId: string;

  @References(() => Endpoint, 'endpoint_id', 'fk_drift_report__endpoint_id', { onDelete: 'CASCADE' })
  endpoint?: Relation<Endpoint>;

  @Field(() => ID, { description: 'The stable version at the time: its training data is the reference' })
  @Column('uuid')
  modelVersionId: string;

  @Field(() => ID)
  @Column('uuid')
  datasetVersionId: string;

  @Field()
  @Column('timestamptz')
  windowStart: Date;

  @Field()
  @Column('timestamptz')
  windowEnd: Date;

  @Field(() => Int, { description: 'Predictions in the window' })
  @Column('int')
  sampleSize: number;

  @Field({ description: 'Too few predictions to decide: nothing is reported drifted' })
  @Column('boolean')
  insufficient: boolean;

  @Field()
  @Column('boolean')
  drifted: boolean;

  @Field(() => [String])
  @Column('text', { array: true })
  driftedFeatures: string[];

  @Field(() => [FeatureDrift])
  @Column('jsonb')
  features: FeatureDrift[];

  @Field(() => [String], { description: 'Features not compared, with the reason' })
  @Column('text', { array: true, default: () => "'{}'" })
  skipped: string[];

  @Field()
  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt: Date;
}
