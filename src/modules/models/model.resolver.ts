import { Resolver } from 'type-graphql';
import type { Services } from '../../server/services';

@Resolver()
export class ModelResolver {
  constructor(private readonly services: Services) {}
}
