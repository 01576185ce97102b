import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { checkAddress, checkHost, checkUrl, DEFAULT_EGRESS_POLICY, egressPolicy, parseEgressRules } from '../../src/domain/egress.ts';
import { destinationChanges, destinationOf, keepSecrets } from '../../src/domain/secrets.ts';
import { insideJsonString, jsonValue, urlComponent } from '../../src/domain/token-encoding.ts';
import { substituteTokens, type TokenScope } from '../../src/domain/tokens.ts';
import type { StepDef } from '../../src/domain/types.ts';
import { defaultRegistry } from '../../src/steps/index.ts';
import { oauthRestRequestStep } from '../../src/steps/rest/oauth-rest.ts';
import { redact } from '../../src/steps/support/support.ts';

const none = DEFAULT_EGRESS_POLICY;
const ok = { ok: true };

describe('egress policy', () => {
  it('by default allows public addresses and names, denies loopback, private, link-local, metadata and special ranges', () => {
    expect(checkAddress(none, '93.184.216.34')).toEqual(ok);
    expect(checkAddress(none, '2606:2800:220:1::1')).toEqual(ok);
    expect(checkHost(none, 'api.example.com')).toEqual(ok);
    for (const a of [
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      'fc00::1',
      'fd00:ec2::254',
      '100.64.0.1',
      '100.100.100.200',
      '169.254.169.254',
      'fe80::1',
      '0.0.0.0',
      '::',
      '224.0.0.1',
      '255.255.255.255',
      '192.0.0.192',
      '::ffff:169.254.169.254',
      '::ffff:127.0.0.1',
      '[::1]',
    ])
      expect(checkAddress(none, a).ok, a).toBe(false);
    for (const h of ['localhost', 'LOCALHOST.', 'x.localhost', 'metadata.google.internal', 'Metadata.Google.Internal.', 'metadata.goog', '169.254.169.254', '[fe80::1]'])
      expect(checkHost(none, h).ok, h).toBe(false);
    expect(checkAddress(none, '169.254.169.254')).toEqual({ ok: false, reason: expect.stringContaining('link-local') });
    expect(checkAddress(none, '10.0.0.1')).toEqual({ ok: false, reason: expect.stringContaining('COUNTERSIGN_EGRESS_ALLOW') });
  });

  it('the allow list opens addresses, ranges and names; the deny list closes them and wins', () => {
    const p = egressPolicy('127.0.0.1, localhost, 10.0.0.0/8, internal.corp', 'api.evil.example, 203.0.113.0/24, 10.9.0.0/16');
    expect(checkAddress(p, '127.0.0.1')).toEqual(ok);
    expect(checkAddress(p, '::ffff:127.0.0.1')).toEqual(ok);
    expect(checkAddress(p, '127.0.0.2').ok).toBe(false);
    expect(checkHost(p, 'localhost')).toEqual(ok);
    expect(checkAddress(p, '10.200.3.4')).toEqual(ok);
    expect(checkAddress(p, '10.9.1.1').ok).toBe(false);
    expect(checkAddress(p, '203.0.113.7')).toEqual({ ok: false, reason: '203.0.113.7 is denied by COUNTERSIGN_EGRESS_DENY' });
    expect(checkHost(p, 'API.evil.example').ok).toBe(false);
    // An allowed name's resolved private address is allowed; the same address via another name is not.
    expect(checkAddress(p, '192.168.7.7', 'internal.corp')).toEqual(ok);
    expect(checkAddress(p, '192.168.7.7', 'other.corp').ok).toBe(false);
  });

  it('metadata needs an allow entry as narrow as link-local: 0.0.0.0/0 does not open it', () => {
    const broad = egressPolicy('0.0.0.0/0, ::/0', '');
    expect(checkAddress(broad, '10.0.0.1')).toEqual(ok);
    expect(checkAddress(broad, '169.254.169.254').ok).toBe(false);
    expect(checkAddress(broad, 'fe80::1').ok).toBe(false);
    expect(checkAddress(egressPolicy('169.254.169.254', ''), '169.254.169.254')).toEqual(ok);
    expect(checkHost(egressPolicy('metadata.google.internal', ''), 'metadata.google.internal')).toEqual(ok);
  });

  it('URLs: only http and https, no credentials', () => {
    expect(checkUrl(none, 'https://api.example.com/x')).toEqual(ok);
    expect(checkUrl(none, 'file:///etc/passwd')).toEqual({ ok: false, reason: 'must use http or https, not file:' });
    expect(checkUrl(none, 'gopher://example.com:25/')).toEqual({ ok: false, reason: 'must use http or https, not gopher:' });
    expect(checkUrl(none, 'http://169.254.169.254/latest/meta-data/').ok).toBe(false);
    expect(checkUrl(none, 'http://[::ffff:a9fe:a9fe]/').ok).toBe(false);
    expect(checkUrl(none, 'http://2852039166/').ok).toBe(false); // 169.254.169.254 as one number
    expect(checkUrl(none, 'http://0x7f.1/').ok).toBe(false); // 127.0.0.1 in hex
    expect(checkUrl(none, 'https://u:p@api.example.com/')).toEqual({ ok: false, reason: 'must not carry credentials' });
  });

  it('configuration: COUNTERSIGN_EGRESS_ALLOW and _DENY are read at start; unset means public addresses only', () => {
    const c = loadConfig({ COUNTERSIGN_EGRESS_ALLOW: '10.20.0.0/16, keyfactor.corp.example', COUNTERSIGN_EGRESS_DENY: '203.0.113.9' });
    const policy = c.steps!.egress!;
    expect(checkAddress(policy, '10.20.1.1')).toEqual(ok);
    expect(checkHost(policy, 'keyfactor.corp.example')).toEqual(ok);
    expect(checkAddress(policy, '203.0.113.9').ok).toBe(false);
    const dflt = loadConfig({}).steps!.egress!;
    expect(checkAddress(dflt, '127.0.0.1').ok).toBe(false);
    expect(checkAddress(dflt, '93.184.216.34')).toEqual(ok);
    expect(() => loadConfig({ COUNTERSIGN_EGRESS_ALLOW: '10.0.0.0/99' })).toThrow(/^COUNTERSIGN_EGRESS_ALLOW: '10.0.0.0\/99' is not a valid CIDR/);
  });

  it('bad list entries are refused naming the variable', () => {
    expect(() => parseEgressRules('10.0.0.0/33', 'COUNTERSIGN_EGRESS_ALLOW')).toThrow(/COUNTERSIGN_EGRESS_ALLOW: '10.0.0.0\/33' is not a valid CIDR/);
    expect(() => parseEgressRules('bad host!', 'COUNTERSIGN_EGRESS_DENY')).toThrow(/COUNTERSIGN_EGRESS_DENY: 'bad host!' is neither/);
    expect(parseEgressRules(' , ', 'X')).toEqual({ names: [], cidrs: [] });
  });
});

const scope: TokenScope = { data: { user: '../../admin?evil=1#', cn: 'x","admin":true,"y":"', n: 7, list: ['a', 'b'], host: 'api.example.com' }, metadata: {} };

describe('token encoders', () => {
  it('URL: path and query values are one percent-encoded component; a token starting the URL or host is inserted as written', () => {
    expect(substituteTokens('https://api.example.com/users/$(user)?q=$(user)', scope, urlComponent).text).toBe(
      `https://api.example.com/users/${encodeURIComponent('../../admin?evil=1#')}?q=${encodeURIComponent('../../admin?evil=1#')}`,
    );
    expect(substituteTokens('https://$(host)/a/$(n)', scope, urlComponent).text).toBe('https://api.example.com/a/7');
    expect(substituteTokens('https://api.$(user)/', scope, urlComponent).text).toBe(`https://api.${encodeURIComponent('../../admin?evil=1#')}/`);
    const u = new URL(substituteTokens('https://api.example.com/users/$(user)', scope, urlComponent).text);
    expect(u.pathname).toBe('/users/..%2F..%2Fadmin%3Fevil%3D1%23');
    expect(u.search).toBe('');
  });

  it('JSON: escaped inside strings, a JSON value outside them', () => {
    const body = substituteTokens('{"cn":"$(cn)","n":$(n),"who":$(cn),"list":$(list)}', scope, jsonValue).text;
    expect(JSON.parse(body)).toEqual({ cn: 'x","admin":true,"y":"', n: 7, who: 'x","admin":true,"y":"', list: ['a', 'b'] });
    expect(insideJsonString('{"a":"b\\"')).toBe(true);
    expect(insideJsonString('{"a":"b\\\\"')).toBe(false);
  });
});

describe('redact', () => {
  it('masks the secret in every form, Basic user:password in Base64, and whole header values', () => {
    const pw = 'pa:ss-Word1';
    const basic = Buffer.from(`svc:${pw}`).toString('base64');
    const msg = `echo ${pw} ${basic} Basic ${basic} ${encodeURIComponent(pw)} ${JSON.stringify(`a"${pw}`).slice(1, -1)}`;
    const out = redact(msg, [pw, `svc:${pw}`, `Basic ${basic}`]);
    expect(out).not.toContain(pw);
    expect(out).not.toContain(basic);
    expect(out).not.toContain(encodeURIComponent(pw));
    expect(out).toBe('echo *** *** *** *** a\\"***');
  });
});

const restStep = (url: string, extra: Record<string, unknown> = {}, ext = 'RESTRequest'): StepDef => ({
  id: 's',
  extensionName: ext,
  uniqueName: 'Call',
  displayName: 'Call',
  enabled: true,
  config: { Verb: 'GET', URL: url, DataBucketProperty: 'Out', Username: 'svc', Password: null, ...extra } as never,
  signals: [],
  conditions: [],
  outputs: {},
});

describe('secrets stay bound to their destination', () => {
  const registry = defaultRegistry();
  const stored = restStep('https://api.example.com/v1/x', { Password: 's3cret' });

  it('null keeps the secret while scheme, host and port stay; a new path is the same destination', () => {
    const r = keepSecrets([restStep('https://API.example.com:443/v2/other')], [stored], registry);
    expect(r.problems).toEqual([]);
    expect(r.steps[0].config.Password).toBe('s3cret');
  });

  it('a new host, port or scheme with null is a problem naming the parameter; a re-entered secret or "" is not', () => {
    for (const url of ['https://evil.example/v1/x', 'https://api.example.com:8443/v1/x', 'http://api.example.com/v1/x', 'https://$(host)/v1/x']) {
      const r = keepSecrets([restStep(url)], [stored], registry);
      expect(r.problems, url).toEqual([
        expect.stringMatching(
          /^Step 'Call': ConfigurationParameters\.Password: the stored secret is bound to its destination and URL \(from https:\/\/api\.example\.com to .+\) changed/,
        ),
      ]);
      expect(r.steps[0].config.Password).toBeNull();
    }
    expect(keepSecrets([restStep('https://evil.example/', { Password: 'new' })], [stored], registry).problems).toEqual([]);
    expect(keepSecrets([restStep('https://evil.example/', { Password: '' })], [stored], registry).steps[0].config.Password).toBe('');
  });

  it('the token endpoint is compared whole; a changed step type never carries a secret', () => {
    const ep = (e: string) => ({ TokenEndpoint: e, client_id: 'app', client_secret: null });
    const before = { ...restStep('https://graph.example/', { ...ep('https://login.example/tenant-a/token'), client_secret: 'cs' }, 'OAuthRESTRequest') };
    delete (before.config as Record<string, unknown>).Password;
    const moved = destinationChanges(oauthRestRequestStep, before.config, { ...before.config, TokenEndpoint: 'https://login.example/tenant-b/token' });
    expect(moved).toEqual([{ parameter: 'TokenEndpoint', from: 'https://login.example/tenant-a/token', to: 'https://login.example/tenant-b/token' }]);
    const after = restStep('https://graph.example/', ep('https://login.example/tenant-b/token'), 'OAuthRESTRequest');
    delete (after.config as Record<string, unknown>).Password;
    expect(keepSecrets([after], [before], registry).problems).toEqual([expect.stringContaining('ConfigurationParameters.client_secret: ')]);
    const changedType = { ...restStep('https://api.example.com/v1/x'), extensionName: 'RESTRequest' };
    const oldType = { ...stored, extensionName: 'OAuthRESTRequest', config: { ...stored.config } };
    expect(keepSecrets([changedType], [oldType], registry).problems).toEqual([
      expect.stringMatching(/ConfigurationParameters\.Password: the stored secret was entered for a OAuthRESTRequest step/),
    ]);
    expect(destinationOf('https://$(host)/x', 'origin')).toBe('https://$(host)');
  });
});
