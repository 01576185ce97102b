import { useState, type FormEvent } from 'react';
import { api, type RoleV2 } from '../api.ts';
import { useAction, useLoad } from '../hooks.ts';
import { PERMISSION_LABELS } from '../perms.ts';
import { Link, navigate, takeFlash } from '../router.tsx';
import { useSession } from '../session.tsx';
import { ConfirmButton, ErrorMessage, Loading, PageTitle, StatusMessage } from '../ui.tsx';

/** Version-1 "Area:Permission" spellings, as role lists show them, in plain words. */
const LEGACY_LABELS: Record<string, string> = {
  'WorkflowDefinitions:Read': PERMISSION_LABELS['/workflows/definitions/read/']!,
  'WorkflowDefinitions:Modify': PERMISSION_LABELS['/workflows/definitions/modify/']!,
  'WorkflowInstances:ReadAll': PERMISSION_LABELS['/workflows/instances/read/']!,
  'WorkflowInstances:ReadMy': PERMISSION_LABELS['/workflows/instances/read/mine/']!,
  'WorkflowInstances:ReadAssignedToMe': PERMISSION_LABELS['/workflows/instances/read/pending/']!,
  'WorkflowInstances:Manage': PERMISSION_LABELS['/workflows/instances/manage/']!,
  'WorkflowInstances:Start': PERMISSION_LABELS['/workflows/instances/start/']!,
  'Security:Read': PERMISSION_LABELS['/security/read/']!,
  'Security:Modify': PERMISSION_LABELS['/security/modify/']!,
};

const permissionLabel = (p: string) => PERMISSION_LABELS[p] ?? LEGACY_LABELS[p] ?? p;

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
        {adding === 'identity' ? <NewIdentity onDone={() => (setAdding('none'), void identities.reload())} /> : null}
        <ErrorMessage error={identities.error} />
        {!identities.data ? (
          identities.error ? null : <Loading />
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
          roles.error ? null : <Loading />
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
                    {Object.keys(LEGACY_LABELS).every((k) => r.Permissions.includes(k)) ? 'Everything' : r.Permissions.map(permissionLabel).join('; ') || <span className="muted">none</span>}
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
            <input id="ni-password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} aria-describedby="ni-password-hint" />
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

function PermissionChecks({ idPrefix, catalogue, value, onChange, disabled }: { idPrefix: string; catalogue: string[]; value: string[]; onChange: (v: string[]) => void; disabled?: boolean }) {
  return (
    <fieldset className="sub-fieldset">
      <legend>Permissions</legend>
      <div className="checks">
        {catalogue.map((p) => (
          <div className="field check" key={p}>
            <input
              id={`${idPrefix}-${p}`}
              type="checkbox"
              disabled={disabled}
              checked={value.includes(p)}
              onChange={(e) => onChange(e.target.checked ? [...value, p] : value.filter((x) => x !== p))}
            />
            <label htmlFor={`${idPrefix}-${p}`}>
              {permissionLabel(p)} <span className="mono sub">{p}</span>
            </label>
          </div>
        ))}
      </div>
    </fieldset>
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

export function RoleDetail({ id }: { id: number }) {
  const { can } = useSession();
  const [flash, setFlash] = useState(takeFlash);
  const load = useLoad(async () => {
    const [role, members, identities, catalogue] = await Promise.all([api.role(id), api.roleMembers(id), api.identities(), api.permissionCatalogue()]);
    return { role, members, identities, catalogue };
  }, `role:${id}`);
  if (!load.data) return load.error ? <ErrorMessage error={load.error} title="The role could not be loaded." /> : <Loading />;
  // Remounted with the server's view after each save; the confirmation lives here so it stays.
  return (
    <RoleEditor
      key={JSON.stringify([load.data.role, load.data.members])}
      {...load.data}
      canModify={can.securityModify}
      flash={flash}
      onChanged={(message) => {
        setFlash(message);
        void load.reload();
      }}
    />
  );
}

function RoleEditor({
  role,
  members,
  identities,
  catalogue,
  canModify,
  flash,
  onChanged,
}: {
  role: RoleV2;
  members: { Id: number; Name: string }[];
  identities: { Id: number; AccountName: string }[];
  catalogue: string[];
  canModify: boolean;
  flash: string | null;
  onChanged: (message: string) => void;
}) {
  const act = useAction();
  const editable = canModify && !role.Immutable;
  const [name, setName] = useState(role.Name);
  const [description, setDescription] = useState(role.Description);
  const [perms, setPerms] = useState(role.Permissions);
  const [memberIds, setMemberIds] = useState(members.map((m) => m.Id));
  const saveRole = (e: FormEvent) => {
    e.preventDefault();
    void act
      .run(() => api.updateRole({ Id: role.Id, Name: name, Description: description, EmailAddress: role.EmailAddress, PermissionSetId: role.PermissionSetId, Permissions: perms }))
      .then((r) => r && onChanged('Role saved.'));
  };
  const saveMembers = (e: FormEvent) => {
    e.preventDefault();
    void act.run(() => api.setRoleMembers(role.Id, memberIds)).then((r) => r && onChanged('Membership saved.'));
  };
  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/security">Security</Link> <span aria-hidden="true">›</span> <span>Role {role.Name}</span>
      </nav>
      <PageTitle text={`Role ${role.Name}`}>Role: {role.Name}</PageTitle>
      <StatusMessage>{flash}</StatusMessage>
      <StatusMessage>{act.message}</StatusMessage>
      <ErrorMessage error={act.error} />
      {role.Immutable ? <p className="alert alert-info">This role is built in and cannot be changed.</p> : null}
      <form className="card" onSubmit={saveRole} aria-labelledby="role-h">
        <h2 id="role-h">Role and permissions</h2>
        <div className="row">
          <div className="field grow">
            <label htmlFor="re-name">Name</label>
            <input id="re-name" value={name} disabled={!editable} onChange={(e) => setName(e.target.value)} />
          </div>
          <div className="field grow">
            <label htmlFor="re-desc">Description</label>
            <input id="re-desc" value={description} disabled={!editable} onChange={(e) => setDescription(e.target.value)} />
          </div>
        </div>
        <PermissionChecks idPrefix="re-perm" catalogue={catalogue} value={perms} onChange={setPerms} disabled={!editable} />
        {editable ? (
          <button type="submit" className="button primary" disabled={act.busy}>
            Save role
          </button>
        ) : null}
      </form>
      <form className="card" onSubmit={saveMembers} aria-labelledby="members-h">
        <h2 id="members-h">Members</h2>
        {editable ? (
          <>
            <fieldset className="sub-fieldset">
              <legend>Identities in this role</legend>
              <div className="checks">
                {identities.map((i) => (
                  <div className="field check" key={i.Id}>
                    <input
                      id={`rm-${i.Id}`}
                      type="checkbox"
                      checked={memberIds.includes(i.Id)}
                      onChange={(e) => setMemberIds(e.target.checked ? [...memberIds, i.Id] : memberIds.filter((x) => x !== i.Id))}
                    />
                    <label htmlFor={`rm-${i.Id}`}>{i.AccountName}</label>
                  </div>
                ))}
              </div>
            </fieldset>
            <button type="submit" className="button primary" disabled={act.busy}>
              Save membership
            </button>
          </>
        ) : members.length ? (
          <ul className="plain">
            {members.map((m) => (
              <li key={m.Id}>{m.Name}</li>
            ))}
          </ul>
        ) : (
          <p className="muted">No members.</p>
        )}
        {role.Claims.some((c) => c.ClaimType !== 'User') ? (
          <p className="hint">Also granted by claims: {role.Claims.filter((c) => c.ClaimType !== 'User').map((c) => `${c.ClaimType} ${c.ClaimValue}`).join(', ')}.</p>
        ) : null}
      </form>
      {editable ? (
        <div className="card">
          <ConfirmButton
            label="Delete role…"
            confirmLabel="Delete the role"
            question={`Delete the role ${role.Name}? Its members lose its permissions.`}
            busy={act.busy}
            onConfirm={async () => {
              const ok = await act.run(async () => {
                await api.deleteRole(role.Id);
                return true;
              });
              if (ok) navigate('/security', { flash: `Deleted the role ${role.Name}.` });
            }}
          />
        </div>
      ) : null}
    </>
  );
}

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
