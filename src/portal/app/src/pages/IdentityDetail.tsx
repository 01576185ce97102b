import { api } from '../api.ts';
import { useAction, useLoad } from '../hooks.ts';
import { permissionLabel } from '../perms.ts';
import { Link, navigate } from '../router.tsx';
import { useSession } from '../session.tsx';
import { ConfirmButton, ErrorMessage, Loading, PageTitle } from '../ui.tsx';

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
