import { GraphQLJSONObject } from '../../common/json-scalar';
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import {
  ModelCardMetricSource,
  type CardEvaluation,
  type CardMetric,
  type CardSliceMetric,
  type ModelCardInputLike,
} from './model-card';
import type { CardDatasetLink } from './model-card-markdown';

registerEnumType(ModelCardMetricSource, {
  name: 'ModelCardMetricSource',
  description: 'Where a model card’s evaluation metrics came from',
});

@InputType({ description: 'What the model was trained on' })
export class ModelCardTrainingDataInput {
  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => [ID], {
    nullable: true,
    description:
      'Lineage: dataset versions of the same project. Omitted: the dataset version the version was registered with',
  })
  datasetVersionIds?: string[] | null;
}

@InputType()
export class ModelCardMetricInput {
  @Field()
  name: string;

  @Field(() => Float)
  value: number;

  @Field(() => String, { nullable: true, description: 'What it was measured on, e.g. "holdout 2026-10"' })
  dataset?: string | null;
}

@InputType({ description: 'A metric measured on one slice of the data (a segment, a language, a region...)' })
export class ModelCardSliceMetricInput {
  @Field()
  slice: string;

  @Field()
  metric: string;

  @Field(() => Float)
  value: number;

  @Field(() => Int, { nullable: true, description: 'Examples in the slice' })
  n?: number | null;
}

@InputType()
export class ModelCardEvaluationInput {
  @Field(() => [ModelCardMetricInput], {
    nullable: true,
    description:
      'Omitted: the latest value of each metric of the run that produced the version (or the metrics it was registered with)',
  })
  metrics?: ModelCardMetricInput[] | null;

  @Field(() => [ModelCardSliceMetricInput], { nullable: true })
  slices?: ModelCardSliceMetricInput[] | null;
}

@InputType({ description: 'A model card; it replaces the version’s card as a whole' })
export class ModelCardInput implements ModelCardInputLike {
  @Field(() => String, { nullable: true })
  intendedUse?: string | null;

  @Field(() => [String], { nullable: true })
  outOfScopeUses?: string[] | null;

  @Field(() => ModelCardTrainingDataInput, { nullable: true })
  trainingData?: ModelCardTrainingDataInput | null;

  @Field(() => ModelCardEvaluationInput, { nullable: true })
  evaluation?: ModelCardEvaluationInput | null;

  @Field(() => String, { nullable: true })
  ethicalConsiderations?: string | null;

  @Field(() => [String], { nullable: true })
  limitations?: string[] | null;

  @Field(() => [String], { nullable: true, description: 'People or teams accountable: emails or names' })
  owners?: string[] | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description:
      'Free-form material beyond the sections. Omitted: what the previous card held beyond its sections is kept',
  })
  extra?: Record<string, unknown> | null;
}

@ObjectType({ description: 'A dataset version a model card links to' })
export class ModelCardDataset implements CardDatasetLink {
  @Field(() => ID)
  datasetVersionId: string;

  @Field(() => ID)
  datasetId: string;

  @Field()
  name: string;

  @Field(() => Int)
  version: number;

  @Field()
  sha256: string;
}

@ObjectType()
export class ModelCardTrainingData {
  @Field(() => String, { nullable: true })
  description: string | null;

  @Field(() => [ID], { description: 'Lineage links, as stored' })
  datasetVersionIds: string[];

  @Field(() => [ModelCardDataset], { description: 'The linked dataset versions that still exist' })
  datasets: ModelCardDataset[];
}

@ObjectType()
export class ModelCardMetric implements CardMetric {
  @Field()
  name: string;

  @Field(() => Float)
  value: number;

  @Field(() => String, { nullable: true })
  dataset: string | null;
}

@ObjectType()
export class ModelCardSliceMetric implements CardSliceMetric {
  @Field()
  slice: string;

  @Field()
  metric: string;

  @Field(() => Float)
  value: number;

  @Field(() => Int, { nullable: true })
  n: number | null;
}

@ObjectType()
export class ModelCardEvaluation implements CardEvaluation {
  @Field(() => [ModelCardMetric])
  metrics: ModelCardMetric[];

  @Field(() => [ModelCardSliceMetric])
  slices: ModelCardSliceMetric[];

  @Field(() => ModelCardMetricSource, { nullable: true })
  source: ModelCardMetricSource | null;

  @Field(() => ID, { nullable: true, description: 'The run the metrics were read from' })
  runId: string | null;
}

@ObjectType({ description: 'A model card as structured data' })
export class ModelCard {
  @Field(() => String, { nullable: true })
  intendedUse: string | null;

  @Field(() => [String])
  outOfScopeUses: string[];

  @Field(() => ModelCardTrainingData)
  trainingData: ModelCardTrainingData;

  @Field(() => ModelCardEvaluation)
  evaluation: ModelCardEvaluation;

  @Field(() => String, { nullable: true })
  ethicalConsiderations: string | null;

  @Field(() => [String])
  limitations: string[];

  @Field(() => [String])
  owners: string[];

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description:
      'Everything beyond the sections, kept as given (free-form cards keep their unknown keys here)',
  })
  extra: Record<string, unknown> | null;
}

@ObjectType({ description: 'A model version’s card, its completeness and its Markdown export' })
export class ModelCardView {
  @Field(() => ID)
  versionId: string;

  @Field(() => ModelCard)
  card: ModelCard;

  @Field({ description: 'Every required section is filled in (what a HIGH-risk deployment needs)' })
  complete: boolean;

  @Field(() => [String], { description: 'The required sections missing, in card order' })
  missing: string[];

  @Field({
    description: 'The card rendered as Markdown; stable (dated by the version’s registration, not now)',
  })
  markdown: string;
}
