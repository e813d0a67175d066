/**
 * Authentication and authorization as one request guard, so handlers ask "who is this and may they
 * do that" without knowing about certificates, TokenReview or SubjectAccessReview.
 */
import type { IncomingMessage } from 'node:http';
import { SyncflowError } from '../../core/errors.ts';
import { EXECUTION_GROUP, VERSION } from '../../core/model/resources.ts';
import {
  authRequestFrom,
  forbiddenMessage,
  type Authenticator,
  type Authorizer,
  type ResourceAttributes,
} from '../auth/index.ts';
import type { UserInfo } from '../auth/user.ts';

/** What a request wants to do, in SubjectAccessReview terms. */
export interface ResourceRequest {
  verb: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** Identifies and authorizes callers. */
export interface RequestGuard {
  /** The caller; throws `SyncflowError('Unauthorized')` for missing or bad credentials. */
  authenticate(req: IncomingMessage): Promise<UserInfo>;
  /** Throws `SyncflowError('Forbidden')` with Kubernetes' wording when the user may not. */
  authorize(user: UserInfo, request: ResourceRequest): Promise<void>;
  /** The same for a non-resource path such as `/metrics`. */
  authorizePath(user: UserInfo, request: { verb: string; path: string }): Promise<void>;
}

/** The API version path served by this server. */
export const API_PREFIX = `/apis/${EXECUTION_GROUP}/${VERSION}`;

/** A guard that lets everyone in as one user: for the local CLI and unit tests only. */
export class TrustingGuard implements RequestGuard {
  constructor(
    private readonly user: UserInfo = { username: 'local', groups: ['system:authenticated'], extra: {} },
  ) {}
  async authenticate(): Promise<UserInfo> {
    return this.user;
  }
  async authorize(): Promise<void> {}
  async authorizePath(): Promise<void> {}
}

/** The guard of the real server: the delegating authenticator and authorizer of the auth module. */
export class DelegatingGuard implements RequestGuard {
  constructor(
    private readonly authenticator: Authenticator,
    private readonly authorizer: Authorizer,
  ) {}

  async authenticate(req: IncomingMessage): Promise<UserInfo> {
    const user = await this.authenticator.authenticate(authRequestFrom(req));
    if (!user)
      throw new SyncflowError(
        'Unauthorized',
        'Unauthorized: no client certificate or bearer token was presented',
      );
    return user;
  }

  async authorize(user: UserInfo, request: ResourceRequest): Promise<void> {
    const attrs: ResourceAttributes = {
      group: EXECUTION_GROUP,
      version: VERSION,
      verb: request.verb,
      resource: request.resource,
    };
    if (request.subresource !== undefined) attrs.subresource = request.subresource;
    if (request.namespace !== undefined) attrs.namespace = request.namespace;
    if (request.name !== undefined) attrs.name = request.name;
    const decision = await this.authorizer.authorize(user, attrs);
    if (!decision.allowed) {
      const object = `${request.resource}.${EXECUTION_GROUP}${request.name ? ` "${request.name}"` : ''}`;
      throw new SyncflowError(
        'Forbidden',
        `${object} is forbidden: ${forbiddenMessage(user, attrs, decision.reason)}`,
      );
    }
  }

  async authorizePath(user: UserInfo, request: { verb: string; path: string }): Promise<void> {
    const decision = await this.authorizer.authorize(user, request);
    if (!decision.allowed)
      throw new SyncflowError('Forbidden', `forbidden: ${forbiddenMessage(user, request, decision.reason)}`);
  }
}
