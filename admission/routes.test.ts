import { expect } from 'chai';
import express from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { DefinitionCatalog } from '../core/definitions/catalog.ts';
import {
  ADMISSION_PATHS,
  admissionRoutes,
  type AdmissionCallers,
  type AdmissionRouteOptions,
} from './routes.ts';
import { FakeLive, FakeSecrets, getUser, notify, profile, review } from './testdata/definitions.ts';

interface Answer {
  status: number;
  body: {
    message?: string;
    response?: {
      uid: string;
      allowed: boolean;
      warnings?: string[];
      status?: {
        code: number;
        reason: string;
        message: string;
        details: { causes: Array<{ reason: string; field: string; message: string }> };
      };
    };
  };
}

describe('admissionRoutes', () => {
  let server: Server;
  let base: string;
  const logged: Array<{ fields: Record<string, unknown>; message: string }> = [];
  const decisions: Array<{ kind: string; allowed: boolean }> = [];
  let live: FakeLive;

  async function start(options: Partial<AdmissionRouteOptions> = {}) {
    const catalog = new DefinitionCatalog();
    for (const object of [getUser(), notify()]) catalog.upsert(object);
    live = new FakeLive();
    const app = express();
    app.use(
      admissionRoutes({
        definitions: catalog,
        live,
        secrets: new FakeSecrets({}),
        logger: {
          info: (fields, message) => logged.push({ fields, message }),
          warn: (fields, message) => logged.push({ fields, message }),
        },
        onDecision: (event) => decisions.push(event),
        ...options,
      }),
    );
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async function post(path: string, body: unknown, contentType = 'application/json'): Promise<Answer> {
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Answer['body'] };
  }

  /** Reviews come from the API server (its client certificate verified). */
  const API_SERVER: AdmissionCallers = { identify: () => ({ apiServer: true }) };

  async function restart(options: Partial<AdmissionRouteOptions>) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await start(options);
  }

  beforeEach(async () => {
    logged.length = 0;
    decisions.length = 0;
    await start();
  });
  afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers an allowed Workflow review with the request uid', async () => {
    const answer = await post(ADMISSION_PATHS.workflows, review('Workflow', 'CREATE', { object: profile() }));
    expect(answer.status).to.equal(200);
    expect(answer.body).to.deep.equal({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'b3f1c9e2-0000-4000-8000-000000000001', allowed: true },
    });
    expect(decisions).to.have.length(1);
  });

  it('denies with a 422 Invalid Status whose causes carry field, code and message (kubectl prints them)', async () => {
    const steps = [{ id: 'user', taskRef: { name: 'get-user' }, input: { userId: 42 } }];
    const answer = await post(
      ADMISSION_PATHS.workflows,
      review('Workflow', 'CREATE', { object: profile('p', steps) }),
    );
    const status = answer.body.response?.status;
    expect(answer.body.response?.allowed).to.equal(false);
    expect(status?.code).to.equal(422);
    expect(status?.reason).to.equal('Invalid');
    expect(status?.details.causes).to.deep.equal([
      {
        reason: 'FieldValueTypeInvalid',
        field: 'spec.tasks[0].input.userId',
        message: 'get-user input expects string, got integer [TypeMismatch]',
      },
    ]);
    expect(logged.map((l) => l.message)).to.include('admission denied');
  });

  it('answers a WorkflowTask DELETE in use with 409 Conflict and the dependents in the message to the API server', async () => {
    await restart({ callers: API_SERVER });
    live.workflows = [profile()];
    const answer = await post(
      ADMISSION_PATHS.workflowtasks,
      review('WorkflowTask', 'DELETE', { oldObject: getUser() }),
    );
    expect(answer.body.response?.status?.code).to.equal(409);
    expect(answer.body.response?.status?.reason).to.equal('Conflict');
    expect(answer.body.response?.status?.message).to.contain('used by 1 Workflow: profile');
  });

  describe('callers not authenticated as the API server', () => {
    it('learn that a task is in use, but not by which objects', async () => {
      live.workflows = [profile()];
      const answer = await post(
        ADMISSION_PATHS.workflowtasks,
        review('WorkflowTask', 'DELETE', { oldObject: getUser() }),
      );
      expect(answer.body.response?.status?.code).to.equal(409);
      expect(answer.body.response?.status?.message).to.equal(
        'WorkflowTask get-user: this change conflicts with other objects of the namespace [TaskInUse]; the details are given to the authenticated API server only',
      );
      expect(JSON.stringify(answer.body)).not.to.contain('profile');
    });

    it('get no suggestion naming other objects of the namespace ("did you mean"), in causes or message', async () => {
      const steps = [{ id: 'user', taskRef: { name: 'get-usr' }, input: { userId: '42' } }];
      const body = review('Workflow', 'CREATE', { object: profile('p', steps) });
      const anonymous = await post(ADMISSION_PATHS.workflows, body);
      expect(anonymous.body.response?.allowed).to.equal(false);
      const causes = anonymous.body.response?.status?.details.causes ?? [];
      expect(
        causes.some((c) => c.reason === 'FieldValueNotFound' && c.message.endsWith('[TaskNotFound]')),
      ).to.equal(true);
      expect(JSON.stringify(anonymous.body)).not.to.contain('get-user');
      expect(JSON.stringify(anonymous.body)).not.to.contain('notify');
      await restart({ callers: API_SERVER });
      const apiServer = await post(ADMISSION_PATHS.workflows, body);
      expect(JSON.stringify(apiServer.body)).to.contain('get-user');
    });

    it('are refused with 403 before their body is read when the callers are checked', async () => {
      await restart({
        callers: { identify: () => ({ apiServer: false, refusal: 'no client certificate was presented' }) },
      });
      const answer = await post(
        ADMISSION_PATHS.workflows,
        review('Workflow', 'CREATE', { object: profile() }),
      );
      expect(answer.status).to.equal(403);
      expect(answer.body.message).to.equal(
        'reviews are accepted from the API server only: no client certificate was presented',
      );
      expect(decisions).to.have.length(0);
    });
  });

  describe('limits', () => {
    it('refuses a review larger than its body limit with 413 before reading it', async () => {
      await restart({ maxBodyBytes: 1024 });
      const answer = await post(
        ADMISSION_PATHS.workflows,
        review('Workflow', 'CREATE', { object: profile('p', undefined, { description: 'x'.repeat(2000) }) }),
      );
      expect(answer.status).to.equal(413);
      expect(answer.body.message).to.match(
        /^the review is \d+ bytes; this webhook reads at most 1024 bytes$/,
      );
    });

    it('has a default body limit below the 3.9 MB reviews that were never refused', async () => {
      const answer = await post(
        ADMISSION_PATHS.workflows,
        review('Workflow', 'CREATE', {
          object: profile('p', undefined, { description: 'x'.repeat(3_900_000) }),
        }),
      );
      expect(answer.status).to.equal(413);
    });

    it('refuses reviews beyond its in-flight limit with 429 and Retry-After, and frees the slot after each answer', async () => {
      let inFlight = 0;
      const limiter = {
        tryAcquire: () => (inFlight < 1 ? (inFlight++, true) : false),
        release: () => void inFlight--,
      };
      const shed: number[] = [];
      await restart({ limiter, onShed: () => shed.push(1) });
      const body = review('Workflow', 'CREATE', { object: profile() });
      expect((await post(ADMISSION_PATHS.workflows, body)).status).to.equal(200);
      expect(inFlight).to.equal(0);
      inFlight = 1;
      const response = await fetch(`${base}${ADMISSION_PATHS.workflows}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(response.status).to.equal(429);
      expect(response.headers.get('retry-after')).to.equal('1');
      expect(shed).to.have.length(1);
    });
  });

  it('passes warnings on', async () => {
    const task = getUser({ secrets: [{ name: 'token', secretKeyRef: { name: 'users-api', key: 'token' } }] });
    const answer = await post(
      ADMISSION_PATHS.workflowtasks,
      review('WorkflowTask', 'CREATE', { object: task }),
    );
    expect(answer.body.response?.allowed).to.equal(true);
    expect(answer.body.response?.warnings?.[0]).to.match(/^WorkflowTask `get-user` reads Secret `users-api`/);
  });

  it('refuses a review of the wrong kind for the path, saying how to fix the configuration', async () => {
    const answer = await post(
      ADMISSION_PATHS.workflowtasks,
      review('Workflow', 'CREATE', { object: profile() }),
    );
    expect(answer.body.response?.allowed).to.equal(false);
    expect(answer.body.response?.status?.message).to.contain(
      'fix the rules of the ValidatingWebhookConfiguration',
    );
  });

  it('turns a failing check into a denial asking to retry, never a crash', async () => {
    live.listFailure = undefined;
    live.getTask = async () => {
      throw new Error('etcdserver: request timed out');
    };
    const steps = [{ id: 'x', taskRef: { name: 'not-cached' } }];
    const answer = await post(
      ADMISSION_PATHS.workflows,
      review('Workflow', 'CREATE', { object: profile('p', steps) }),
    );
    expect(answer.status).to.equal(200);
    expect(answer.body.response?.status?.code).to.equal(503);
    expect(answer.body.response?.status?.message).to.equal(
      'syncflow could not check Workflow shop/p: etcdserver: request timed out; retry',
    );
  });

  it('answers 400 to a body that is not an AdmissionReview', async () => {
    expect((await post(ADMISSION_PATHS.workflows, { kind: 'Pod' })).status).to.equal(400);
    const malformed = await post(ADMISSION_PATHS.workflows, '{"apiVersion":', 'application/json');
    expect(malformed.status).to.equal(400);
    expect(malformed.body.message).to.match(/^the body is not a JSON AdmissionReview/);
  });

  it('answers 405 to anything but POST', async () => {
    const response = await fetch(`${base}${ADMISSION_PATHS.workflows}`);
    expect(response.status).to.equal(405);
    expect(response.headers.get('allow')).to.equal('POST');
  });
});
