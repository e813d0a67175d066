/**
 * The bundled demo upstream behind the examples: deterministic JSON endpoints for users, orders,
 * recommendations, checkout and loan quotes. `npm run dev` and the tests serve it on a loopback
 * address and point the examples' host `demo.syncflow-system.svc` at it.
 *
 *   npx tsx examples/demo-upstream/server.ts [--host 127.0.0.88] [--port 8080]
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** The host name the examples call; alias it to wherever the demo upstream listens. */
export const DEMO_HOST = 'demo.syncflow-system.svc';
/** The loopback address the demo listens on by default (any 127/8 address works on Linux). */
export const DEMO_ADDRESS = '127.0.0.88';
export const DEMO_PORT = 8080;

/** A running demo upstream and the requests it has answered, by path. */
export interface DemoUpstream {
  url: string;
  calls: Map<string, number>;
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

function send(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

/** Routes one request; unknown paths answer 404 like a real service would. */
async function route(req: IncomingMessage, res: ServerResponse, calls: Map<string, number>): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://demo');
  const path = url.pathname;
  const key = `${req.method} ${path.split('/').slice(0, 2).join('/')}`;
  calls.set(key, (calls.get(key) ?? 0) + 1);
  let m: RegExpExecArray | null;
  if (req.method === 'GET' && (m = /^\/users\/([^/]+)$/.exec(path))) {
    const id = decodeURIComponent(m[1] as string);
    if (id === 'missing') return send(res, 404, { error: 'no such user' });
    if (id === 'flaky' && (calls.get('flaky') ?? 0) < 1) {
      calls.set('flaky', 1);
      return send(res, 503, { error: 'try again' });
    }
    return send(res, 200, { id, email: `user${id}@example.com`, name: `User ${id}` });
  }
  if (req.method === 'GET' && path === '/orders') {
    const email = url.searchParams.get('email') ?? '';
    return send(res, 200, {
      orders: [
        { id: `o-${email.length}`, total: 42.5 },
        { id: 'o-2', total: 7 },
      ],
    });
  }
  if (req.method === 'GET' && (m = /^\/recommendations\/([^/]+)$/.exec(path))) {
    return send(res, 200, { items: [`book-for-${m[1]}`, 'lamp'] });
  }
  if (req.method === 'POST' && path === '/reservations') {
    const b = await body(req);
    return send(res, 200, { reservationId: `r-${String(b.cartId)}`, amount: 99.9, currency: 'EUR' });
  }
  if (req.method === 'POST' && path === '/payments') {
    const b = await body(req);
    return send(res, 200, { paymentId: `p-${String(b.reservation)}`, status: 'captured' });
  }
  if (req.method === 'POST' && (m = /^\/notifications\/(email|sms)$/.exec(path))) {
    return send(res, 200, { messageId: `${m[1]}-1` });
  }
  if (req.method === 'GET' && (m = /^\/scores\/([^/]+)$/.exec(path))) {
    const id = m[1] as string;
    // Applicants `down…`: the scoring service is down (503 on every attempt), so loan-quote fails.
    if (id.startsWith('down')) return send(res, 503, { error: 'scoring is unavailable' });
    return send(res, 200, { score: id.startsWith('risky') ? 580 : 720 });
  }
  if (req.method === 'POST' && path === '/quotes') {
    const b = await body(req);
    const amount = Number(b.amount);
    return send(res, 200, { rate: 0.049, monthly: Math.round((amount * 1.049) / 12) });
  }
  if (req.method === 'GET' && (m = /^\/slow\/([^/]+)$/.exec(path))) {
    // A step that takes a while (default 300 ms, at most 2 s): live watches see it running.
    const ms = Math.min(Number(url.searchParams.get('ms') ?? 300) || 0, 2_000);
    await new Promise((resolve) => setTimeout(resolve, ms));
    return send(res, 200, { id: decodeURIComponent(m[1] as string) });
  }
  if (req.method === 'POST' && path === '/reviews') {
    return send(res, 200, { caseId: 'case-1' });
  }
  if (await templateRoutes(req, res, path, url, calls)) return;
  send(res, 404, { error: `no route for ${req.method} ${path}` });
}

/** The routes the workflow templates (templates/*.yaml) call; true when one answered. */
async function templateRoutes(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  url: URL,
  calls: Map<string, number>,
): Promise<boolean> {
  let m: RegExpExecArray | null;
  const answer = (status: number, value: unknown) => {
    send(res, status, value);
    return true;
  };
  if (req.method === 'GET' && (m = /^\/companies\/([^/]+)$/.exec(path))) {
    const domain = decodeURIComponent(m[1] as string);
    return answer(200, {
      name: `${domain.split('.')[0]} Inc.`,
      employees: domain.length * 10,
      industry: 'software',
    });
  }
  if (req.method === 'GET' && (m = /^\/prices\/([^/]+)$/.exec(path))) {
    const source = url.searchParams.get('source') ?? 'web';
    return answer(200, { source, price: 10 + source.length });
  }
  if (req.method === 'POST' && path === '/stats') {
    const values = ((await body(req)).values as unknown[]).map(Number);
    const sum = values.reduce((a, b) => a + b, 0);
    return answer(200, {
      min: Math.min(...values),
      max: Math.max(...values),
      mean: values.length ? sum / values.length : 0,
      count: values.length,
    });
  }
  if (req.method === 'POST' && path === '/validations') {
    const record = (await body(req)).record as Record<string, unknown> | undefined;
    const problems = ['id', 'kind']
      .filter((k) => typeof record?.[k] !== 'string')
      .map((k) => `${k} is missing`);
    return answer(200, {
      valid: problems.length === 0,
      category: String(record?.kind ?? 'unknown'),
      problems,
    });
  }
  if (req.method === 'POST' && path === '/records') {
    const b = await body(req);
    return answer(200, { recordId: `${String(b.category)}-1` });
  }
  if (req.method === 'GET' && (m = /^\/jobs\/([^/]+)\/status$/.exec(path))) {
    // A job runs for two polls (503) and is done from the third on.
    const key = `job ${m[1] as string}`;
    const polls = (calls.get(key) ?? 0) + 1;
    calls.set(key, polls);
    if (polls <= 2) return answer(503, { state: 'running' });
    return answer(200, { state: 'done', result: `result of ${decodeURIComponent(m[1] as string)}` });
  }
  if (req.method === 'POST' && path === '/chat/messages') {
    if (!req.headers.authorization) return answer(401, { error: 'a bot token is required' });
    const b = await body(req);
    return answer(200, { ok: true, channel: String(b.channel), ts: '1700000000.000100' });
  }
  if (req.method === 'POST' && path === '/charges') {
    // Like a payment API: the same Idempotency-Key always answers the same charge.
    const key = req.headers['idempotency-key'];
    if (typeof key !== 'string' || !key) return answer(400, { error: 'Idempotency-Key header is required' });
    const b = await body(req);
    return answer(200, { chargeId: `ch-${key.slice(-12)}`, status: 'succeeded', amount: Number(b.amount) });
  }
  if (req.method === 'POST' && path === '/relay') {
    if (!req.headers['x-signature']) return answer(401, { error: 'X-Signature header is required' });
    const b = await body(req);
    return answer(200, { delivered: true, event: String(b.event) });
  }
  return false;
}

/** Starts the demo upstream. */
export async function startDemoUpstream(
  options: { host?: string; port?: number } = {},
): Promise<DemoUpstream> {
  const calls = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    route(req, res, calls).catch(() => send(res, 400, { error: 'bad request' }));
  });
  const host = options.host ?? DEMO_ADDRESS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEMO_PORT, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : DEMO_PORT;
  return {
    url: `http://${host}:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const upstream = await startDemoUpstream({
    host: arg('host') ?? DEMO_ADDRESS,
    port: Number(arg('port') ?? DEMO_PORT),
  });
  console.log(`demo upstream listening on ${upstream.url} (alias ${DEMO_HOST} to it)`);
}
