import { expect } from 'chai';
import express from 'express';
import { createServer, type Server } from 'node:http';
import { SyncflowError } from '../../../core/errors.ts';
import type { BreakerStatus } from '../../../core/engine/breaker.ts';
import type { UserInfo } from '../../auth/user.ts';
import { type RequestGuard, type ResourceRequest } from '../../http/guard.ts';
import { circuitBreakerRoutes } from './rest.ts';

const SETTINGS = {
  failureRatio: 0.5,
  minimumRequests: 4,
  windowMs: 10_000,
  openForMs: 5_000,
  halfOpenProbes: 1,
  key: 'k',
};
const OPENED = Date.parse('2026-12-01T10:00:00Z');
const STATES: BreakerStatus[] = [
  {
    origin: 'http://users.svc:8080',
    state: 'open',
    failureRatio: 0,
    requests: 0,
    openedAt: OPENED,
    settings: SETTINGS,
  },
  { origin: 'https://pay.example', state: 'closed', failureRatio: 0.25, requests: 8, settings: SETTINGS },
];

/** A guard that records what it was asked and refuses users named `bob`. */
class RecordingGuard implements RequestGuard {
  asked: ResourceRequest[] = [];
  constructor(private readonly name = 'alice') {}
  async authenticate(): Promise<UserInfo> {
    return { username: this.name, groups: [], extra: {} };
  }
  async authorizePath(): Promise<void> {}
  async authorize(user: UserInfo, request: ResourceRequest): Promise<void> {
    this.asked.push(request);
    if (user.username === 'bob') throw new SyncflowError('Forbidden', 'bob cannot list circuitbreakers');
  }
}

describe('circuitbreakers (read-only, cluster-scoped)', () => {
  let server: Server;
  let base: string;
  let guard: RecordingGuard;

  const start = async (name = 'alice') => {
    guard = new RecordingGuard(name);
    const app = express();
    app.use(
      '/apis/execution.syncflow.io/v1alpha1',
      circuitBreakerRoutes({ guard, breakers: { states: () => STATES }, replica: 'syncflow-0' }),
    );
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}/apis/execution.syncflow.io/v1alpha1`;
  };

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('lists every breaker of the answering replica: origin, state, failure ratio, calls, opened at, settings', async () => {
    await start();
    const res = await fetch(`${base}/circuitbreakers`);
    expect(res.status).to.equal(200);
    const list = (await res.json()) as { kind: string; items: Array<Record<string, unknown>> };
    expect(list.kind).to.equal('CircuitBreakerList');
    expect(guard.asked).to.deep.equal([{ verb: 'list', resource: 'circuitbreakers' }]);
    expect(list.items.map((i) => (i.metadata as { name: string }).name)).to.deep.equal([
      'http-users.svc-8080',
      'https-pay.example',
    ]);
    expect(list.items[0]).to.deep.include({
      apiVersion: 'execution.syncflow.io/v1alpha1',
      kind: 'CircuitBreaker',
      origin: 'http://users.svc:8080',
      replica: 'syncflow-0',
      state: 'open',
      failureRatio: 0,
      requests: 0,
      openedAt: '2026-12-01T10:00:00.000Z',
      settings: {
        failureRatio: 0.5,
        minimumRequests: 4,
        windowMs: 10_000,
        openForMs: 5_000,
        halfOpenProbes: 1,
      },
    });
    expect(list.items[1]).to.not.have.property('openedAt');
  });

  it('prints a Table for kubectl: NAME, ORIGIN, STATE, FAILURE RATIO, OPENED AT, REPLICA', async () => {
    await start();
    const res = await fetch(`${base}/circuitbreakers`, {
      headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' },
    });
    const table = (await res.json()) as {
      kind: string;
      columnDefinitions: { name: string }[];
      rows: { cells: unknown[] }[];
    };
    expect(table.kind).to.equal('Table');
    expect(table.columnDefinitions.map((c) => c.name)).to.deep.equal([
      'Name',
      'Origin',
      'State',
      'Failure Ratio',
      'Opened At',
      'Replica',
      'Requests',
    ]);
    expect(table.rows.map((r) => r.cells)).to.deep.equal([
      [
        'http-users.svc-8080',
        'http://users.svc:8080',
        'open',
        '0%',
        '2026-12-01T10:00:00.000Z',
        'syncflow-0',
        0,
      ],
      ['https-pay.example', 'https://pay.example', 'closed', '25%', null, 'syncflow-0', 8],
    ]);
  });

  it('refuses a watch with 405 naming the fix, and a user RBAC refuses with 403', async () => {
    await start();
    const watch = await fetch(`${base}/circuitbreakers?watch=true`);
    expect(watch.status).to.equal(405);
    expect(((await watch.json()) as { message: string }).message).to.match(/cannot be watched; list them/);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await start('bob');
    const refused = await fetch(`${base}/circuitbreakers`);
    expect(refused.status).to.equal(403);
    expect(((await refused.json()) as { kind: string }).kind).to.equal('Status');
  });
});
