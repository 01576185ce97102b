import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultProfile } from '../../src/domain/acme/policy.ts';
import { P } from '../../src/security/permissions.ts';
import { opensslVerify } from '../certificates/openssl.ts';
import { approval, createRole, createUser, noop, publishedDefinition } from '../support/fixtures.ts';
import { waitFor } from '../support/until.ts';
import { freePort, run, startAcmeApp, tool, txtServer, type AcmeTestApp } from './support.ts';

/*
 * Real ACME clients (Debian's certbot and lego) against Countersign over HTTPS with its
 * self-issued certificate: issuance without approval, an approval over the Keyfactor API
 * releasing a waiting order, a denial failing the client with the approver's comment.
 */

const hasCertbot = tool('/usr/bin/certbot');
const hasLego = tool('/usr/bin/lego');

let app: AcmeTestApp;
let port: number;
let dns: Awaited<ReturnType<typeof txtServer>>;
let dnsDir: string;
let rootFile: string;
let bob: { id: number; auth: string };

const PEM = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g;

beforeAll(async () => {
  port = await freePort();
  dnsDir = mkdtempSync(join(tmpdir(), 'acme-dns-'));
  dns = await txtServer(dnsDir);
  const names = ['web.example.test', 'lego.example.test', 'wait.example.test', 'deny.example.test', 'legodns.example.test', 'lwait.example.test', 'ldeny.example.test'];
  app = await startAcmeApp({ httpPort: port, resolve: Object.fromEntries(names.map((n) => [n, '127.0.0.1'])), dnsServer: dns.address });
  rootFile = join(mkdtempSync(join(tmpdir(), 'acme-root-')), 'root.pem');
  writeFileSync(rootFile, app.rootPem);
  // A profile whose template has an Enrollment workflow with one approval.
  const s = app.server.services.store;
  bob = await createUser(s, 'bob');
  const approvers = await createRole(s, 'Approvers', [P.instancesReadPending], [bob.id]);
  const template = (await app.call('POST', '/KeyfactorAPI/Templates', { body: { CommonName: 'AcmeApproved', ValidityDays: 30 }, unchecked: true })).body;
  await publishedDefinition(app, [noop('Start', 'Approve'), approval('Approve', 'End', [approvers]), noop('End')], { key: String(template.Id) });
  await s.acme.putProfile({ ...defaultProfile('approved'), template: 'AcmeApproved' });
}, 60_000);
afterAll(async () => {
  await app?.close();
  await dns?.close();
});

const dirs = (dir: string) => ['--config-dir', join(dir, 'config'), '--work-dir', join(dir, 'work'), '--logs-dir', join(dir, 'logs')];

function certbot(name: string, dir: string, profile = '') {
  return run(
    'certbot',
    [
      'certonly',
      '--standalone',
      '--non-interactive',
      '--agree-tos',
      '--register-unsafely-without-email',
      '--http-01-port',
      String(port),
      '--http-01-address',
      '127.0.0.1',
      '--server',
      `${app.url}/ACME${profile}/directory`,
      ...dirs(dir),
      '-d',
      name,
    ],
    { REQUESTS_CA_BUNDLE: rootFile },
  );
}

function lego(name: string, dir: string, opts: { dns?: boolean; profile?: string } = {}) {
  const challenge = opts.dns ? ['--dns', 'exec', '--dns.resolvers', dns.address, '--dns.disable-cp'] : ['--http', '--http.port', `127.0.0.1:${port}`];
  const script = join(dir, 'hook.sh');
  // lego's exec provider: `hook.sh present|cleanup <fqdn.> <value>`; the test's DNS server reads the file.
  writeFileSync(script, `#!/bin/sh\nname=$(echo "$2" | sed 's/\\.$//')\n[ "$1" = present ] && printf '%s' "$3" > "${dnsDir}/$name"\nexit 0\n`);
  chmodSync(script, 0o755);
  return run(
    'lego',
    ['--server', `${app.url}/ACME${opts.profile ?? ''}/directory`, '--email', 'ops@example.test', '--accept-tos', '--path', dir, '--domains', name, ...challenge, 'run'],
    { LEGO_CA_CERTIFICATES: rootFile, EXEC_PATH: script },
  );
}

async function pendingInstance(cn: string, client: Promise<{ code: number | null; output: string }>): Promise<string> {
  let ended: string | null = null;
  void client.then((r) => (ended = `the client ended (${r.code}) before its request waited:\n${r.output}`));
  return waitFor(
    `a waiting request for ${cn}`,
    async () => {
      if (ended) throw new Error(ended);
      const r = await app.call('GET', '/KeyfactorAPI/Workflow/Instances/AssignedToMe', { auth: bob.auth });
      return (r.body as { Id: string; Title: string }[]).find((i) => i.Title.includes(cn))?.Id;
    },
    60_000,
    250,
  );
}

const signal = (id: string, approved: boolean, comment: string) =>
  app.call('POST', `/KeyfactorAPI/Workflow/Instances/${id}/Signals`, {
    auth: bob.auth,
    body: { SignalKey: 'Approve.ApprovalStatus', Data: { Approved: approved, Comment: comment } },
  });

describe.runIf(hasCertbot)('certbot certonly --standalone', () => {
  it('gets a certificate openssl verifies, without approval', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'certbot-'));
    const r = await certbot('web.example.test', dir);
    expect(r.code, r.output).toBe(0);
    const chain = readFileSync(join(dir, 'config/live/web.example.test/fullchain.pem'), 'utf8').match(PEM)!;
    expect(opensslVerify(chain[0]!, [...chain.slice(1), app.rootPem])).toContain('OK');

    // certbot revoke: signed by the account that ordered it; recorded in the certificate's history.
    const revoke = await run(
      'certbot',
      [
        'revoke',
        '--non-interactive',
        '--no-delete-after-revoke',
        '--reason',
        'keycompromise',
        '--cert-path',
        join(dir, 'config/live/web.example.test/cert.pem'),
        '--server',
        app.directory,
        ...dirs(dir),
      ],
      { REQUESTS_CA_BUNDLE: rootFile },
    );
    expect(revoke.code, revoke.output).toBe(0);
    const thumbprint = new X509Certificate(chain[0]!).fingerprint.replace(/:/g, '');
    const cert = (await app.server.services.store.certificates.findCertificate({ thumbprint }))!;
    const history = await app.server.services.store.certificates.listCertificateHistory(cert.id);
    // Through the Revocation workflow: recorded with the reason, and in the CA's revocation status (CRL, OCSP).
    expect(history.find((h) => h.action === 'Revoked')?.comment).toMatch(/Key compromised: Revoked over ACME/);
    expect((await app.server.services.store.certificates.getCertificate(cert.id))?.revocation?.reason).toBe(1);
  }, 120_000);

  it('waits for approval; an approval over the Keyfactor API releases the certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'certbot-'));
    const running = certbot('wait.example.test', dir, '/approved');
    const id = await pendingInstance('wait.example.test', running);
    // The approver sees the ACME account, identifiers and validation results.
    const instance = await app.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`, { auth: bob.auth });
    expect(JSON.stringify(instance.body.InitialData)).toMatch(/http-01 valid/);
    expect(instance.body.InitialData.ACME.Identifiers).toEqual(['dns:wait.example.test']);
    expect((await signal(id, true, 'ok')).status).toBe(204);
    const r = await running;
    expect(r.code, r.output).toBe(0);
    const chain = readFileSync(join(dir, 'config/live/wait.example.test/fullchain.pem'), 'utf8').match(PEM)!;
    expect(opensslVerify(chain[0]!, [...chain.slice(1), app.rootPem])).toContain('OK');
  }, 120_000);

  it('a denial fails certbot with the approver comment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'certbot-'));
    const running = certbot('deny.example.test', dir, '/approved');
    const id = await pendingInstance('deny.example.test', running);
    expect((await signal(id, false, 'not a host we run')).status).toBe(204);
    const r = await running;
    expect(r.code).not.toBe(0);
    // certbot 2.1 prints only the error class; the order's problem document, comment included, is in its log.
    expect(r.output).toContain('IssuanceError');
    expect(readFileSync(join(dir, 'logs/letsencrypt.log'), 'utf8')).toContain('Denied: bob: not a host we run');
  }, 120_000);
});

describe.runIf(hasLego)('lego', () => {
  it('http-01: gets a certificate openssl verifies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lego-'));
    const r = await lego('lego.example.test', dir);
    expect(r.code, r.output).toBe(0);
    const chain = readFileSync(join(dir, 'certificates/lego.example.test.crt'), 'utf8').match(PEM)!;
    expect(opensslVerify(chain[0]!, [...chain.slice(1), app.rootPem])).toContain('OK');
  }, 120_000);

  it('dns-01 through its exec provider and the test DNS server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lego-'));
    const r = await lego('legodns.example.test', dir, { dns: true });
    expect(r.code, r.output).toBe(0);
    const chain = readFileSync(join(dir, 'certificates/legodns.example.test.crt'), 'utf8').match(PEM)!;
    expect(opensslVerify(chain[0]!, [...chain.slice(1), app.rootPem])).toContain('OK');
  }, 120_000);

  it('waits for approval and then gets the certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lego-'));
    const running = lego('lwait.example.test', dir, { profile: '/approved' });
    const id = await pendingInstance('lwait.example.test', running);
    expect((await signal(id, true, 'fine')).status).toBe(204);
    const r = await running;
    expect(r.code, r.output).toBe(0);
  }, 120_000);

  it('a denial fails lego with the approver comment in its error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lego-'));
    const running = lego('ldeny.example.test', dir, { profile: '/approved' });
    const id = await pendingInstance('ldeny.example.test', running);
    expect((await signal(id, false, 'use the internal CA for this')).status).toBe(204);
    const r = await running;
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('use the internal CA for this');
  }, 120_000);
});
