import { expect } from 'chai';
import express from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { DefinitionCatalog } from '../apiserver/definitions/catalog.ts';
import { ADMISSION_PATHS, admissionRoutes, type AdmissionRouteOptions } from './routes.ts';
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
        reason: 'TypeMismatch',
        field: 'spec.tasks[0].input.userId',
        message: 'get-user input expects string, got integer [TypeMismatch]',
      },
    ]);
    expect(logged.map((l) => l.message)).to.include('admission denied');
  });

  it('answers a WorkflowTask DELETE in use with 409 Conflict and the dependents in the message', async () => {
    live.workflows = [profile()];
    const answer = await post(
      ADMISSION_PATHS.workflowtasks,
      review('WorkflowTask', 'DELETE', { oldObject: getUser() }),
    );
    expect(answer.body.response?.status?.code).to.equal(409);
    expect(answer.body.response?.status?.reason).to.equal('Conflict');
    expect(answer.body.response?.status?.message).to.contain('used by 1 Workflow: profile');
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
