import { useState, type FormEvent } from 'react';
import { call } from '../api.ts';
import { useAction, useLoad } from '../hooks.ts';
import { useSession } from '../session.tsx';
import { ErrorMessage, Loading, PageTitle, StatusMessage } from '../ui.tsx';

interface ProfileWire {
  Name: string;
  DirectoryUrl: string;
  Template: string | null;
  CertificateAuthority: string | null;
  RequireEab: boolean;
  ChallengeTypes: string[];
  AllowedDomains: string[];
  AllowedIpRanges: string[];
  AllowWildcards: boolean;
  OrderLifetimeSeconds: number;
  MaxPendingOrders: number;
}

interface EabKeyWire {
  KeyId: string;
  IdentityId: number;
  Profile: string | null;
  CreatedAt: string;
  CreatedBy: string;
  RevokedAt: string | null;
  AccountId: string | null;
  HmacKey?: string;
}

const acmeApi = {
  profiles: async () => (await call<ProfileWire[]>('GET', '/ACME/Profiles')).data,
  eabKeys: async () => (await call<EabKeyWire[]>('GET', '/ACME/EabKeys')).data,
  createEab: async (identity: string, profile: string) => (await call<EabKeyWire>('POST', '/ACME/EabKeys', { body: { Identity: identity, Profile: profile || null } })).data,
  revokeEab: async (kid: string) => {
    await call('DELETE', `/ACME/EabKeys/${encodeURIComponent(kid)}`);
  },
};

/** ACME: the directories (profiles) clients use, and the EAB keys that bind accounts to identities. */
export function Acme() {
  const { can } = useSession();
  const profiles = useLoad(() => acmeApi.profiles(), 'acme-profiles');
  return (
    <>
      <PageTitle text="ACME">ACME</PageTitle>
      <p className="hint">
        ACME clients (certbot, lego, cert-manager) order certificates from these directories. Each order is an enrollment through the profile's template, so its Enrollment workflow
        decides. Profiles are changed through <span className="mono">PUT /KeyfactorAPI/ACME/Profiles/&#123;name&#125;</span>.
      </p>
      <section aria-labelledby="acme-profiles-h">
        <h2 id="acme-profiles-h">Profiles</h2>
        <ErrorMessage error={profiles.error} />
        {!profiles.data ? (
          profiles.error ? null : (
            <Loading />
          )
        ) : (
          <table className="list">
            <caption className="sr-only">ACME profiles</caption>
            <thead>
              <tr>
                <th scope="col">Profile</th>
                <th scope="col">Directory</th>
                <th scope="col">Template</th>
                <th scope="col">Identifiers</th>
                <th scope="col">Challenges</th>
                <th scope="col">EAB</th>
              </tr>
            </thead>
            <tbody>
              {profiles.data.map((p) => (
                <tr key={p.Name}>
                  <td data-label="Profile">{p.Name}</td>
                  <td data-label="Directory" className="mono">
                    {p.DirectoryUrl}
                  </td>
                  <td data-label="Template">{p.Template ?? 'the default template'}</td>
                  <td data-label="Identifiers">
                    {[...p.AllowedDomains, ...p.AllowedIpRanges].join(', ') || 'any'}
                    {p.AllowWildcards ? ' (wildcards)' : ''}
                  </td>
                  <td data-label="Challenges">{p.ChallengeTypes.join(', ')}</td>
                  <td data-label="EAB">{p.RequireEab ? 'required' : 'optional'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {can.casModify ? <EabKeys /> : null}
    </>
  );
}

function EabKeys() {
  const keys = useLoad(() => acmeApi.eabKeys(), 'acme-eab');
  const act = useAction();
  const [identity, setIdentity] = useState('');
  const [profile, setProfile] = useState('');
  const [created, setCreated] = useState<EabKeyWire | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const k = await act.run(() => acmeApi.createEab(identity.trim(), profile.trim()));
    if (k) {
      setCreated(k);
      setIdentity('');
      void keys.reload();
    }
  };
  return (
    <section aria-labelledby="acme-eab-h">
      <h2 id="acme-eab-h">External account binding keys</h2>
      <p className="hint">A key binds one ACME account to a Countersign identity: that account's orders are enrolled as the identity. The HMAC key is shown once.</p>
      <form className="card" onSubmit={submit} aria-label="New EAB key">
        <div className="field">
          <label htmlFor="eab-identity">Identity</label>
          <input id="eab-identity" value={identity} onChange={(e) => setIdentity(e.target.value)} required placeholder="DOMAIN\user" />
        </div>
        <div className="field">
          <label htmlFor="eab-profile">Profile (empty: any)</label>
          <input id="eab-profile" value={profile} onChange={(e) => setProfile(e.target.value)} />
        </div>
        <button type="submit" className="button primary" disabled={act.busy || identity.trim() === ''}>
          Create key
        </button>
      </form>
      <ErrorMessage error={act.error} />
      {created ? (
        <StatusMessage>
          <span>
            Key id <span className="mono">{created.KeyId}</span>, HMAC key <span className="mono">{created.HmacKey}</span>. Copy it now: it is not shown again.
          </span>
        </StatusMessage>
      ) : null}
      <ErrorMessage error={keys.error} />
      {!keys.data ? (
        keys.error ? null : (
          <Loading />
        )
      ) : keys.data.length === 0 ? (
        <p className="muted">No keys yet.</p>
      ) : (
        <table className="list">
          <caption className="sr-only">EAB keys</caption>
          <thead>
            <tr>
              <th scope="col">Key id</th>
              <th scope="col">Identity id</th>
              <th scope="col">Profile</th>
              <th scope="col">State</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.data.map((k) => (
              <tr key={k.KeyId}>
                <td data-label="Key id" className="mono">
                  {k.KeyId}
                </td>
                <td data-label="Identity id">{k.IdentityId}</td>
                <td data-label="Profile">{k.Profile ?? 'any'}</td>
                <td data-label="State">{k.RevokedAt ? 'revoked' : k.AccountId ? 'bound to an account' : 'unused'}</td>
                <td data-label="Actions">
                  {k.RevokedAt ? null : (
                    <button
                      type="button"
                      className="button small"
                      disabled={act.busy}
                      onClick={async () => {
                        await act.run(() => acmeApi.revokeEab(k.KeyId));
                        void keys.reload();
                      }}
                    >
                      Revoke <span className="sr-only">{k.KeyId}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
