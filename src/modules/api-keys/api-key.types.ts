import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { Role } from '../../common/role';
import { ApiKey } from './api-key.entity';

@InputType()
export class CreateApiKeyInput {
  @Field()
  name: string;

  @Field(() => Role)
  role: Role;

  @Field(() => [ID], { nullable: true, description: 'Limit the key to these projects; omit for all' })
  projectIds?: string[] | null;

  @Field(() => Date, { nullable: true })
  expiresAt?: Date | null;
}

@ObjectType()
export class CreatedApiKey {
  @Field(() => ApiKey)
  key: ApiKey;

  @Field({ description: 'The whole key. It is shown this once and cannot be recovered.' })
  secret: string;
}

@ObjectType({ description: 'Who is calling' })
export class Me {
  @Field(() => ID)
  keyId: string;

  @Field()
  name: string;

  @Field(() => Role)
  role: Role;

  @Field(() => [ID], { nullable: true })
  projectIds: string[] | null;
}
