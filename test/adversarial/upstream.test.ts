/**
 * Hostile upstreams against the real executor and the real undici client on loopback: deep,
 * huge, trickling, malformed and redirecting answers. Whatever an upstream does, the execution
 * ends Failed with a clear reason, is returned to the caller, and the process keeps running.
 */
import { expect } from 'chai';
import type { ServerResponse } from 'node:http';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import { Cancellation } from '../../core/engine/cancellation.ts';
import type { SecretResolver } from '../../core/engine/collaborators.ts';
import { DagExecutor } from '../../core/engine/executor.ts';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import type { TaskHttpClient } from '../../core/engine/task-http.ts';
import { compileFixture } from '../../core/engine/testdata/fixtures.ts';
import { TestUpstream } from '../../core/engine/testdata/upstream.ts';
import {
  MAX_RESPONSE_BYTES_CEILING,
  type TaskExecutionStatus,
  type WorkflowExecutionStatus,
} from '../../core/model/schema.ts';
import { validateTask } from '../../core/validation/validate.ts';

const SECRET = 'adv-Secret-9f3e1c77';
const secrets: SecretResolver = { resolve: () => SECRET };

/** A task calling `${BASE}<path>` with the secret in `X-Api-Key`, and a one-step workflow around it. */
function oneTask(path: string, extra = '', method = 'GET'): string {
  return `kind: WorkflowTask
metadata: {name: t}
spec:
  http: {method: ${method}, url: "\${BASE}${path}", headers: {X-Api-Key: "{{secrets.key}}"}}
  secrets: [{name: key, secretKeyRef: {name: api, key: key}}]
${extra}
---
kind: Workflow
spec:
  timeout: 10s
  tasks: [{id: t, taskRef: {name: t}}]
`;
}

function only(status: WorkflowExecutionStatus): TaskExecutionStatus {
  return status.tasks?.[0] as TaskExecutionStatus;
}

function nested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

describe('hostile upstreams (real executor, real undici client, loopback)', function () {
  this.timeout(20_000);
  let a: TestUpstream;
  let b: TestUpstream;
  let client: UndiciTaskClient;
  let executor: DagExecutor;
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);

  before(() => process.on('unhandledRejection', onRejection));
  after(() => process.off('unhandledRejection', onRejection));

  beforeEach(async () => {
    rejections.length = 0;
    a = await new TestUpstream().start();
    b = await new TestUpstream().start();
    client = new UndiciTaskClient({ policy: new EgressPolicy({ allowLoopback: true, maxRedirects: 2 }) });
    executor = new DagExecutor({ http: client });
  });

  afterEach(async () => {
    await client.close();
    await a.stop();
    await b.stop();
    // Let any stray rejection surface before judging.
    await new Promise((resolve) => setImmediate(resolve));
    expect(rejections, 'unhandled rejections').to.deep.equal([]);
  });

  describe('deeply nested JSON', () => {
    for (const [depth, withSecret] of [
      [4_000, true],
      [8_000, false],
      [100_000, true],
    ] as const) {
      it(`fails the task (not the process) on ${depth}-deep JSON ${withSecret ? 'with' : 'without'} a secret in use`, async () => {
        a.route('GET /deep', (_req, res) =>
          res.writeHead(200, { 'content-type': 'application/json' }).end(nested(depth)),
        );
        const yaml = withSecret
          ? oneTask('/deep')
          : oneTask('/deep')
              .replace(', headers: {X-Api-Key: "{{secrets.key}}"}', '')
              .replace(/ {2}secrets: .*\n/, '');
        // An observer makes the executor redact each task record as it finishes (where the stack overflowed).
        const observed: unknown[] = [];
        const observer = {
          taskFinished: (e: unknown) => observed.push(e),
          executionFinished: (e: unknown) => observed.push(e),
        };
        const status = await executor.execute(compileFixture(yaml, a.base), {}, { secrets, observer });
        expect(observed).to.have.length(2);
        expect(status.phase).to.equal('Failed');
        expect(only(status).error?.reason).to.equal('InvalidResponse');
        expect(only(status).error?.message).to.match(/nests more than 64 levels/);
        expect(only(status).attempts).to.equal(1);
      });
    }

    it('accepts JSON nested up to the limit', async () => {
      a.route('GET /deep', (_req, res) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(nested(64)),
      );
      const status = await executor.execute(compileFixture(oneTask('/deep'), a.base), {}, { secrets });
      expect(status.phase, status.message).to.equal('Succeeded');
    });
  });

  describe('huge bodies', () => {
    /** Streams `total` bytes of a JSON string in 64 KiB chunks; records how much was written. */
    function streaming(total: number, declare: boolean, written: { bytes: number; closed: boolean }) {
      return (_req: unknown, res: ServerResponse) => {
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        res.writeHead(200, declare ? { 'content-length': String(total) } : {});
        res.on('close', () => (written.closed = true));
        const pump = () => {
          while (written.bytes < total && !res.destroyed) {
            written.bytes += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          if (!res.destroyed) res.end();
        };
        pump();
      };
    }

    it('refuses a body over the ceiling as ResponseTooLarge, not retried, before reading it (declared length)', async () => {
      const written = { bytes: 0, closed: false };
      a.route('GET /huge', streaming(1024 ** 3, true, written));
      const yaml = oneTask('/huge', `  retry: {maxAttempts: 3, retryOn: [connect-error, 5xx]}`);
      const rssBefore = process.memoryUsage().rss;
      const status = await executor.execute(compileFixture(yaml, a.base), {}, { secrets });
      expect(only(status).error?.reason).to.equal('ResponseTooLarge');
      expect(only(status).error?.message).to.contain('response too large');
      expect(only(status).attempts).to.equal(1);
      expect(written.bytes).to.be.below(64 * 1024 ** 2);
      expect(process.memoryUsage().rss - rssBefore).to.be.below(256 * 1024 ** 2);
    });

    it('aborts a streamed (chunked) body as soon as it passes the task limit', async () => {
      const written = { bytes: 0, closed: false };
      a.route('GET /huge', streaming(1024 ** 3, false, written));
      const yaml = oneTask('/huge', '  maxResponseBytes: 1048576');
      const status = await executor.execute(compileFixture(yaml, a.base), {}, { secrets });
      expect(only(status).error?.reason).to.equal('ResponseTooLarge');
      // Socket buffers on both sides hold a few MiB at most; the upstream never got near 1 GiB.
      expect(written.bytes).to.be.below(32 * 1024 ** 2);
    });

    it('refuses a WorkflowTask asking maxResponseBytes above the 64 MiB ceiling, naming the field', () => {
      const doc = {
        apiVersion: 'syncflow.io/v1alpha1',
        kind: 'WorkflowTask',
        metadata: { name: 'greedy', namespace: 'test' },
        spec: { http: { method: 'GET', url: 'http://example.test/x' }, maxResponseBytes: 2 ** 53 },
      };
      const { errors, task } = validateTask(doc);
      expect(task).to.equal(undefined);
      expect(errors.map((e) => [e.field, e.message])).to.deep.equal([
        ['spec.maxResponseBytes', `must be <= ${MAX_RESPONSE_BYTES_CEILING}`],
      ]);
      doc.spec.maxResponseBytes = MAX_RESPONSE_BYTES_CEILING;
      expect(validateTask(doc).errors).to.deep.equal([]);
    });

    it('the client enforces the ceiling even when a caller asks for more', async () => {
      const written = { bytes: 0, closed: false };
      a.route('GET /huge', streaming(MAX_RESPONSE_BYTES_CEILING + 64 * 1024, false, written));
      const clientOnly: TaskHttpClient = client;
      let error: unknown;
      try {
        await clientOnly.send({
          method: 'GET',
          url: `${a.base}/huge`,
          headers: {},
          body: undefined,
          signal: new Cancellation(),
          maxResponseBytes: 2 ** 53,
        });
      } catch (e) {
        error = e;
      }
      expect((error as { code?: string }).code).to.equal('ResponseTooLarge');
    });
  });

  it('times out a body that trickles in, within the task timeout', async () => {
    a.route('GET /slow', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(' ')), 20);
      res.on('close', () => clearInterval(timer));
    });
    const started = Date.now();
    const status = await executor.execute(
      compileFixture(oneTask('/slow', '  timeout: 300ms'), a.base),
      {},
      { secrets },
    );
    expect(Date.now() - started).to.be.below(2_000);
    expect(only(status).error?.reason).to.equal('Timeout');
    expect(only(status).error?.message).to.contain('timed out after 300 ms');
  });

  it('reports malformed JSON as InvalidResponse without echoing the secret', async () => {
    // V8's parse error quotes the start of the text, cut wherever it likes: here inside the secret.
    a.route('GET /bad', (req, res) => res.writeHead(200).end(`{"e": ${String(req.headers['x-api-key'])}}`));
    const status = await executor.execute(compileFixture(oneTask('/bad'), a.base), {}, { secrets });
    expect(only(status).error?.reason).to.equal('InvalidResponse');
    expect(JSON.stringify(status)).not.to.contain(SECRET.slice(0, 8));
  });

  describe('redirects to another origin', () => {
    it('never carries a secret-bearing header to the other origin', async () => {
      a.route('GET /go', (_req, res) => res.writeHead(302, { location: `${b.base}/landing` }).end());
      b.route('GET /landing', (req, res) =>
        res.writeHead(200).end(JSON.stringify({ sawKey: req.headers['x-api-key'] ?? null })),
      );
      const status = await executor.execute(compileFixture(oneTask('/go'), a.base), {}, { secrets });
      expect(a.requests[0]?.headers['x-api-key']).to.equal(SECRET);
      expect(JSON.stringify(b.requests)).not.to.contain(SECRET);
      expect(status.phase, status.message).to.equal('Succeeded');
      expect(only(status).output).to.deep.equal({ sawKey: null });
    });

    it('refuses to replay a body that carries a secret to the other origin', async () => {
      a.route('POST /go', (_req, res) => res.writeHead(307, { location: `${b.base}/landing` }).end());
      b.route('POST /landing', (_req, res) => res.writeHead(200).end('{}'));
      const yaml = `kind: WorkflowTask
metadata: {name: t}
spec:
  http: {method: POST, url: "\${BASE}/go", body: {key: "{{secrets.key}}"}}
  secrets: [{name: key, secretKeyRef: {name: api, key: key}}]
---
kind: Workflow
spec:
  tasks: [{id: t, taskRef: {name: t}}]
`;
      const status = await executor.execute(compileFixture(yaml, a.base), {}, { secrets });
      expect(b.requests).to.have.length(0);
      expect(only(status).error?.reason).to.equal('RedirectRefused');
    });
  });

  it('turns an internal failure into a Failed execution with reason InternalError', async () => {
    a.route('GET /x', (_req, res) => res.writeHead(200).end('{}'));
    // A collaborator breaking its contract (a response without a body) is a bug, not a connect error.
    const broken: TaskHttpClient = {
      send: async (request) => ({ ...(await client.send(request)), body: undefined as never }),
      close: async () => {},
    };
    const status = await new DagExecutor({ http: broken }).execute(
      compileFixture(oneTask('/x', '  retry: {maxAttempts: 3}'), a.base),
      {},
      { secrets },
    );
    expect(status.phase).to.equal('Failed');
    expect(status.reason).to.equal('InternalError');
    expect(only(status).error?.reason).to.equal('InternalError');
    expect(only(status).attempts).to.equal(1);
  });
});
