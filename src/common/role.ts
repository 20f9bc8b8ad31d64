import { registerEnumType } from 'type-graphql';

/**
 * What an API key may do; see `src/auth/abilities.ts` for the exact rules. Here, not beside the key's
 * entity, because configuration (rate limits per role) and authorization read it below the modules.
 */
export enum Role {
  VIEWER = 'VIEWER',
  ANALYST = 'ANALYST',
  DATA_SCIENTIST = 'DATA_SCIENTIST',
  ML_ENGINEER = 'ML_ENGINEER',
  APPROVER = 'APPROVER',
  /** Reads everything in its projects, the audit trail included, and changes nothing. */
  AUDITOR = 'AUDITOR',
  ADMIN = 'ADMIN',
  BOT = 'BOT',
}
registerEnumType(Role, { name: 'Role' });
