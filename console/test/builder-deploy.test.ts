import { expect } from 'chai';
import { ApiError } from '../src/api/client.ts';
import type { Workflow, WorkflowTask } from '../src/api/types.ts';
import {
  DeployError,
  deployDefinitions,
  retryWhenOverloaded,
  type DefinitionsApi,
} from '../src/builder/deploy.ts';

/** A fake API server holding objects by path; `refuse` answers a path's writes with a webhook denial. */
function fakeApi(stored: Record<string, unknown>, refuse?: string) {
  const calls: string[] = [];
  const api: DefinitionsApi = {
    async get<T>(path: string) {
      calls.push(`GET ${path}`);
      if (!(path in stored)) throw new ApiError(404, { message: 'not found' });
      return stored[path] as T;
    },
    async create<T>(path: string, body: unknown, query?: Record<string, string>) {
      calls.push(`POST ${path}${query?.dryRun ? ' dryRun' : ''}`);
      if (refuse && path.startsWith(refuse))
        throw new ApiError(422, { message: 'admission webhook denied: breaks x' });
      return body as T;
    },
    async replace<T>(path: string, body: unknown, query?: Record<string, string>) {
      calls.push(
        `PUT ${path}${query?.dryRun ? ' dryRun' : ''} rv=${(body as Workflow).metadata.resourceVersion}`,
      );
      if (refuse && path.startsWith(refuse))
        throw new ApiError(422, { message: 'admission webhook denied: breaks x' });
      return body as T;
    },
  };
  return { api, calls };
}

const W = '/apis/syncflow.io/v1alpha1/namespaces/shop/workflows';
const T = '/apis/syncflow.io/v1alpha1/namespaces/shop/workflowtasks';
const task = {
  apiVersion: 'syncflow.io/v1alpha1',
  kind: 'WorkflowTask',
  metadata: { name: 't' },
  spec: { http: { method: 'GET', url: 'http://x' } },
} as WorkflowTask;
const workflow = {
  apiVersion: 'syncflow.io/v1alpha1',
  kind: 'Workflow',
  metadata: { name: 'w' },
  spec: { tasks: [{ id: 'a', taskRef: { name: 't' } }] },
} as Workflow;

describe('deployDefinitions (the builder deploys)', () => {
  it('sends each object as a server-side dry run before creating it, tasks before the workflow', async () => {
    const { api, calls } = fakeApi({});
    const done = await deployDefinitions(api, 'shop', [workflow, task]);
    expect(calls).to.deep.equal([
      `GET ${T}/t`,
      `POST ${T} dryRun`,
      `POST ${T}`,
      `GET ${W}/w`,
      `POST ${W} dryRun`,
      `POST ${W}`,
    ]);
    expect(done.map((d) => d.action)).to.deep.equal(['created', 'created']);
  });

  it('replaces an existing object with its resourceVersion, and leaves an identical one alone', async () => {
    const { api, calls } = fakeApi({
      [`${W}/w`]: { ...workflow, metadata: { name: 'w', resourceVersion: '7' }, spec: { tasks: [] } },
      [`${T}/t`]: task,
    });
    const done = await deployDefinitions(api, 'shop', [task, workflow]);
    expect(calls).to.deep.equal([`GET ${T}/t`, `GET ${W}/w`, `PUT ${W}/w dryRun rv=7`, `PUT ${W}/w rv=7`]);
    expect(done.map((d) => d.action)).to.deep.equal(['unchanged', 'updated']);
  });

  it("stops at a refused dry run, changes nothing, and carries the webhook's message", async () => {
    const { api, calls } = fakeApi({}, W);
    const error = await deployDefinitions(api, 'shop', [workflow]).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(DeployError);
    expect((error as DeployError).stage).to.equal('dry-run');
    expect((error as DeployError).message)
      .to.contain('Workflow/w')
      .and.contain('admission webhook denied: breaks x');
    expect(calls).to.deep.equal([`GET ${W}/w`, `POST ${W} dryRun`]);
  });
});

describe('retryWhenOverloaded', () => {
  const noWait = { sleep: async () => undefined };
  it('tries again while the server sheds load (429, 503), then answers', async () => {
    const answers = [
      new ApiError(503, { message: 'overloaded' }),
      new ApiError(429, { message: 'slow down' }),
      'ok',
    ];
    let calls = 0;
    const result = await retryWhenOverloaded(async () => {
      const next = answers[calls++];
      if (next instanceof Error) throw next;
      return next;
    }, noWait);
    expect(result).to.equal('ok');
    expect(calls).to.equal(3);
  });

  it('gives up after the last attempt, and never retries another failure', async () => {
    let calls = 0;
    const overloaded = await retryWhenOverloaded(
      async () => {
        calls++;
        throw new ApiError(503, { message: 'overloaded' });
      },
      { ...noWait, attempts: 3 },
    ).catch((e: unknown) => e);
    expect((overloaded as ApiError).code).to.equal(503);
    expect(calls).to.equal(3);
    calls = 0;
    await retryWhenOverloaded(async () => {
      calls++;
      throw new ApiError(422, { message: 'invalid' });
    }, noWait).catch(() => undefined);
    expect(calls).to.equal(1);
  });
});
