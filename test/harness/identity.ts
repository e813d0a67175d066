// Client-certificate identities signed by the control plane's client CA: real authentication (unlike
// impersonation) for clients that cannot impersonate groups, such as @kubernetes/client-node.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A user name and its groups, as Kubernetes sees them (certificate CN and O). */
export interface ClientIdentity {
  user: string;
  groups?: string[];
}

/** Inputs of {@link mintClientIdentity}. */
export interface MintOptions {
  caFile: string;
  caKeyFile: string;
  identity: ClientIdentity;
}

/** Paths of a freshly minted client certificate and key (in a temp directory removed at exit). */
export interface MintedIdentity {
  certFile: string;
  keyFile: string;
}

const SUBJECT_VALUE = /^[A-Za-z0-9:._@-]+$/;

/** Issues a short-lived client certificate for `identity` with openssl. */
export async function mintClientIdentity({
  caFile,
  caKeyFile,
  identity,
}: MintOptions): Promise<MintedIdentity> {
  const names = [identity.user, ...(identity.groups ?? [])];
  const bad = names.filter((name) => !SUBJECT_VALUE.test(name));
  if (bad.length > 0) throw new Error(`unsupported characters in identity names: ${bad.join(', ')}`);
  const dir = await mkdtemp(join(tmpdir(), 'syncflow-identity-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, 'client.key');
  const csrFile = join(dir, 'client.csr');
  const certFile = join(dir, 'client.crt');
  const subject = [...(identity.groups ?? []).map((group) => `/O=${group}`), `/CN=${identity.user}`].join('');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  await execFileAsync('openssl', [
    'req',
    '-new',
    '-nodes',
    ...ec,
    '-keyout',
    keyFile,
    '-out',
    csrFile,
    '-subj',
    subject,
  ]);
  const extFile = join(dir, 'client.ext');
  await writeFile(
    extFile,
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n',
  );
  await execFileAsync('openssl', [
    'x509',
    '-req',
    '-in',
    csrFile,
    '-CA',
    caFile,
    '-CAkey',
    caKeyFile,
    '-CAcreateserial',
    '-CAserial',
    join(dir, 'ca.srl'),
    '-days',
    '1',
    '-extfile',
    extFile,
    '-out',
    certFile,
  ]);
  return { certFile, keyFile };
}
