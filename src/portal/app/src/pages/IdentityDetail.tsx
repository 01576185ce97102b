import { useState, type FormEvent } from 'react';
import { api } from '../api.ts';
import { useAction, useLoad } from '../hooks.ts';
import { permissionLabel } from '../perms.ts';
import { Link, navigate } from '../router.tsx';
import { useSession } from '../session.tsx';
import { ConfirmButton, ErrorMessage, Loading, PageTitle, StatusMessage } from '../ui.tsx';

/** One identity: its roles and its effective permissions, with the roles that grant each. */
export function IdentityDetail({ id }: { id: number }) {
  const { can } = useSession();
  const act = useAction();
  const load = useLoad(async () => {
    const [perms, all] = await Promise.all([api.identityPermissions(id), api.identities()]);
    return { perms, identity: all.find((i) => i.Id === id) ?? null };
  }, `identity:${id}`);
  if (!load.data) return load.error ? <ErrorMessage error={load.error} title="The identity could not be loaded." /> : <Loading />;
  const { perms, identity } = load.data;
  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/security">Security</Link> <span aria-hidden="true">›</span> <span>{perms.Identity}</span>
      </nav>
      <PageTitle text={perms.Identity}>Identity: {perms.Identity}</PageTitle>
      <ErrorMessage error={act.error} />
      <section className="card" aria-labelledby="id-roles-h">
        <h2 id="id-roles-h">Roles</h2>
        {identity?.Roles?.length ? (
          <ul className="plain">
            {identity.Roles.map((r) => (
              <li key={r.Id}>
                <Link to={`/security/roles/${r.Id}`}>{r.Name}</Link>
                {r.Enabled ? '' : ' (disabled)'}
              </li>
            ))}
          </ul>
        ) : (
          <p className="muted">No roles.</p>
        )}
      </section>
      <section className="card" aria-labelledby="id-perms-h">
        <h2 id="id-perms-h">Permissions</h2>
        {perms.SecuredAreaPermissions.length === 0 ? (
          <p className="muted">None.</p>
        ) : (
          <table className="list">
            <caption className="sr-only">Permissions of {perms.Identity}</caption>
            <thead>
              <tr>
                <th scope="col">Permission</th>
                <th scope="col">Granted by</th>
              </tr>
            </thead>
            <tbody>
              {perms.SecuredAreaPermissions.map((p) => (
                <tr key={p.Permission}>
                  <td data-label="Permission">
                    {permissionLabel(p.Permission)} <span className="mono sub">{p.Permission}</span>
                  </td>
                  <td data-label="Granted by">{p.GrantedByRoles.join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {can.securityModify && identity?.IdentityType !== 'Group' ? <SetPassword id={id} name={perms.Identity} /> : null}
      {can.securityModify ? (
        <div className="card">
          <ConfirmButton
            label="Delete identity…"
            confirmLabel="Delete the identity"
            question={`Delete ${perms.Identity}? It can no longer sign in.`}
            busy={act.busy}
            onConfirm={async () => {
              const ok = await act.run(async () => {
                await api.deleteIdentity(id);
                return true;
              });
              if (ok) navigate('/security', { flash: `Deleted ${perms.Identity}.` });
            }}
          />
        </div>
      ) : null}
    </>
  );
}

/** An administrator sets the identity's password (it lifts a lock-out; the person should change it). */
function SetPassword({ id, name }: { id: number; name: string }) {
  const act = useAction();
  const [password, setPassword] = useState('');
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const ok = await act.run(async () => {
      await api.setIdentityPassword(id, password);
      return true;
    }, `The password of ${name} has been set. Tell them through a safe channel, and ask them to change it.`);
    if (ok) setPassword('');
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="id-pw-h" noValidate>
      <h2 id="id-pw-h">Set password</h2>
      <ErrorMessage error={act.error} />
      <StatusMessage>{act.message}</StatusMessage>
      <div className="field">
        <label htmlFor="id-pw">New password</label>
        <input id="id-pw" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
      </div>
      <button type="submit" className="button" disabled={act.busy || password === ''}>
        Set password
      </button>
    </form>
  );
}
