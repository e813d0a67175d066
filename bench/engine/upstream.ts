/**
 * Mock upstream for the engine benchmark, run as its own process so that serving requests does not
 * compete with the system under test for its event loop. `GET /delay/<ms>` answers a small JSON
 * body after <ms> milliseconds (0: immediately). Prints `PORT <n>` when listening; loopback only.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const BODY = JSON.stringify({ id: 'u-1', email: 'a@b.c', v: 1, items: [{ sku: 's1', qty: 2 }] });
const HEADERS = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(BODY)) };

const server = createServer((req, res) => {
  const match = /^\/delay\/(\d+)/.exec(req.url ?? '');
  const ms = match ? Number(match[1]) : 0;
  req.resume();
  const answer = () => res.writeHead(200, HEADERS).end(BODY);
  if (ms > 0) setTimeout(answer, ms);
  else answer();
});
server.keepAliveTimeout = 60_000;
server.maxRequestsPerSocket = 0;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`PORT ${(server.address() as AddressInfo).port}\n`);
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
