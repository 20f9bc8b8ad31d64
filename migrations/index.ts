import { Initial1795512307292 } from './1795512307292-Initial';

/** Every migration, oldest first. `npm run migration:generate -- <Name>` rewrites this list. */
export const migrations = [Initial1795512307292];
