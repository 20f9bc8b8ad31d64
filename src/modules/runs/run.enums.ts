// The run module's enums that other modules use, apart from the entity so that they may import them.
import { registerEnumType } from 'type-graphql';

export enum RunKind {
  TRAINING = 'TRAINING',
  EVALUATION = 'EVALUATION',
  DATA_PREPARATION = 'DATA_PREPARATION',
  BATCH_SCORING = 'BATCH_SCORING',
  OTHER = 'OTHER',
}
registerEnumType(RunKind, { name: 'RunKind' });
