import { expect } from 'chai';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { RequestOptions } from 'node:https';
import { stringify } from 'yaml';
import { KubeConfigError, RestConfig, loadInClusterConfig, loadKubeConfigFile } from './config.ts';
import { ExecCredentialError } from './exec-credential.ts';

const b64 = (text: string): string => Buffer.from(text).toString('base64');

describe('RestConfig', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'syncflow-restconfig-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const kubeconfig = (document: object): string => {
    const path = join(dir, 'kubeconfig');
    writeFileSync(path, stringify(document));
    return path;
  };
  const document = (user: object, cluster: object = {}, context: object = {}) => ({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'other', cluster: { server: 'https://other:6443' } },
      { name: 'dev', cluster: { server: 'https://127.0.0.1:6443', ...cluster } },
    ],
    users: [{ name: 'me', user }],
    contexts: [
      { name: 'ctx', context: { cluster: 'dev', user: 'me', ...context } },
      { name: 'other', context: { cluster: 'other', user: 'me' } },
    ],
    'current-context': 'ctx',
  });

  describe('from a kubeconfig file', () => {
    it('takes the current context: CA and client certificate from files (relative to the kubeconfig), namespace', async () => {
      mkdirSync(join(dir, 'pki'));
      writeFileSync(join(dir, 'pki/ca.crt'), 'CA PEM');
      writeFileSync(join(dir, 'pki/me.crt'), 'CERT PEM');
      writeFileSync(join(dir, 'pki/me.key'), 'KEY PEM');
      const config = await loadKubeConfigFile(
        kubeconfig(
          document(
            { 'client-certificate': 'pki/me.crt', 'client-key': join(dir, 'pki/me.key') },
            { 'certificate-authority': 'pki/ca.crt' },
            { namespace: 'shop' },
          ),
        ),
      );
      expect(config.server.href).to.equal('https://127.0.0.1:6443/');
      expect(config).to.include({ ca: 'CA PEM', cert: 'CERT PEM', key: 'KEY PEM', namespace: 'shop' });
      expect(config.insecureSkipTLSVerify).to.equal(false);
      expect(config.authorization()).to.equal(undefined);
    });

    it('takes the -data fields (base64), a token and insecure-skip-tls-verify; namespace defaults to default', async () => {
      const config = await loadKubeConfigFile(
        kubeconfig(
          document(
            { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY'), token: 'tok' },
            { 'certificate-authority-data': b64('CA'), 'insecure-skip-tls-verify': true },
          ),
        ),
      );
      expect(config).to.include({ ca: 'CA', cert: 'CERT', key: 'KEY', namespace: 'default' });
      expect(config.insecureSkipTLSVerify).to.equal(true);
      expect(config.authorization()).to.equal('Bearer tok');
    });

    it('reads a JSON kubeconfig, and names a file that is neither YAML nor JSON', async () => {
      const path = join(dir, 'kubeconfig.json');
      writeFileSync(path, JSON.stringify(document({ token: 'json' })));
      expect((await loadKubeConfigFile(path)).authorization()).to.equal('Bearer json');
      writeFileSync(path, '{ not json');
      const error = await loadKubeConfigFile(path).then(
        () => expect.fail('expected a rejection'),
        (e: Error) => e,
      );
      expect(error.message).to.match(/kubeconfig\.json: not YAML or JSON: /);
    });

    it('reads a tokenFile (relative to the kubeconfig)', async () => {
      writeFileSync(join(dir, 'token'), 'file-token\n');
      const config = await loadKubeConfigFile(kubeconfig(document({ tokenFile: 'token' })));
      expect(config.authorization()).to.equal('Bearer file-token');
    });

    it('refuses what the server cannot use, naming the file and the field', async () => {
      const cases: Array<[object, RegExp]> = [
        [{ ...document({}), 'current-context': 'missing' }, /contexts: no context named "missing"/],
        [{ ...document({}), 'current-context': '' }, /current-context is not set/],
        [
          document({ 'auth-provider': { name: 'oidc' } }),
          /users\[me\]\.auth-provider is not supported \(kubectl removed it too\); use an exec credential plugin/,
        ],
        [document({ username: 'u', password: 'p' }), /users\[me\]\.username is not supported by the server/],
        [
          document({ exec: { apiVersion: 'client.authentication.k8s.io/v1alpha1', command: 'aws' } }),
          /users\[me\]\.exec\.apiVersion must be client\.authentication\.k8s\.io\/v1 or \/v1beta1/,
        ],
        [
          document({ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws' } }),
          /users\[me\]\.exec\.interactiveMode must be set \(Never or IfAvailable\) for apiVersion v1/,
        ],
        [
          document({
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1',
              command: 'kubelogin',
              interactiveMode: 'Always',
            },
          }),
          /users\[me\]\.exec\.interactiveMode Always needs a terminal; the server never runs a plugin interactively/,
        ],
        [
          document({
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1beta1',
              command: 'x',
              interactiveMode: 'Sometimes',
            },
          }),
          /users\[me\]\.exec\.interactiveMode must be Never, IfAvailable or Always/,
        ],
        [
          document({ exec: { apiVersion: 'client.authentication.k8s.io/v1beta1' } }),
          /users\[me\]\.exec\.command is not set/,
        ],
        [
          document({
            exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'x', args: ['a', 1] },
          }),
          /users\[me\]\.exec\.args\[1\] is not a string/,
        ],
        [
          document({
            exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: 'x', env: [{ name: 'A' }] },
          }),
          /users\[me\]\.exec\.env\[0\] needs a name and a value/,
        ],
        [document({ 'client-certificate-data': b64('C') }), /a client certificate needs its key/],
        [document({}, { server: 'ftp://x' }), /is not an http\(s\) URL/],
        [
          document({ 'client-certificate': 'absent.crt', 'client-key': 'absent.key' }),
          /users\[me\]\.client-certificate: ENOENT/,
        ],
        [
          { ...document({}), contexts: [{ name: 'ctx', context: { cluster: 'nope', user: 'me' } }] },
          /clusters: no cluster named "nope"/,
        ],
        [
          { ...document({}), contexts: [{ name: 'ctx', context: { cluster: 'dev', user: 'nobody' } }] },
          /users: no user named "nobody"/,
        ],
      ];
      for (const [doc, message] of cases) {
        const path = kubeconfig(doc);
        const error = await loadKubeConfigFile(path).then(
          () => expect.fail(`expected ${message} to be refused`),
          (e: Error) => e,
        );
        expect(error).to.be.instanceOf(KubeConfigError);
        expect(error.message).to.match(message).and.contain(path);
      }
    });
  });

  it('takes an exec plugin: a command with a path is found beside the kubeconfig, and the credential comes from it', async () => {
    const config = await loadKubeConfigFile(
      kubeconfig(
        document({
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1beta1',
            command: './bin/get-token',
            args: ['x'],
          },
        }),
      ),
    );
    expect(config.authorization()).to.equal(undefined);
    const error = await config.credential().then(
      () => expect.fail('expected a rejection'),
      (e: Error) => e,
    );
    expect(error.message).to.equal(
      `the credential plugin get-token is not installed (${join(dir, 'bin/get-token')} was not found)`,
    );
  });

  describe('a credential plugin', () => {
    const V1 = 'client.authentication.k8s.io/v1';
    /** A RestConfig whose plugin is node printing `stdout` (or running `script`). */
    const printing = (stdout: string, script = `process.stdout.write(${JSON.stringify(stdout)})`) =>
      new RestConfig({
        server: 'https://k',
        exec: { apiVersion: V1, command: process.execPath, args: ['-e', script], env: {}, timeoutMs: 2_000 },
      });
    const credential = (status: object, apiVersion = V1): string =>
      JSON.stringify({ apiVersion, kind: 'ExecCredential', status });

    it('refuses what it printed when it is no usable ExecCredential, naming the field and never a value', async () => {
      const cases: Array<[string, RegExp]> = [
        [JSON.stringify({ kind: 'Other' }), /printed no ExecCredential \(kind\)/],
        [
          credential({ token: 'secret-a' }, 'client.authentication.k8s.io/v1beta1'),
          /printed an ExecCredential of another apiVersion than client\.authentication\.k8s\.io\/v1$/,
        ],
        [
          JSON.stringify({ apiVersion: V1, kind: 'ExecCredential' }),
          /printed an ExecCredential without status/,
        ],
        [credential({ token: 7 }), /status\.token is not a string/],
        [credential({ clientCertificateData: 'secret-b' }), /a client certificate without its key/],
        [credential({}), /printed neither a token nor a client certificate and key/],
        [
          credential({ token: 'secret-c', expirationTimestamp: 'soon' }),
          /status\.expirationTimestamp is not a time/,
        ],
      ];
      for (const [stdout, message] of cases) {
        const error = await printing(stdout)
          .credential()
          .then(
            () => expect.fail(`expected ${message} to be refused`),
            (e: Error) => e,
          );
        expect(error).to.be.instanceOf(ExecCredentialError);
        expect(error.message).to.match(message).and.not.contain('secret');
      }
    });

    it('stops a plugin that does not finish in time, and one that prints too much', async () => {
      const slow = await printing('', 'setTimeout(() => {}, 60000)')
        .credential()
        .catch((e: Error) => e);
      expect((slow as Error).message).to.equal(
        `the credential plugin ${basename(process.execPath)} did not finish within 2 s`,
      );
      const loud = await printing('', 'process.stdout.write("x".repeat(2 * 1024 * 1024))')
        .credential()
        .catch((e: Error) => e);
      expect((loud as Error).message).to.match(/printed more than 1048576 bytes/);
    });

    it('accepts interactiveMode IfAvailable and Never, and refuses an exec entry that is not a mapping', async () => {
      for (const interactiveMode of ['IfAvailable', 'Never']) {
        const config = await loadKubeConfigFile(
          kubeconfig(document({ exec: { apiVersion: V1, command: 'get-token', interactiveMode } })),
        );
        expect(config.hasCredentialPlugin).to.equal(true);
      }
      const error = await loadKubeConfigFile(kubeconfig(document({ exec: 'get-token' }))).catch(
        (e: Error) => e,
      );
      expect((error as Error).message).to.match(/users\[me\]\.exec is not a mapping/);
    });
  });

  describe('in the cluster', () => {
    const serviceAccount = (files: Record<string, string>): string => {
      const sa = join(dir, 'sa');
      mkdirSync(sa, { recursive: true });
      for (const [name, text] of Object.entries(files)) writeFileSync(join(sa, name), text);
      return sa;
    };

    it('uses KUBERNETES_SERVICE_HOST/PORT, the CA, the namespace and the token of the service account', () => {
      const sa = serviceAccount({ token: 't1\n', 'ca.crt': 'SA CA', namespace: 'syncflow-system' });
      const config = loadInClusterConfig({
        env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' },
        dir: sa,
      });
      expect(config.server.href).to.equal('https://10.96.0.1/');
      expect(config).to.include({ ca: 'SA CA', namespace: 'syncflow-system' });
      expect(config.authorization()).to.equal('Bearer t1');
    });

    it('puts an IPv6 service host in brackets', () => {
      const sa = serviceAccount({ token: 't', 'ca.crt': 'CA' });
      const config = loadInClusterConfig({
        env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' },
        dir: sa,
      });
      expect(config.server.host).to.equal('[fd00::1]:6443');
      expect(config.namespace).to.equal('default');
    });

    it('says to give --kubeconfig outside a cluster, and fails at start without a token', () => {
      expect(() => loadInClusterConfig({ env: {}, dir })).to.throw(KubeConfigError, /give --kubeconfig/);
      const sa = serviceAccount({ 'ca.crt': 'CA' });
      expect(() =>
        loadInClusterConfig({ env: { KUBERNETES_SERVICE_HOST: 'h', KUBERNETES_SERVICE_PORT: '1' }, dir: sa }),
      ).to.throw(/ENOENT/);
    });
  });

  it('re-reads a rotated token file after a minute, and keeps the last token while the file is unreadable', () => {
    let now = 0;
    let token: string | undefined = 'first';
    const config = new RestConfig({
      server: 'https://k',
      tokenFile: '/sa/token',
      now: () => now,
      readFile: () => {
        if (token === undefined) throw new Error('ENOENT');
        return token;
      },
    });
    expect(config.authorization()).to.equal('Bearer first');
    token = 'second';
    now = 59_000;
    expect(config.authorization()).to.equal('Bearer first');
    now = 60_000;
    expect(config.authorization()).to.equal('Bearer second');
    token = undefined;
    now = 200_000;
    expect(config.authorization()).to.equal('Bearer second');
  });

  it('lends its cluster without credentials, and sets node:https options with them', async () => {
    const config = new RestConfig({ server: 'https://k:6443', ca: 'CA', cert: 'C', key: 'K', token: 't' });
    const options: RequestOptions = { headers: { Accept: 'x' } };
    await config.applyToHTTPSOptions(options);
    expect(options).to.deep.include({ ca: 'CA', cert: 'C', key: 'K' });
    expect(options.headers).to.deep.equal({ Accept: 'x', Authorization: 'Bearer t' });
    const anonymous = config.withoutCredentials();
    expect(anonymous.getCurrentCluster()).to.deep.equal({ server: 'https://k:6443/' });
    const bare: RequestOptions = {};
    await anonymous.applyToHTTPSOptions(bare);
    expect(bare).to.deep.equal({ ca: 'CA' });
    const insecure: RequestOptions = {};
    await new RestConfig({ server: 'https://k', insecureSkipTLSVerify: true }).applyToHTTPSOptions(insecure);
    expect(insecure).to.deep.equal({ rejectUnauthorized: false });
  });
});
