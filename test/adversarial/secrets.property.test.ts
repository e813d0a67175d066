/**
 * Property: a secret that an upstream echoes back — in the body, in an error body (cut wherever),
 * in a redirect, in a body that is not JSON, through a transport error naming the URL — in any
 * encoding an upstream may use, never appears in any encoding (not even its first characters) in
 * what the engine hands out: the final status and its task records, errors and attempt traces,
 * observer notifications, every kind of live event (request lines, retry reasons, outputs, the
 * final status), and log lines.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import type { EngineLogger, ExecutionObserver } from '../../core/engine/collaborators.ts';
import type { ExecutionEvent } from '../../core/model/events.ts';
import { DagExecutor } from '../../core/engine/executor.ts';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import type { TaskHttpClient } from '../../core/engine/task-http.ts';
import { compileFixture } from '../../core/engine/testdata/fixtures.ts';

/** Encodings an upstream may echo a secret in. */
const ENCODINGS = {
  raw: (s: string) => s,
  uri: (s: string) => encodeURIComponent(s),
  uriLower: (s: string) => encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
  form: (s: string) => new URLSearchParams([['', s]]).toString().slice(1),
  json: (s: string) => JSON.stringify(s).slice(1, -1),
  base64: (s: string) => Buffer.from(s).toString('base64'),
  base64url: (s: string) => Buffer.from(s).toString('base64url'),
  collapsed: (s: string) => s.replace(/\s+/g, ' ').trim(),
} as const;
type Encoding = keyof typeof ENCODINGS;
const ENCODING_NAMES = Object.keys(ENCODINGS) as Encoding[];

/** How an upstream echoes the secret back. */
const MODES = ['body', 'error', 'headers', 'redirect', 'notJson', 'transport'] as const;
type Mode = (typeof MODES)[number];

/** Characters secrets are made of: URL, JSON and HTML specials, whitespace, non-ASCII. `~` is filler. */
const SECRET_CHARS = [
  ...'abcXYZ0189',
  ' ',
  '\n',
  '\t',
  '"',
  '\\',
  '/',
  '+',
  '&',
  '=',
  '%',
  '?',
  '#',
  '<',
  "'",
  'é',
  '€',
  '😀',
];

const secretArb = fc
  .array(fc.constantFrom(...SECRET_CHARS), { minLength: 8, maxLength: 40 })
  .map((chars) => chars.join(''))
  .filter((s) => s.replace(/\s+/g, '').length >= 8);

const echoArb = fc.record({
  mode: fc.constantFrom(...MODES),
  encoding: fc.constantFrom(...ENCODING_NAMES),
  // Filler before the echo: around 200 characters the error snippet is cut inside the secret.
  pad: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 170, max: 215 })),
});

interface Echo {
  mode: Mode;
  encoding: Encoding;
  pad: number;
}

/** The upstream: the first path segment says how to echo (`/<index>/...`), per the current plan. */
class EchoUpstream {
  plan: { secret: string; echoes: Echo[] } = { secret: '', echoes: [] };
  private server: Server | undefined;
  base = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.answer(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const index = Number((req.url ?? '').split('/')[1]);
    const echo = this.plan.echoes[index] as Echo;
    const encoded = ENCODINGS[echo.encoding](this.plan.secret);
    const filler = '~'.repeat(echo.pad);
    try {
      switch (echo.mode) {
        case 'body':
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ echo: encoded, url: req.url, headers: req.headers }));
          return;
        case 'error':
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`${filler}${encoded}~~ trailing text`);
          return;
        case 'headers':
          res.writeHead(400).end(`${filler}${JSON.stringify({ headers: req.headers, url: req.url })}`);
          return;
        case 'redirect':
          // A Location header holds visible ASCII only: other spellings go percent-encoded.
          res
            .writeHead(302, {
              location: `/elsewhere?${filler}${/^[\x21-\x7e]*$/.test(encoded) ? encoded : ENCODINGS.uri(this.plan.secret)}`,
            })
            .end();
          return;
        case 'notJson':
          res.writeHead(200).end(`{"e": ${filler}${encoded}}`);
          return;
        case 'transport':
          res.writeHead(200).end('{}');
          return;
      }
    } catch {
      res.destroy();
    }
  }
}

/** Every string inside a value (keys too), iteratively. */
function strings(value: unknown, out: string[] = []): string[] {
  const stack = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') out.push(v);
    else if (v !== null && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) {
        out.push(k);
        stack.push(item);
      }
    }
  }
  return out;
}

describe('secrets never escape, in any encoding (property)', function () {
  this.timeout(60_000);
  const upstream = new EchoUpstream();
  let client: UndiciTaskClient;
  /** The transport-error mode: a client failing with a message that names the URL, as undici's can. */
  let http: TaskHttpClient;

  before(async () => {
    await upstream.start();
    client = new UndiciTaskClient({ policy: new EgressPolicy({ allowLoopback: true }) });
    http = {
      send: async (request) => {
        const index = Number(new URL(request.url).pathname.split('/')[1]);
        if (upstream.plan.echoes[index]?.mode === 'transport') {
          throw new Error(
            `${'~'.repeat(upstream.plan.echoes[index].pad)} request to ${request.url} failed: socket hang up`,
          );
        }
        return client.send(request);
      },
      close: () => client.close(),
    };
  });
  after(async () => {
    await client.close();
    await upstream.stop();
  });

  it('no echo of a secret in any encoding survives into status, records, errors, traces, events or logs', async () => {
    /** Kinds of live event seen over all runs: every kind must have been checked. */
    const kinds = new Set<ExecutionEvent['type']>();
    await fc.assert(
      fc.asyncProperty(
        secretArb,
        fc.array(echoArb, { minLength: 1, maxLength: 4 }),
        async (secret, echoes) => {
          upstream.plan = { secret, echoes };
          const yaml = `kind: WorkflowTask
metadata: {name: echo}
spec:
  inputSchema: {type: object, properties: {i: {type: string}}}
  http:
    method: GET
    url: "\${BASE}/{{input.i}}/{{secrets.key}}"
    query: {k: "{{secrets.key}}"}
    headers: {X-Api-Key: "{{secrets.key}}", Authorization: "Bearer {{secrets.key}}"}
  secrets: [{name: key, secretKeyRef: {name: api, key: key}}]
  retry: {maxAttempts: 2, backoff: {initial: 1ms}}
---
kind: Workflow
spec:
  tasks:
${echoes.map((_, i) => `  - {id: t${i}, taskRef: {name: echo}, input: {i: "${i}"}, onError: continue}`).join('\n')}
  - {id: gated, taskRef: {name: echo}, input: {i: "0"}, dependsOn: [t0], when: "input.go == true"}
  output:
${echoes.map((_, i) => `    t${i}: "{{tasks.t${i}.output}}"\n    line${i}: "saw {{tasks.t${i}.output}}"`).join('\n')}
`;
          const events: unknown[] = [];
          const observer: ExecutionObserver = {
            taskFinished: (e) => events.push(e.task),
            executionFinished: (e) => events.push(e.status),
            event: (e) => {
              kinds.add(e.type);
              events.push(e);
            },
          };
          const logs: unknown[] = [];
          const logger: EngineLogger = { warn: (f, m) => logs.push(f, m), debug: (f, m) => logs.push(f, m) };
          const executor = new DagExecutor({ http, logger, observer });
          const status = await executor.execute(
            compileFixture(yaml, upstream.base),
            {},
            { secrets: { resolve: () => secret } },
          );
          const seen = strings([status, events, logs]);
          const jsonText = JSON.stringify([status, events, logs]);
          for (const name of ENCODING_NAMES) {
            const encoded = ENCODINGS[name](secret);
            // Not the whole secret, nor the beginning a cut would leave.
            const start = encoded.slice(0, 6);
            const leak = seen.find((s) => s.includes(start));
            expect(
              leak,
              `${name} spelling ${JSON.stringify(encoded)} leaked in ${JSON.stringify(leak)}`,
            ).to.equal(undefined);
            expect(jsonText).not.to.contain(encoded);
          }
        },
      ),
      { numRuns: 200 },
    );
    expect([...kinds].sort()).to.deep.equal([
      'ExecutionFinished',
      'ExecutionStarted',
      'Signal',
      'TaskFinished',
      'TaskRetrying',
      'TaskSkipped',
      'TaskStarted',
    ]);
  });
});
