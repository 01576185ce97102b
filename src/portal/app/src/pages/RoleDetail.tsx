import { useState, type FormEvent } from 'react';
import { api, type RoleV2 } from '../api.ts';
import { useAction, useLoad } from '../hooks.ts';
import { permissionLabel } from '../perms.ts';
import { Link, navigate, takeFlash } from '../router.tsx';
import { useSession } from '../session.tsx';
import { ConfirmButton, ErrorMessage, Loading, PageTitle, StatusMessage } from '../ui.tsx';

/** Permission checkboxes with their plain names, for a new role and a role's page. */
export function PermissionChecks({
  idPrefix,
  catalogue,
  value,
  onChange,
  disabled,
}: {
  idPrefix: string;
  catalogue: string[];
  value: string[];
  onChange: (v: string[]) => void;
  disabled?: boolean;
}) {
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
          <p className="hint">
            Also granted by claims:{' '}
            {role.Claims.filter((c) => c.ClaimType !== 'User')
              .map((c) => `${c.ClaimType} ${c.ClaimValue}`)
              .join(', ')}
            .
          </p>
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
