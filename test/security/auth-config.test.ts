import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { authSettingsFrom } from '../../src/security/auth-config.ts';
import { maskedConfig } from '../../src/cli/commands/config.ts';
import { loadConfig } from '../../src/config.ts';

const ISS = 'https://idp.example.test/realms/corp';

describe('OIDC and LDAP settings', () => {
  it('one issuer from the environment: discovery URL, roles claim default, scheme and account domain', () => {
    const a = authSettingsFrom({ COUNTERSIGN_OIDC_ISSUER: ISS, COUNTERSIGN_OIDC_AUDIENCE: 'countersign, api' });
    expect(a.oidc).toHaveLength(1);
    expect(a.oidc[0]).toMatchObject({
      issuer: ISS,
      discoveryUrl: `${ISS}/.well-known/openid-configuration`,
      jwksUri: null,
      audiences: ['countersign', 'api'],
      clockSkewSec: 60,
      mapping: { rolesClaim: 'roles', subjectClaim: 'sub', scheme: 'OAuth', accountDomain: 'OAuth', acceptUnscopedClaims: true },
      introspection: null,
    });
    expect(a.oidc[0]!.algorithms).not.toContain('none');
    expect(a.ldap).toBeNull();
    expect(authSettingsFrom({}).oidc).toEqual([]);
  });

  it('refuses none, symmetric algorithms, a missing audience, and a bad URL', () => {
    const env = { COUNTERSIGN_OIDC_ISSUER: ISS, COUNTERSIGN_OIDC_AUDIENCE: 'x' };
    expect(() => authSettingsFrom({ ...env, COUNTERSIGN_OIDC_ALGORITHMS: 'RS256,none' })).toThrow(/none/);
    expect(() => authSettingsFrom({ ...env, COUNTERSIGN_OIDC_ALGORITHMS: 'HS256' })).toThrow(/symmetric/);
    expect(() => authSettingsFrom({ COUNTERSIGN_OIDC_ISSUER: ISS })).toThrow(/audience is required/);
    expect(() => authSettingsFrom({ ...env, COUNTERSIGN_OIDC_ISSUER: 'ftp://x' })).toThrow(/https: or http:/);
  });

  it('several issuers from the configuration file; unscoped claims then match none; schemes must differ', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-auth-'));
    try {
      const file = join(dir, 'countersign.json');
      writeFileSync(
        file,
        JSON.stringify({
          oidc: {
            issuers: [
              { issuer: ISS, audience: ['countersign'], scheme: 'Keycloak', rolesClaim: 'realm_access.roles' },
              {
                issuer: 'https://login.example.test/tenant/v2.0',
                audience: 'api://countersign',
                scheme: 'Entra',
                jwksUri: 'https://login.example.test/keys',
                clientIdClaims: ['azp', 'appid'],
              },
            ],
          },
          ldap: { url: ['ldaps://dc1.corp.test', 'ldaps://dc2.corp.test'], domain: 'CORP', upnSuffix: 'corp.test', userBase: 'dc=corp,dc=test' },
        }),
      );
      const a = authSettingsFrom({ COUNTERSIGN_CONFIG_FILE: file, COUNTERSIGN_OIDC_INTROSPECTION_CLIENT_SECRET: 'unused' });
      expect(a.oidc.map((i) => [i.mapping.scheme, i.mapping.acceptUnscopedClaims, i.discoveryUrl === null])).toEqual([
        ['Keycloak', false, false],
        ['Entra', false, true],
      ]);
      expect(a.ldap).toMatchObject({ urls: ['ldaps://dc1.corp.test', 'ldaps://dc2.corp.test'], bindTemplate: '{user}@{upn}', scheme: 'Active Directory', poolSize: 4 });
      writeFileSync(
        file,
        JSON.stringify({
          oidc: {
            issuers: [
              { issuer: ISS, audience: 'a' },
              { issuer: 'https://b.test', audience: 'a' },
            ],
          },
        }),
      );
      expect(() => authSettingsFrom({ COUNTERSIGN_CONFIG_FILE: file })).toThrow(/own scheme/);
      writeFileSync(file, '{not json');
      expect(() => authSettingsFrom({ COUNTERSIGN_CONFIG_FILE: file })).toThrow(/not a JSON object/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('config print masks the introspection secret', () => {
    const masked = maskedConfig(
      loadConfig({
        COUNTERSIGN_OIDC_ISSUER: ISS,
        COUNTERSIGN_OIDC_AUDIENCE: 'a',
        COUNTERSIGN_OIDC_INTROSPECTION_CLIENT_ID: 'cs',
        COUNTERSIGN_OIDC_INTROSPECTION_CLIENT_SECRET: 'very-secret-value',
      }),
    );
    expect(JSON.stringify(masked)).not.toContain('very-secret-value');
  });
});
