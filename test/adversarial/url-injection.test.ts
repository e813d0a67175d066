/**
 * URL-template injection against the real executor and the real undici client on loopback. The
 * task sends its secret in `Authorization` to `http://{{input.tenant}}.users.test:<A>/…`; a second
 * upstream B stands for "another host". Every injection form is either refused at validation,
 * refused before anything is sent, or arrives at A with the value encoded — B never sees a request.
 */
import { expect } from 'chai';
import { EgressPolicy, type HostResolver } from '../../adapters/egress/policy.ts';
import type { SecretResolver } from '../../core/engine/collaborators.ts';
import { DagExecutor } from '../../core/engine/executor.ts';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import { compileFixture } from '../../core/engine/testdata/fixtures.ts';
import { TestUpstream } from '../../core/engine/testdata/upstream.ts';
import type { TaskExecutionStatus } from '../../core/model/schema.ts';
import { validateTask } from '../../core/validation/validate.ts';

const SECRET = 'url-Secret-5b1d0e93';
const secrets: SecretResolver = { resolve: () => SECRET };

/** `*.users.test` is A's loopback address, except `blocked.users.test` (cloud metadata). */
const resolver: HostResolver = {
  resolve: (hostname) =>
    Promise.resolve(
      hostname === 'blocked.users.test'
        ? [{ address: '169.254.169.254', family: 4 }]
        : [{ address: '127.0.0.1', family: 4 }],
    ),
};

function workflowYaml(url: string, port: number): string {
  return `kind: WorkflowTask
metadata: {name: t}
spec:
  http:
    method: GET
    url: "${url.replaceAll('PORT', String(port))}"
    query: {k: "{{input.k}}"}
    headers: {Authorization: "Bearer {{secrets.key}}", X-Note: "{{input.note}}"}
  secrets: [{name: key, secretKeyRef: {name: api, key: key}}]
---
kind: Workflow
spec:
  timeout: 5s
  tasks:
    - id: t
      taskRef: {name: t}
      input: {tenant: "{{input.tenant}}", id: "{{input.id}}", q: "{{input.q}}", k: "{{input.k}}", note: "{{input.note}}"}
`;
}

const TENANT_URL = 'http://{{input.tenant}}.users.test:PORT/u/{{input.id}}?q={{input.q}}';
const HOST_ONLY_URL = 'http://acme.users.test:PORT?q={{input.q}}';

interface Scenario {
  name: string;
  url?: string;
  /** Built when the test runs (B's port is known only then). */
  input: () => Record<string, unknown>;
  /** The request line A must receive, or `refused` (nothing sent anywhere). */
  expect: string | 'refused';
}

const base = { tenant: 'acme', id: '42', q: 'x', k: 'y', note: 'n' };

describe('URL-template injection (real executor, real undici client, loopback upstreams)', function () {
  this.timeout(20_000);
  let a: TestUpstream;
  let b: TestUpstream;
  let client: UndiciTaskClient;
  let executor: DagExecutor;

  before(async () => {
    a = await new TestUpstream().start();
    b = await new TestUpstream().start();
    for (const upstream of [a, b]) {
      for (const path of ['/u/42', '/u/..%2F..%2Fadmin', '/', '/x', '/admin']) {
        upstream.route(`GET ${path}`, (_req, res) =>
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}'),
        );
      }
    }
    client = new UndiciTaskClient({ policy: new EgressPolicy({ allowLoopback: true }, resolver) });
    executor = new DagExecutor({ http: client });
  });

  after(async () => {
    await client.close();
    await a.stop();
    await b.stop();
  });

  beforeEach(() => {
    a.requests.length = 0;
    b.requests.length = 0;
  });

  async function run(url: string, input: Record<string, unknown>): Promise<TaskExecutionStatus> {
    const status = await executor.execute(compileFixture(workflowYaml(url, port(a)), a.base), input, {
      secrets,
    });
    return status.tasks?.[0] as TaskExecutionStatus;
  }

  const port = (upstream: TestUpstream) => Number(upstream.base.split(':')[2]);
  const bPort = () => port(b);
  const scenarios: Scenario[] = [
    { name: 'a well-formed tenant', input: () => base, expect: '/u/42?q=x&k=y' },
    {
      name: "host with ':port/'",
      input: () => ({ ...base, tenant: `127.0.0.1:${bPort()}/x?` }),
      expect: 'refused',
    },
    {
      name: "host with '@'",
      input: () => ({ ...base, tenant: `x@127.0.0.1:${bPort()}` }),
      expect: 'refused',
    },
    {
      name: 'host with userinfo',
      input: () => ({ ...base, tenant: `u:p@127.0.0.1:${bPort()}/` }),
      expect: 'refused',
    },
    { name: "host with '/'", input: () => ({ ...base, tenant: 'a/b' }), expect: 'refused' },
    { name: "host with '?'", input: () => ({ ...base, tenant: 'a?' }), expect: 'refused' },
    { name: "host with '#'", input: () => ({ ...base, tenant: 'a#' }), expect: 'refused' },
    { name: "host with '%2F'", input: () => ({ ...base, tenant: 'a%2Fb' }), expect: 'refused' },
    { name: 'host with a backslash', input: () => ({ ...base, tenant: 'a\\b' }), expect: 'refused' },
    {
      name: "host with the unicode dot '。'",
      input: () => ({ ...base, tenant: 'a\u3002b' }),
      expect: 'refused',
    },
    { name: 'host with IPv6 brackets', input: () => ({ ...base, tenant: '[::1]' }), expect: 'refused' },
    { name: 'host with two labels', input: () => ({ ...base, tenant: 'a.b' }), expect: 'refused' },
    {
      name: 'CRLF in a header value',
      input: () => ({ ...base, note: 'x\r\nX-Injected: 1' }),
      expect: 'refused',
    },
    {
      name: "'../' in a path segment",
      input: () => ({ ...base, id: '../../admin' }),
      expect: '/u/..%2F..%2Fadmin?q=x&k=y',
    },
    { name: "'..' as a whole path segment", input: () => ({ ...base, id: '..' }), expect: 'refused' },
    {
      name: "'&', '=' and '#' in query values",
      input: () => ({ ...base, q: 'bob&admin=true#frag', k: 'a=b&c' }),
      expect: '/u/42?q=bob%26admin%3Dtrue%23frag&k=a%3Db%26c',
    },
    {
      name: "'&', '=' and '#' in the query of a host-only URL",
      url: HOST_ONLY_URL,
      input: () => ({ ...base, q: 'bob&admin=true#frag' }),
      expect: '/?q=bob%26admin%3Dtrue%23frag&k=y',
    },
  ];

  for (const scenario of scenarios) {
    it(`${scenario.name}: ${scenario.expect === 'refused' ? 'refused before anything is sent' : 'sent to the defined host, encoded'}`, async () => {
      const task = await run(scenario.url ?? TENANT_URL, scenario.input());
      expect(b.requests, 'requests at the other host').to.deep.equal([]);
      if (scenario.expect === 'refused') {
        expect(task.phase).to.equal('Failed');
        expect(task.error?.reason).to.equal('UnsafeRequestValue');
        expect(task.attempts ?? 0, 'attempts').to.be.at.most(1);
        expect(a.requests, 'requests at the defined host').to.deep.equal([]);
        expect(task.error?.message).not.to.contain(SECRET);
      } else {
        expect(task.phase, task.error?.message).to.equal('Succeeded');
        expect(a.requests.map((r) => r.url)).to.deep.equal([scenario.expect]);
        expect(a.requests[0]?.headers.authorization).to.equal(`Bearer ${SECRET}`);
        expect(a.requests[0]?.headers.host).to.match(/^acme\.users\.test:\d+$/);
      }
    });
  }

  it('checks the egress policy on the final host: a tenant resolving to cloud metadata is denied', async () => {
    const task = await run(TENANT_URL, { ...base, tenant: 'blocked' });
    expect(task.error?.reason).to.equal('EgressDenied');
    expect(a.requests).to.deep.equal([]);
    expect(b.requests).to.deep.equal([]);
  });

  describe('refused at validation (admission and `syncflow validate` share the validator)', () => {
    for (const [name, url] of [
      ['templated port', 'http://{{input.tenant}}.users.test:{{input.port}}/u'],
      ['templated scheme', '{{input.scheme}}://acme.users.test/u'],
      ['templated scheme and host', '{{input.base}}/u'],
      ['templated userinfo', 'http://{{input.user}}@acme.users.test/u'],
      ['a template as the whole host', 'http://{{input.host}}/u'],
      ['a template as the last label', 'http://acme.{{input.tld}}/u'],
      ['a template inside an IPv6 literal', 'http://[::{{input.ip}}]/u'],
    ] as const) {
      it(`${name}: ${url}`, () => {
        const { errors } = validateTask({
          apiVersion: 'syncflow.io/v1alpha1',
          kind: 'WorkflowTask',
          metadata: { name: 't', namespace: 'shop' },
          spec: { http: { method: 'GET', url } },
        });
        expect(errors.map((e) => `${e.code} ${e.field}`)).to.deep.equal([
          'UrlTemplatePosition spec.http.url',
        ]);
        expect(errors[0]?.suggestion).to.contain('{{input.tenant}}.users.svc');
      });
    }
  });
});
