// The webhooks as the server application serves them: mounted by `buildApp`, ahead of load shedding.
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { buildApp } from './app.ts';
import { DefinitionCatalog } from '../core/definitions/catalog.ts';
import type { ExecutionService } from './execution/service.ts';
import type { ExecutionStore } from '../history/store.ts';
import type { RequestGuard } from './http/guard.ts';
import { ADMISSION_PATHS, admissionRoutes } from '../admission/routes.ts';
import { getUser, notify, profile, review } from '../admission/testdata/definitions.ts';

describe('admission in the server application', () => {
  let server: Server;
  let base: string;

  before(async () => {
    const catalog = new DefinitionCatalog();
    for (const object of [getUser(), notify()]) catalog.upsert(object);
    const handler = buildApp({
      // The webhook routes never reach the execution parts.
      service: {} as ExecutionService,
      store: {} as ExecutionStore,
      guard: {} as RequestGuard,
      registry: new Registry(),
      readiness: [],
      // Every POST beyond this limit would be shed with 429: admission must never be.
      maxInFlight: 0,
      admission: admissionRoutes({ definitions: catalog }),
    });
    server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  for (const [path, body] of [
    [ADMISSION_PATHS.workflows, review('Workflow', 'CREATE', { object: profile() })],
    [ADMISSION_PATHS.workflowtasks, review('WorkflowTask', 'CREATE', { object: getUser() })],
  ] as const) {
    it(`answers POST ${path} even when executions are being shed`, async () => {
      const response = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(response.status).to.equal(200);
      expect(((await response.json()) as { response: { allowed: boolean } }).response.allowed).to.equal(true);
    });
  }
});
