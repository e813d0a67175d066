/** The identity of a caller, as Kubernetes' `user.Info` carries it through authentication and authorization. */
export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  /** Extra attributes (e.g. scopes); keys are lowercase as the front proxy and TokenReview deliver them. */
  extra: Record<string, string[]>;
}

/**
 * The user of a request that carries no credentials at all, as Kubernetes' anonymous authenticator
 * names it. Bad credentials never become anonymous: they are rejected with 401.
 */
export const ANONYMOUS_USER: Readonly<UserInfo> = Object.freeze({
  username: 'system:anonymous',
  groups: Object.freeze(['system:unauthenticated']) as string[],
  extra: Object.freeze({}) as Record<string, string[]>,
});

/** The group Kubernetes adds to every authenticated user. */
export const AUTHENTICATED_GROUP = 'system:authenticated';

/**
 * Adds `system:authenticated` when missing, as Kubernetes' authenticated-group adder does for every
 * authenticator except the anonymous one (the front proxy and TokenReview usually include it already).
 */
export function withAuthenticatedGroup(user: UserInfo): UserInfo {
  if (user.groups.includes(AUTHENTICATED_GROUP) || user.groups.includes('system:unauthenticated'))
    return user;
  // Assigned, not a literal that spreads and adds a key (V8's slow path, microseconds a request).
  const added = Object.assign({}, user);
  added.groups = [...user.groups, AUTHENTICATED_GROUP];
  return added;
}
