import { Resolver } from 'type-graphql';
import type { Services } from '../../server/services';

@Resolver()
export class DatasetResolver {
  constructor(private readonly services: Services) {}
}
