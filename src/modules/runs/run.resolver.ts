import { Resolver } from 'type-graphql';
import type { Services } from '../../server/services';

@Resolver()
export class RunResolver {
  constructor(private readonly services: Services) {}
}
