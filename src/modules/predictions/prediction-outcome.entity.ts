import { Field, Float, ID, ObjectType } from 'type-graphql';
import { Column, Entity, PrimaryGeneratedColumn, Unique } from 'typeorm';

/** The ground truth for a prediction, once the business learns it. */
@ObjectType({ description: 'The true label (or value) of a prediction, recorded when it became known' })
@Entity('prediction_outcome')
@Unique('uq_prediction_outcome__request_key', ['endpointId', 'requestKey'])
export class PredictionOutcome {
  @Field(() => ID)
  @PrimaryGeneratedColumn('increment', {
    type: 'bigint',
    primaryKeyConstraintName: 'pk_prediction_outcome',
  })
  id: string;

  @Field(() => ID)
  @Column('uuid')
  projectId: string;

  @Field(() => ID)
  @Column('uuid')
  endpointId: string;

  @Field()
  @Column('text')
  requestKey: string;

  @Field(() => String, { nullable: true })
  @Column('text', { nullable: true })
  label: string | null;

  @Field(() => Float, { nullable: true })
  @Column('double precision', { nullable: true })
  value: number | null;

  @Field()
  @Column('timestamptz')
  recordedAt: Date;

  @Column('uuid', { nullable: true })
  recordedByKeyId: string | null;
}
