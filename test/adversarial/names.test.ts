/**
 * Adversarial: concurrency on execution names (create and patch). Through the real
 * application (buildApp), the real engine calling a counting upstream over HTTP, and the real
 * history (embedded PGlite): a name is reserved before anything runs, so of N concurrent creates
 * with one name exactly one runs and the rest get 409 without calling anything; generated names
 * that collide (forced with a deterministic random source) are generated again, and every
 * acknowledged execution ends up in the history.
 */
import { expect } from 'chai';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { Registry } from 'prom-client';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import { aliasResolver } from '../../adapters/egress/host-aliases.ts';
import { DagExecutor } from '../../core/engine/executor.ts';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import { buildApp } from '../../apiserver/app.ts';
import { oneTaskCatalog } from '../../core/definitions/testdata/one-task-catalog.ts';
import { ExecutionService } from '../../apiserver/execution/service.ts';
import { ExecutionWriter, openHistory, type History } from '../../history/index.ts';
import { RecordingLogger } from '../../history/testing.ts';
import { TrustingGuard } from '../../apiserver/http/guard.ts';
import { StaticSecrets } from '../../kube/secret-resolver.ts';

const UPSTREAM_HOST = 'counter.names.test';
const UPSTREAM_ADDRESS = '127.0.0.1';
const NAMESPACE = 'names';
const EXECUTIONS = `/apis/execution.syncflow.io/v1alpha1/namespaces/${NAMESPACE}/workflowexecutions`;
// generateName's alphabet (core/model/execution.ts): a suffix is forced by returning each letter's slot.
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** A random source that yields the given name suffixes in order, then a seeded sequence. */
class ScriptedRandom {
  private values: number[] = [];
  private seed = 7;
  calls = 0;
  script(...suffixes: string[]): void {
    for (const suffix of suffixes)
      for (const c of suffix) this.values.push((ALPHABET.indexOf(c) + 0.5) / ALPHABET.length);
  }
  readonly next = (): number => {
    this.calls++;
    const scripted = this.values.shift();
    if (scripted !== undefined) return scripted;
    this.seed = (this.seed * 48271) % 2147483647;
    return this.seed / 2147483647;
  };
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  json: {
    metadata?: { name?: string; uid?: string };
    reason?: string;
    code?: number;
    message?: string;
    details?: { causes?: { field: string }[] };
  };
}

describe('adversarial: execution names', function () {
  this.timeout(60_000);
  let history: History;
  let upstream: Server;
  let server: Server;
  let port: number;
  /** A second replica: its own service, names and history writer, on the same database. */
  let replica: { server: Server; port: number; writer: ExecutionWriter };
  let upstreamCalls = 0;
  const logger = new RecordingLogger();
  const random = new ScriptedRandom();

  function send(
    method: string,
    path: string,
    body: unknown,
    contentType = 'application/json',
    to = port,
  ): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: to, method, path, headers: { 'content-type': contentType } },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString('utf8')));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              json: text ? JSON.parse(text) : {},
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  }
  const create = (metadata: Record<string, unknown>, to = port) =>
    send(
      'POST',
      EXECUTIONS,
      {
        apiVersion: 'execution.syncflow.io/v1alpha1',
        kind: 'WorkflowExecution',
        metadata,
        spec: { workflowRef: { name: 'count' }, input: {} },
      },
      'application/json',
      to,
    );
  const notRecorded = () => logger.entries.filter((e) => /not recorded|another name/.test(e.message));

  before(async function () {
    // Starting embedded PGlite (WebAssembly) takes seconds on a loaded 2-core machine.
    this.timeout(120_000);
    // The upstream answers after 50 ms, so that concurrent creates really overlap.
    upstream = createServer((_req, res) => {
      upstreamCalls++;
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'), 50);
    });
    await new Promise<void>((resolve) => upstream.listen(0, UPSTREAM_ADDRESS, resolve));
    const upstreamPort = (upstream.address() as { port: number }).port;
    history = await openHistory({
      logger,
      registry: new Registry(),
      retention: false,
      watchPollIntervalMs: 20,
    });
    const catalog = oneTaskCatalog({
      namespace: NAMESPACE,
      task: 'count',
      workflow: 'count',
      step: 'call',
      url: `http://${UPSTREAM_HOST}:${upstreamPort}/`,
    });
    const http = new UndiciTaskClient({
      policy: new EgressPolicy(
        { allowLoopback: true },
        aliasResolver(new Map([[UPSTREAM_HOST, UPSTREAM_ADDRESS]])),
      ),
    });
    const service = new ExecutionService({
      catalog,
      executor: new DagExecutor({ http }),
      history: history.writer,
      store: history.store,
      secrets: new StaticSecrets(new Map()),
      random: random.next,
    });
    server = createServer(
      buildApp({
        service,
        store: history.store,
        guard: new TrustingGuard(),
        registry: new Registry(),
        maxInFlight: 256,
        readiness: [],
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    const writer = new ExecutionWriter({ sink: history.store, logger });
    const other = new ExecutionService({
      catalog,
      executor: new DagExecutor({ http }),
      history: writer,
      store: history.store,
      secrets: new StaticSecrets(new Map()),
    });
    const otherServer = createServer(
      buildApp({
        service: other,
        store: history.store,
        guard: new TrustingGuard(),
        registry: new Registry(),
        maxInFlight: 256,
        readiness: [],
      }),
    );
    await new Promise<void>((resolve) => otherServer.listen(0, '127.0.0.1', resolve));
    replica = { server: otherServer, port: (otherServer.address() as { port: number }).port, writer };
  });

  after(async () => {
    for (const s of [server, replica?.server]) {
      s?.closeAllConnections();
      if (s) await new Promise((resolve) => s.close(resolve));
    }
    await replica?.writer.close();
    await history?.close();
    upstream?.closeAllConnections();
    if (upstream) await new Promise((resolve) => upstream.close(resolve));
  });

  for (const n of [10, 50]) {
    it(`runs exactly one of ${n} concurrent creates with the same name; the others get 409 AlreadyExists and call nothing`, async () => {
      const name = `same-${n}`;
      const callsBefore = upstreamCalls;
      const replies = await Promise.all(Array.from({ length: n }, () => create({ name })));
      const created = replies.filter((r) => r.status === 201);
      const refused = replies.filter((r) => r.status === 409);
      expect(created, 'exactly one 201').to.have.length(1);
      expect(refused, 'all others 409').to.have.length(n - 1);
      for (const r of refused) {
        expect(r.json.reason).to.equal('AlreadyExists');
        expect(r.json.message).to.contain(`"${name}" already exists`);
      }
      expect(upstreamCalls - callsBefore, 'the upstream is called once').to.equal(1);
      // A create after the first has finished is refused too (the history has it by now).
      expect((await create({ name })).status).to.equal(409);
      expect(upstreamCalls - callsBefore).to.equal(1);
      await history.writer.flush();
      const stored = await history.store.get(NAMESPACE, name);
      expect(stored?.metadata.uid).to.equal(created[0]?.json.metadata?.uid);
      expect(notRecorded()).to.deep.equal([]);
    });
  }

  it('accepts a name again once its execution is deleted, as Kubernetes does', async () => {
    expect((await create({ name: 'reused' })).status).to.equal(201);
    expect((await create({ name: 'reused' })).status).to.equal(409);
    expect((await send('DELETE', `${EXECUTIONS}/reused`, undefined)).status).to.equal(200);
    expect((await create({ name: 'reused' })).status).to.equal(201);
  });

  it('runs exactly one of 20 concurrent creates with one name sent to two replicas of one database', async () => {
    const callsBefore = upstreamCalls;
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        create({ name: 'two-replicas' }, i % 2 === 0 ? port : replica.port),
      ),
    );
    expect(
      replies.filter((r) => r.status === 201),
      'exactly one 201',
    ).to.have.length(1);
    expect(replies.filter((r) => r.status === 409 && r.json.reason === 'AlreadyExists')).to.have.length(19);
    expect(upstreamCalls - callsBefore, 'the upstream is called once').to.equal(1);
    await Promise.all([history.writer.flush(), replica.writer.flush()]);
    expect((await history.store.get(NAMESPACE, 'two-replicas'))?.metadata.uid).to.equal(
      replies.find((r) => r.status === 201)?.json.metadata?.uid,
    );
    expect(notRecorded()).to.deep.equal([]);
  });

  it('generates again when a generated name is taken by a running, queued or stored execution, and records every one', async () => {
    // A stored execution holds gen-bbbbb.
    random.script('bbbbb');
    const first = await create({ generateName: 'gen-' });
    expect(first.json.metadata?.name).to.equal('gen-bbbbb');
    await history.writer.flush();
    const callsBefore = upstreamCalls;
    const randomCallsBefore = random.calls;
    // Twenty concurrent creates whose candidates collide with the stored name and with each other.
    random.script('bbbbb', 'ccccc', 'ccccc', 'ddddd', 'bbbbb', 'fffff', 'ddddd', 'ggggg');
    const replies = await Promise.all(Array.from({ length: 20 }, () => create({ generateName: 'gen-' })));
    expect(replies.map((r) => r.status)).to.deep.equal(Array(20).fill(201));
    const names = replies.map((r) => r.json.metadata?.name as string);
    expect(new Set(names).size, 'twenty distinct names').to.equal(20);
    expect(names).to.not.include('gen-bbbbb');
    expect(random.calls - randomCallsBefore, 'candidates were drawn again').to.be.greaterThan(20 * 5);
    expect(upstreamCalls - callsBefore, 'each create ran once').to.equal(20);
    await history.writer.flush();
    for (const r of replies) {
      const stored = await history.store.get(NAMESPACE, r.json.metadata?.name as string);
      expect(stored?.metadata.uid, `${r.json.metadata?.name} is in the history`).to.equal(
        r.json.metadata?.uid,
      );
    }
    expect((await history.store.get(NAMESPACE, 'gen-bbbbb'))?.metadata.uid).to.equal(
      first.json.metadata?.uid,
    );
    expect(notRecorded()).to.deep.equal([]);
  });

  it('records a gateway execution whose generated name is taken under a fresh name', async () => {
    const gateway = async () => {
      const reply = await send('POST', `/run/v1/namespaces/${NAMESPACE}/workflows/count`, {});
      expect(reply.status).to.equal(200);
      return String(reply.headers['syncflow-execution']).split('/')[1] as string;
    };
    random.script('bbbbb');
    const first = await gateway();
    expect(first).to.equal('count-bbbbb');
    await history.writer.flush();
    const callsBefore = upstreamCalls;
    random.script('bbbbb');
    const second = await gateway();
    expect(second)
      .to.match(/^count-[a-z0-9]{5}$/)
      .and.not.equal(first);
    expect(upstreamCalls - callsBefore).to.equal(1);
    await history.writer.flush();
    expect(await history.store.get(NAMESPACE, first)).to.not.equal(undefined);
    expect(await history.store.get(NAMESPACE, second)).to.not.equal(undefined);
    expect(notRecorded()).to.deep.equal([]);
  });

  it('answers a JSON or merge patch naming __proto__ or constructor/prototype with 422 Invalid, not 500', async () => {
    const created = await create({ name: 'patched' });
    expect(created.status).to.equal(201);
    const cases: [string, unknown, string][] = [
      [
        'application/json-patch+json',
        [{ op: 'add', path: '/__proto__/polluted', value: true }],
        'patch[0].path',
      ],
      [
        'application/json-patch+json',
        [{ op: 'replace', path: '/constructor/prototype/polluted', value: true }],
        'patch[0].path',
      ],
      [
        'application/merge-patch+json',
        JSON.parse('{"metadata":{"__proto__":{"polluted":true}}}'),
        'metadata.__proto__',
      ],
      [
        'application/strategic-merge-patch+json',
        { constructor: { prototype: { polluted: true } } },
        'constructor',
      ],
    ];
    for (const [type, patch, field] of cases) {
      const reply = await send('PATCH', `${EXECUTIONS}/patched`, patch, type);
      expect(reply.status, `${type} ${JSON.stringify(patch)}`).to.equal(422);
      expect(reply.json.reason).to.equal('Invalid');
      expect(reply.json.details?.causes?.map((c) => c.field)).to.include(field);
    }
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
  });
});
