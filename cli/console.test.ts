import { expect } from 'chai';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { EchoApiServer, kubeConfigFor } from '../kube/testdata/console-fakes.ts';
import { consoleCommand, startLocalConsole, type LocalConsole } from './console.ts';
import { main } from './main.ts';

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    cwd: process.cwd(),
  });
  return { code, stdout, stderr };
}

/** A raw request (fetch would not let a test set Host). */
function raw(
  url: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('syncflow console (the local console server)', () => {
  let upstream: EchoApiServer;
  let dist: string;
  let local: LocalConsole;
  let cookie: string;
  const API = '/apis/syncflow.io/v1alpha1/namespaces/shop/workflows';

  before(async () => {
    upstream = new EchoApiServer();
    const upstreamUrl = await upstream.listen();
    dist = await mkdtemp(join(tmpdir(), 'console-dist-'));
    await writeFile(join(dist, 'index.html'), '<!doctype html><title>syncflow console</title>');
    local = await startLocalConsole({
      kubeConfig: kubeConfigFor(upstreamUrl, 'kubeconfig-token'),
      distDir: dist,
      port: 0,
    });
    const first = await raw(local.url);
    cookie = String((first.headers['set-cookie'] as string[])[0]).split(';')[0] as string;
  });
  after(async () => {
    await local.close();
    await upstream.close();
    await rm(dist, { recursive: true, force: true });
  });
  beforeEach(() => (upstream.seen.length = 0));

  it('prints a loopback URL that carries the per-launch secret', () => {
    const url = new URL(local.url);
    expect(url.hostname).to.equal('127.0.0.1');
    expect(url.searchParams.get('secret')).to.match(/^[A-Za-z0-9_-]{43}$/);
  });

  it('trades the secret in the URL for an HttpOnly, SameSite=Strict cookie and drops it from the address', async () => {
    const first = await raw(local.url);
    expect(first.status).to.equal(302);
    expect(first.headers.location).to.equal('/');
    expect(String(first.headers['set-cookie']))
      .to.match(/HttpOnly/)
      .and.match(/SameSite=Strict/);
    const page = await raw(`${local.origin}/`, { cookie });
    expect(page.status).to.equal(200);
    expect(page.body).to.contain('syncflow console');
    expect(page.headers['referrer-policy']).to.equal('no-referrer');
  });

  it('refuses a request without the secret (401), pages and API calls alike', async () => {
    for (const path of ['/', `${API}`, '/config.json']) {
      const answer = await raw(`${local.origin}${path}`);
      expect(answer.status, path).to.equal(401);
      expect(answer.body).to.match(/URL that `syncflow console` printed/);
    }
    expect((await raw(`${local.origin}/?secret=wrong`)).status).to.equal(401);
    const port = new URL(local.origin).port;
    expect((await raw(`${local.origin}/`, { cookie: `syncflow-console-${port}=wrong` })).status).to.equal(
      401,
    );
    expect(upstream.seen).to.have.length(0);
  });

  it('two consoles on one host keep their own cookies (cookies ignore the port)', async () => {
    const other = await startLocalConsole({
      kubeConfig: kubeConfigFor('http://127.0.0.1:1'),
      distDir: dist,
      port: 0,
    });
    try {
      const theirs = String(((await raw(other.url)).headers['set-cookie'] as string[])[0]).split(
        ';',
      )[0] as string;
      expect(theirs.split('=')[0]).not.to.equal(cookie.split('=')[0]);
      // The browser sends both cookies to both consoles: each reads its own.
      expect((await raw(`${local.origin}/`, { cookie: `${theirs}; ${cookie}` })).status).to.equal(200);
      expect((await raw(`${local.origin}/`, { cookie: theirs })).status).to.equal(401);
    } finally {
      await other.close();
    }
  });

  it('refuses a call from another origin (403), even with the cookie', async () => {
    const answer = await raw(`${local.origin}${API}`, { cookie, origin: 'http://evil.example' });
    expect(answer.status).to.equal(403);
    expect(answer.body).to.match(/Origin http:\/\/evil\.example/);
    expect(upstream.seen).to.have.length(0);
  });

  it('refuses a request for another Host name (403: a DNS rebinding guard)', async () => {
    const port = new URL(local.origin).port;
    const answer = await raw(`${local.origin}/`, { cookie, host: `evil.example:${port}` });
    expect(answer.status).to.equal(403);
    expect((await raw(`${local.origin}/`, { cookie, host: `localhost:${port}` })).status).to.equal(200);
  });

  it("forwards the console's API calls with the kubeconfig's credentials", async () => {
    const answer = await raw(`${local.origin}${API}?limit=5`, { cookie, origin: local.origin });
    expect(answer.status).to.equal(200);
    expect(upstream.seen[0]?.url).to.equal(`${API}?limit=5`);
    expect(upstream.seen[0]?.headers.authorization).to.equal('Bearer kubeconfig-token');
    expect(upstream.seen[0]?.headers.cookie).to.equal(undefined);
  });

  it('forwards nothing else (403 naming the call): no Secrets, no writes to definitions', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/namespaces/shop/secrets'],
      ['DELETE', `${API}/user-profile`],
      ['GET', '/apis/apps/v1/deployments'],
    ] as const) {
      const answer = await raw(`${local.origin}${path}`, { cookie }, method);
      expect(answer.status, path).to.equal(403);
      expect(answer.body).to.contain(`${method} ${path}`);
    }
    expect(upstream.seen).to.have.length(0);
  });

  it('tells the page where the API is (config.json)', async () => {
    const answer = await raw(`${local.origin}/config.json`, { cookie });
    expect(JSON.parse(answer.body)).to.deep.equal({ apiBase: '', auth: 'session' });
  });

  it('forwards a WebSocket watch with the cookie, and refuses one without it or from another origin', async () => {
    const ws = `${local.origin.replace('http', 'ws')}${API}?watch=1`;
    const socket = new WebSocket(ws, { headers: { cookie, origin: local.origin } });
    const [message] = (await once(socket, 'message')) as [Buffer];
    socket.close();
    expect(JSON.parse(message.toString())).to.include({ authorization: 'Bearer kubeconfig-token' });
    for (const headers of [{ origin: local.origin }, { cookie, origin: 'http://evil.example' }]) {
      const refused = new WebSocket(ws, { headers });
      refused.on('error', () => undefined);
      const [, response] = (await once(refused, 'unexpected-response')) as [unknown, { statusCode: number }];
      expect(response.statusCode).to.be.oneOf([401, 403]);
      refused.terminate();
    }
  });

  it('forwards the live-events stream as a WebSocket with the kubeconfig credentials, and never as a plain call', async () => {
    const STREAM = '/apis/execution.syncflow.io/v1alpha1/namespaces/shop/workflowexecutions/-/stream';
    const socket = new WebSocket(`${local.origin.replace('http', 'ws')}${STREAM}`, ['stream.syncflow.io'], {
      headers: { cookie },
      origin: local.origin,
    });
    const [message] = (await once(socket, 'message')) as [Buffer];
    socket.close();
    expect(JSON.parse(message.toString())).to.deep.equal({
      type: 'ADDED',
      url: STREAM,
      authorization: 'Bearer kubeconfig-token',
      protocols: 'stream.syncflow.io',
    });
    expect((await raw(`${local.origin}${STREAM}`, { cookie })).status).to.equal(403);
    const foreign = new WebSocket(`${local.origin.replace('http', 'ws')}${STREAM}`, ['stream.syncflow.io'], {
      headers: { cookie },
      origin: 'http://evil.example',
    });
    foreign.on('error', () => undefined);
    const [, response] = (await once(foreign, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(response.statusCode).to.equal(403);
    foreign.terminate();
  });

  it('refuses to listen on a non-loopback address', async () => {
    let error: Error | undefined;
    try {
      await startLocalConsole({
        kubeConfig: kubeConfigFor('http://127.0.0.1:1'),
        distDir: dist,
        port: 0,
        address: '0.0.0.0',
      });
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).to.match(/loopback/);
    const result = await cli('console', '--address', '0.0.0.0', '--port', '0');
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(/--address 0\.0\.0\.0 is not a loopback address/);
  });

  it('console --help lists its flags; a bad port is a usage error', async () => {
    const help = await cli('console', '--help');
    expect(help.code).to.equal(0);
    for (const flag of ['--kubeconfig', '--port', '--address', '--open'])
      expect(help.stdout).to.match(new RegExp(`^  (-\\w, )?${flag}\\b`, 'm'));
    const bad = await cli('console', '--port', 'x');
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/--port takes a number from 0 to 65535/);
  });

  it('fails with the command to build the console when it has not been built', async () => {
    let stderr = '';
    const code = await consoleCommand(
      ['--port', '0'],
      { stdout: { write: () => true }, stderr: { write: (s: string) => (stderr += s) }, cwd: process.cwd() },
      { distDir: undefined },
    );
    expect(code).to.equal(1);
    expect(stderr).to.match(/bash hack\/console\.sh/);
  });
});
