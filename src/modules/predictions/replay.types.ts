import { ArgsType, Field, Float, ID, Int, ObjectType } from 'type-graphql';

export const DEFAULT_REPLAY_LIMIT = 10_000;
export const MAX_REPLAY_LIMIT = 100_000;
export const MAX_REPLAY_WINDOW_DAYS = 31;

@ArgsType()
export class ReplayArgs {
  @Field({ description: 'The endpoint, by name' })
  endpoint: string;

  @Field({ description: 'Start of the window of logged traffic (inclusive)' })
  from: Date;

  @Field({ description: `End of the window (exclusive); at most ${MAX_REPLAY_WINDOW_DAYS} days after from` })
  to: Date;

  @Field(() => Int, { description: "The version number of the endpoint's model to re-score with" })
  version: number;

  @Field(() => Int, {
    nullable: true,
    description: `Re-score the newest this many predictions of the window, 1 to ${MAX_REPLAY_LIMIT} (default ${DEFAULT_REPLAY_LIMIT})`,
  })
  limit?: number | null;
}

@ObjectType({ description: 'How one version that answered in the window compares with the replayed one' })
export class ReplayVersionAgreement {
  @Field(() => ID, { description: 'The version that answered the logged predictions' })
  modelVersionId: string;

  @Field(() => Int)
  modelVersion: number;

  @Field(() => Int, { description: 'Its predictions re-scored' })
  rows: number;

  @Field(() => Float, {
    nullable: true,
    description: 'Classifiers: share of them where the replayed label equals the logged one',
  })
  agreement: number | null;
}

@ObjectType({
  description:
    "An endpoint's logged traffic re-scored with another version: how often they agree and how each fares " +
    'against the recorded outcomes. Nothing replayed is logged or served.',
})
export class ReplayReport {
  @Field({ description: 'The endpoint, by name' })
  endpoint: string;

  @Field(() => ID, { description: 'The version that re-scored the traffic' })
  modelVersionId: string;

  @Field(() => Int)
  modelVersion: number;

  @Field()
  from: Date;

  @Field()
  to: Date;

  @Field(() => Int, { description: 'Logged predictions re-scored' })
  rows: number;

  @Field(() => Int, {
    description:
      "Logged predictions the version's preprocessing refuses (a feature it needs is missing, ...)",
  })
  skipped: number;

  @Field(() => String, { nullable: true, description: 'Why the first skipped prediction was refused' })
  firstSkipReason: string | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Classifiers: share of re-scored rows where the replayed label equals the logged one',
  })
  agreement: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Regressors: mean absolute difference between replayed and logged first values',
  })
  meanAbsoluteDifference: number | null;

  @Field(() => Int, { description: 'Re-scored rows with a recorded outcome; the accuracies below use these' })
  outcomes: number;

  @Field(() => Float, { nullable: true, description: 'Classifiers: accuracy of the logged answers' })
  originalAccuracy: number | null;

  @Field(() => Float, { nullable: true, description: 'Classifiers: accuracy of the replayed answers' })
  replayAccuracy: number | null;

  @Field(() => Float, { nullable: true, description: 'replayAccuracy - originalAccuracy' })
  accuracyDelta: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Regressors: mean absolute error of the logged first values',
  })
  originalMeanAbsoluteError: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Regressors: mean absolute error of the replayed first values',
  })
  replayMeanAbsoluteError: number | null;

  @Field(() => [ReplayVersionAgreement], {
    description: 'Per version that answered the logged predictions, by version number',
  })
  byOriginalVersion: ReplayVersionAgreement[];

  @Field(() => Float, {
    description: 'Milliseconds spent re-scoring (preprocessing, model runs, decoding), reads excluded',
  })
  latencyMs: number;
}
