/** Definition objects and AdmissionReviews for the admission tests, as kube-apiserver sends them. */
import type { LiveDefinitions, StoredDefinition } from '../definitions.ts';
import type { SecretDirectory } from '../secrets.ts';

export const NS = 'shop';

/** get-user: userId → {id, email: string}. */
export function getUser(
  overrides: {
    email?: string;
    extra?: Record<string, unknown>;
    secrets?: unknown[];
    timeout?: string;
    maxAttempts?: number;
  } = {},
): StoredDefinition {
  return {
    kind: 'WorkflowTask',
    metadata: { name: 'get-user', namespace: NS, resourceVersion: '1', generation: 1 },
    spec: {
      inputSchema: { type: 'object', required: ['userId'], properties: { userId: { type: 'string' } } },
      outputSchema: {
        type: 'object',
        required: ['id', 'email'],
        properties: {
          id: { type: 'string' },
          email: { type: overrides.email ?? 'string' },
          ...(overrides.extra ?? {}),
        },
      },
      http: {
        method: 'GET',
        url: 'http://users.shop.svc/users/{{input.userId}}',
        ...(overrides.secrets ? { headers: { Authorization: 'Bearer {{secrets.token}}' } } : {}),
      },
      ...(overrides.secrets ? { secrets: overrides.secrets } : {}),
      ...(overrides.timeout ? { timeout: overrides.timeout } : {}),
      ...(overrides.maxAttempts ? { retry: { maxAttempts: overrides.maxAttempts } } : {}),
    },
  };
}

/** notify: needs {email: string}. */
export function notify(): StoredDefinition {
  return {
    kind: 'WorkflowTask',
    metadata: { name: 'notify', namespace: NS, resourceVersion: '1', generation: 1 },
    spec: {
      inputSchema: { type: 'object', required: ['email'], properties: { email: { type: 'string' } } },
      http: { method: 'POST', url: 'http://notify.shop.svc/send', body: { to: '{{input.email}}' } },
      retry: { retryNonIdempotent: true },
    },
  };
}

/** profile: get-user then notify with the user's email. */
export function profile(
  name = 'profile',
  steps?: unknown[],
  extra: Record<string, unknown> = {},
): StoredDefinition {
  return {
    kind: 'Workflow',
    metadata: { name, namespace: NS, resourceVersion: '1', generation: 1 },
    spec: {
      inputSchema: { type: 'object', required: ['userId'], properties: { userId: { type: 'string' } } },
      tasks: steps ?? [
        { id: 'user', taskRef: { name: 'get-user' }, input: { userId: '{{input.userId}}' } },
        { id: 'mail', taskRef: { name: 'notify' }, input: { email: '{{tasks.user.output.email}}' } },
      ],
      ...extra,
    },
  };
}

/** An AdmissionReview v1 request body. */
export function review(
  kind: 'Workflow' | 'WorkflowTask',
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT',
  objects: { object?: StoredDefinition; oldObject?: StoredDefinition; name?: string; dryRun?: boolean },
): Record<string, unknown> {
  const name = objects.name ?? objects.object?.metadata.name ?? objects.oldObject?.metadata.name;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'b3f1c9e2-0000-4000-8000-000000000001',
      kind: { group: 'syncflow.io', version: 'v1alpha1', kind },
      resource: {
        group: 'syncflow.io',
        version: 'v1alpha1',
        resource: kind === 'Workflow' ? 'workflows' : 'workflowtasks',
      },
      name,
      namespace: NS,
      operation,
      userInfo: { username: 'alice' },
      object: objects.object ?? null,
      oldObject: objects.oldObject ?? null,
      dryRun: objects.dryRun ?? false,
    },
  };
}

/** Live reads served from a map, recording what was asked. */
export class FakeLive implements LiveDefinitions {
  readonly tasks = new Map<string, StoredDefinition>();
  workflows: StoredDefinition[] = [];
  listFailure: Error | undefined;
  readonly asked: string[] = [];
  async getTask(_namespace: string, name: string) {
    this.asked.push(name);
    return this.tasks.get(name);
  }
  async listWorkflows() {
    if (this.listFailure) throw this.listFailure;
    return this.workflows;
  }
}

/** Secrets by name with their key names; a name mapped to an Error fails. */
export class FakeSecrets implements SecretDirectory {
  constructor(readonly secrets: Record<string, string[] | Error>) {}
  async keysOf(_namespace: string, name: string) {
    const found = this.secrets[name];
    if (found instanceof Error) throw found;
    return found;
  }
}
