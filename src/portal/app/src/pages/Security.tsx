import { useState, type FormEvent } from 'react';
import { api } from '../api.ts';
import { useAction, useLoad } from '../hooks.ts';
import { LEGACY_LABELS, permissionLabel } from '../perms.ts';
import { Link, navigate, takeFlash } from '../router.tsx';
import { useSession } from '../session.tsx';
import { ErrorMessage, Loading, PageTitle, StatusMessage } from '../ui.tsx';
import { PermissionChecks } from './RoleDetail.tsx';

/** Security: identities and roles; details show membership and permissions. */
export function Security() {
  const { can } = useSession();
  const [flash] = useState(takeFlash);
  const identities = useLoad(() => api.identities(), 'identities');
  const roles = useLoad(() => api.roles(), 'roles');
  const [adding, setAdding] = useState<'none' | 'identity' | 'role'>('none');
  return (
    <>
      <PageTitle text="Security">Security</PageTitle>
      <StatusMessage>{flash}</StatusMessage>
      <section aria-labelledby="identities-h">
        <div className="section-head">
          <h2 id="identities-h">Identities</h2>
          {can.securityModify ? (
            <button type="button" className="button small" aria-expanded={adding === 'identity'} onClick={() => setAdding(adding === 'identity' ? 'none' : 'identity')}>
              Add identity
            </button>
          ) : null}
        </div>
        {adding === 'identity' ? (
          <NewIdentity
            onDone={() => {
              setAdding('none');
              void identities.reload();
            }}
          />
        ) : null}
        <ErrorMessage error={identities.error} />
        {!identities.data ? (
          identities.error ? null : (
            <Loading />
          )
        ) : (
          <table className="list">
            <caption className="sr-only">Identities</caption>
            <thead>
              <tr>
                <th scope="col">Account</th>
                <th scope="col">Type</th>
                <th scope="col">Roles</th>
              </tr>
            </thead>
            <tbody>
              {identities.data.map((i) => (
                <tr key={i.Id}>
                  <td data-label="Account">
                    <Link to={`/security/identities/${i.Id}`} className="row-link">
                      {i.AccountName}
                    </Link>
                  </td>
                  <td data-label="Type">{i.IdentityType}</td>
                  <td data-label="Roles">{(i.Roles ?? []).map((r) => r.Name).join(', ') || <span className="muted">none</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section aria-labelledby="roles-h">
        <div className="section-head">
          <h2 id="roles-h">Roles</h2>
          {can.securityModify ? (
            <button type="button" className="button small" aria-expanded={adding === 'role'} onClick={() => setAdding(adding === 'role' ? 'none' : 'role')}>
              Add role
            </button>
          ) : null}
        </div>
        {adding === 'role' ? <NewRole onDone={(id) => navigate(`/security/roles/${id}`, { flash: 'Role created. Add its members.' })} /> : null}
        <ErrorMessage error={roles.error} />
        {!roles.data ? (
          roles.error ? null : (
            <Loading />
          )
        ) : (
          <table className="list">
            <caption className="sr-only">Roles</caption>
            <thead>
              <tr>
                <th scope="col">Role</th>
                <th scope="col">Members</th>
                <th scope="col">Permissions</th>
              </tr>
            </thead>
            <tbody>
              {roles.data.map((r) => (
                <tr key={r.Id}>
                  <td data-label="Role">
                    <Link to={`/security/roles/${r.Id}`} className="row-link">
                      {r.Name}
                    </Link>
                    <span className="sub">
                      {r.Description}
                      {r.Enabled ? '' : ' · disabled'}
                      {r.Immutable ? ' · built in' : ''}
                    </span>
                  </td>
                  <td data-label="Members">{(r.Identities ?? []).map((i) => i.AccountName).join(', ') || <span className="muted">none</span>}</td>
                  <td data-label="Permissions">
                    {Object.keys(LEGACY_LABELS).every((k) => r.Permissions.includes(k))
                      ? 'Everything'
                      : r.Permissions.map(permissionLabel).join('; ') || <span className="muted">none</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

function NewIdentity({ onDone }: { onDone: () => void }) {
  const act = useAction();
  const [name, setName] = useState('');
  const [type, setType] = useState('User');
  const [password, setPassword] = useState('');
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = await act.run(() => api.createIdentity({ AccountName: name, IdentityType: type, ...(type === 'User' && password ? { Password: password } : {}) }));
    if (r) onDone();
  };
  return (
    <form className="card" onSubmit={submit} aria-label="New identity">
      <ErrorMessage error={act.error} />
      <div className="row">
        <div className="field grow">
          <label htmlFor="ni-name">Account name</label>
          <input id="ni-name" value={name} onChange={(e) => setName(e.target.value)} aria-describedby="ni-name-hint" />
          <p className="hint" id="ni-name-hint">
            DOMAIN\user or user
          </p>
        </div>
        <div className="field">
          <label htmlFor="ni-type">Type</label>
          <select id="ni-type" value={type} onChange={(e) => setType(e.target.value)}>
            <option>User</option>
            <option>Group</option>
          </select>
        </div>
        {type === 'User' ? (
          <div className="field grow">
            <label htmlFor="ni-password">Password</label>
            <input
              id="ni-password"
              type="password"
              autoComplete="new-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              aria-describedby="ni-password-hint"
            />
            <p className="hint" id="ni-password-hint">
              Leave empty for an identity that cannot sign in with a password.
            </p>
          </div>
        ) : null}
      </div>
      <button type="submit" className="button primary" disabled={act.busy}>
        Add identity
      </button>
    </form>
  );
}
function NewRole({ onDone }: { onDone: (id: number) => void }) {
  const act = useAction();
  const catalogue = useLoad(() => api.permissionCatalogue(), 'perm-catalogue');
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [perms, setPerms] = useState<string[]>([]);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = await act.run(async () => {
      const sets = await api.permissionSets();
      return api.createRole({ Name: name, Description: description, PermissionSetId: sets[0]?.Id ?? '', Permissions: perms });
    });
    if (r) onDone(r.Id);
  };
  return (
    <form className="card" onSubmit={submit} aria-label="New role">
      <ErrorMessage error={act.error} />
      <div className="row">
        <div className="field grow">
          <label htmlFor="nr-name">Name</label>
          <input id="nr-name" value={name} onChange={(e) => setName(e.target.value)} />
        </div>
        <div className="field grow">
          <label htmlFor="nr-desc">Description</label>
          <input id="nr-desc" value={description} onChange={(e) => setDescription(e.target.value)} />
        </div>
      </div>
      {catalogue.data ? <PermissionChecks idPrefix="nr-perm" catalogue={catalogue.data} value={perms} onChange={setPerms} /> : <Loading />}
      <button type="submit" className="button primary" disabled={act.busy}>
        Add role
      </button>
    </form>
  );
}
