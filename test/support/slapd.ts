import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { until } from './until.ts';

/*
 * A real OpenLDAP server (Debian's slapd) started by a test: its own configuration and database in
 * a temporary folder, on free loopback ports, plain LDAP and LDAPS (with a CA made by openssl).
 * The test adds people and groups through the root DN. Missing slapd: the test is skipped locally
 * and fails under CI=true (see slapdMissing).
 */

export const SUFFIX = 'dc=example,dc=test';
export const ROOT_DN = `cn=admin,${SUFFIX}`;
const ROOT_PW = 'root-secret-pw';
const SLAPD = ['/usr/sbin/slapd', '/usr/local/sbin/slapd'].find((p) => existsSync(p));

/** Why the directory tests cannot run here; null when they can. */
export function slapdMissing(): string | null {
  if (SLAPD && existsSync('/etc/ldap/schema/inetorgperson.schema')) return null;
  const why = 'slapd is not installed (apt-get install slapd ldap-utils)';
  if (process.env.CI === 'true') throw new Error(`${why}: required under CI.`);
  return why;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TestDirectory {
  url: string;
  ldapsUrl: string;
  /** PEM of the CA that issued the LDAPS certificate. */
  caFile: string;
  addUser(uid: string, password: string, attrs?: Record<string, string>): Promise<string>;
  addGroup(cn: string, memberUids: string[]): Promise<string>;
  close(): Promise<void>;
}

function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const ca = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const cert = join(dir, 'server.pem');
  const ext = join(dir, 'ext.cnf');
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', ca, '-days', '2', '-subj', '/CN=Test LDAP CA');
  ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1');
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ossl('x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext);
  return { ca, cert, key };
}

export async function startSlapd(): Promise<TestDirectory> {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-slapd-'));
  mkdirSync(join(dir, 'db'));
  const tls = makeCertificates(dir);
  const conf = join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    [
      'include /etc/ldap/schema/core.schema',
      'include /etc/ldap/schema/cosine.schema',
      'include /etc/ldap/schema/inetorgperson.schema',
      'include /etc/ldap/schema/nis.schema',
      `pidfile ${join(dir, 'slapd.pid')}`,
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      `TLSCACertificateFile ${tls.ca}`,
      `TLSCertificateFile ${tls.cert}`,
      `TLSCertificateKeyFile ${tls.key}`,
      'database mdb',
      'maxsize 10485760',
      `suffix "${SUFFIX}"`,
      `rootdn "${ROOT_DN}"`,
      `rootpw ${ROOT_PW}`,
      `directory ${join(dir, 'db')}`,
      // People authenticate against their password; signed-in users read the tree; nobody else anything.
      'access to attrs=userPassword by self write by anonymous auth by * none',
      'access to * by users read by * none',
      '',
    ].join('\n'),
  );
  let child: ChildProcess | null = null;
  let url = '';
  let ldapsUrl = '';
  let output = '';
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    const [port, tlsPort] = [await freePort(), await freePort()];
    url = `ldap://127.0.0.1:${port}`;
    ldapsUrl = `ldaps://127.0.0.1:${tlsPort}`;
    const c = spawn(SLAPD!, ['-f', conf, '-h', `${url}/ ${ldapsUrl}/`, '-d', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout!.on('data', (d) => (output += d));
    c.stderr!.on('data', (d) => (output += d));
    let exited = false;
    c.on('exit', () => (exited = true));
    const up = await until(async () => {
      if (exited) return 'exited';
      const client = new Client({ url });
      try {
        await client.bind(ROOT_DN, ROOT_PW);
        return 'up';
      } catch {
        return undefined;
      } finally {
        await client.unbind().catch(() => {});
      }
    }, 20_000).catch(() => 'timeout');
    if (up === 'up') child = c;
    else c.kill('SIGKILL');
  }
  if (!child) throw new Error(`slapd did not start: ${output.slice(-2000)}`);

  const admin = new Client({ url });
  await admin.bind(ROOT_DN, ROOT_PW);
  await admin.add(SUFFIX, { objectClass: ['dcObject', 'organization'], dc: 'example', o: 'Example' });
  await admin.add(`ou=people,${SUFFIX}`, { objectClass: 'organizationalUnit', ou: 'people' });
  await admin.add(`ou=groups,${SUFFIX}`, { objectClass: 'organizationalUnit', ou: 'groups' });

  const running = child;
  return {
    url,
    ldapsUrl,
    caFile: tls.ca,
    async addUser(uid, password, attrs = {}) {
      const dn = `uid=${uid},ou=people,${SUFFIX}`;
      await admin.add(dn, { objectClass: ['inetOrgPerson'], uid, cn: uid, sn: uid, userPassword: password, mail: `${uid}@example.test`, ...attrs });
      return dn;
    },
    async addGroup(cn, memberUids) {
      const dn = `cn=${cn},ou=groups,${SUFFIX}`;
      await admin.add(dn, { objectClass: 'groupOfNames', cn, member: memberUids.map((u) => `uid=${u},ou=people,${SUFFIX}`) });
      return dn;
    },
    async close() {
      await admin.unbind().catch(() => {});
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
      running.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (running.exitCode === null) running.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
