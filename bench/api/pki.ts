/**
 * Throwaway certificates for the gateway benchmark, made with openssl in a temp directory: a serving
 * CA and the server's certificate (127.0.0.1), and a front-proxy CA with the `front-proxy-client`
 * certificate kube-apiserver's aggregator presents.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEM contents of the benchmark's certificates. */
export interface BenchPki {
  servingCa: string;
  serverCert: string;
  serverKey: string;
  frontProxyCa: string;
  frontProxyCert: string;
  frontProxyKey: string;
}

/**
 * Makes a self-signed P-256 certificate for `/CN=<name>`, valid one day, as `<file>.key` and
 * `<file>.crt` in `dir` (`file` defaults to the name): a CA, or a server's own certificate.
 */
export async function selfSignedCertificate(dir: string, name: string, file = name): Promise<void> {
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    join(dir, `${file}.key`),
    '-out',
    join(dir, `${file}.crt`),
  ]);
}

async function leaf(dir: string, name: string, issuer: string, extension: string): Promise<void> {
  await run('openssl', [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    join(dir, `${name}.key`),
    '-out',
    join(dir, `${name}.csr`),
  ]);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, `${extension}\n`);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    join(dir, `${name}.csr`),
    '-CA',
    join(dir, `${issuer}.crt`),
    '-CAkey',
    join(dir, `${issuer}.key`),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    ext,
    '-out',
    join(dir, `${name}.crt`),
  ]);
}

/** Generates the certificates and removes the files. */
export async function makeBenchPki(): Promise<BenchPki> {
  const dir = await mkdtemp(join(tmpdir(), 'syncflow-bench-pki-'));
  try {
    await selfSignedCertificate(dir, 'serving-ca');
    await selfSignedCertificate(dir, 'front-proxy-ca');
    await leaf(dir, 'server', 'serving-ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth');
    await leaf(dir, 'front-proxy-client', 'front-proxy-ca', 'extendedKeyUsage=clientAuth');
    const read = (file: string) => readFile(join(dir, file), 'utf8');
    return {
      servingCa: await read('serving-ca.crt'),
      serverCert: await read('server.crt'),
      serverKey: await read('server.key'),
      frontProxyCa: await read('front-proxy-ca.crt'),
      frontProxyCert: await read('front-proxy-client.crt'),
      frontProxyKey: await read('front-proxy-client.key'),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
