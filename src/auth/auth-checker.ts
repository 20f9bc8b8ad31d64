import { Authorized, type AuthChecker } from 'type-graphql';
import { ForbiddenError, UnauthenticatedError } from '../common/errors';
import type { RequestContext } from '../context/context';
import type { Action, Subject } from './abilities';

/**
 * `@Authorized()` admits any principal; `@Can('create', 'Model')` also requires the ability to do that
 * somewhere. Services then check the object itself (its project).
 */
export const authChecker: AuthChecker<RequestContext> = ({ context }, rules) => {
  const principal = context.principal;
  if (!principal) throw new UnauthenticatedError();
  for (const rule of rules) {
    const [action, subject] = rule.split(':') as [Action, Subject];
    if (!context.can(action, subject)) {
      throw new ForbiddenError(`${principal.role} key "${principal.name}" may not ${action} ${subject}`);
    }
  }
  return true;
};

/** `@Authorized` with the permission it needs, in the CASL vocabulary. */
export const Can = (action: Action, subject: Subject): MethodDecorator & PropertyDecorator =>
  Authorized(`${action}:${subject}`);
