import { useState, type FormEvent } from 'react';
import { api } from '../api.ts';
import { planImport, versionSummary } from '../definition.ts';
import { useAction, useLoad } from '../hooks.ts';
import { Link, navigate, takeFlash } from '../router.tsx';
import { useSession } from '../session.tsx';
import { ErrorMessage, Loading, PageTitle, StatusMessage } from '../ui.tsx';

/** Definitions: the list, and (with modify permission) new definitions and JSON import. */
export function Definitions() {
  const { can } = useSession();
  const [flash] = useState(takeFlash);
  const list = useLoad(() => api.definitions({ ReturnLimit: 500 }), 'definitions');
  const [panel, setPanel] = useState<'none' | 'new' | 'import'>('none');
  return (
    <>
      <PageTitle text="Definitions">Workflow definitions</PageTitle>
      <StatusMessage>{flash}</StatusMessage>
      {can.definitionsModify ? (
        <div className="actions">
          <button type="button" className="button" aria-expanded={panel === 'new'} onClick={() => setPanel(panel === 'new' ? 'none' : 'new')}>
            New definition
          </button>
          <button type="button" className="button" aria-expanded={panel === 'import'} onClick={() => setPanel(panel === 'import' ? 'none' : 'import')}>
            Import JSON
          </button>
        </div>
      ) : null}
      {panel === 'new' ? <NewDefinition /> : null}
      {panel === 'import' ? <ImportDefinition /> : null}
      <ErrorMessage error={list.error} title="The list could not be loaded." />
      {!list.data ? (
        list.error ? null : (
          <Loading />
        )
      ) : list.data.length === 0 ? (
        <p>No definitions yet.</p>
      ) : (
        <table className="list">
          <caption className="sr-only">Workflow definitions</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Key</th>
              <th scope="col">Version</th>
              <th scope="col">Enabled</th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((d) => (
              <tr key={d.Id}>
                <td data-label="Name">
                  <Link to={`/definitions/${d.Id}`} className="row-link">
                    {d.DisplayName}
                  </Link>
                </td>
                <td data-label="Type">{d.WorkflowType}</td>
                <td data-label="Key">{d.Key === null ? <span className="muted">none (global)</span> : <KeyValue value={d.Key} displayName={d.KeyDisplayName} />}</td>
                <td data-label="Version">{versionSummary(d)}</td>
                <td data-label="Enabled">{d.Enabled ? 'Yes' : 'No'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/**
 * A Key as a start request must give it, with its display name labelled beside it: the display
 * name is what people read, but WorkflowType + Key is what the API matches.
 */
export function KeyValue({ value, displayName }: { value: string; displayName: string | null }) {
  return (
    <>
      <code>{value}</code>
      {displayName && displayName !== value ? <span className="muted"> (display name “{displayName}”)</span> : null}
    </>
  );
}

function NewDefinition() {
  const types = useLoad(() => api.workflowTypes(), 'types');
  const act = useAction();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [type, setType] = useState('Enrollment');
  const [key, setKey] = useState('');
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const created = await act.run(() => api.createDefinition({ DisplayName: name, Description: description || null, WorkflowType: type, Key: key.trim() || null }));
    if (created) navigate(`/definitions/${created.Id}/edit`, { flash: `Created “${created.DisplayName}”. Add its steps.` });
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="new-def-h">
      <h2 id="new-def-h">New definition</h2>
      <ErrorMessage error={act.error} />
      <div className="field">
        <label htmlFor="nd-name">Name</label>
        <input id="nd-name" value={name} onChange={(e) => setName(e.target.value)} required />
      </div>
      <div className="field">
        <label htmlFor="nd-desc">Description</label>
        <input id="nd-desc" value={description} onChange={(e) => setDescription(e.target.value)} />
      </div>
      <div className="row">
        <div className="field">
          <label htmlFor="nd-type">Workflow type</label>
          <select id="nd-type" value={type} onChange={(e) => setType(e.target.value)}>
            {(types.data ?? [{ WorkflowType: 'Enrollment', KeyType: 'Template' }]).map((t) => (
              <option key={t.WorkflowType} value={t.WorkflowType}>
                {t.WorkflowType}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="nd-key">Key ({types.data?.find((t) => t.WorkflowType === type)?.KeyType ?? 'optional'})</label>
          <input id="nd-key" value={key} onChange={(e) => setKey(e.target.value)} aria-describedby="nd-key-hint" />
          <p className="hint" id="nd-key-hint">
            Leave empty for the global definition of the type.
          </p>
        </div>
      </div>
      <button type="submit" className="button primary" disabled={act.busy}>
        Create
      </button>
    </form>
  );
}

function ImportDefinition() {
  const act = useAction();
  const [text, setText] = useState('');
  const [rename, setRename] = useState('');
  const [created, setCreated] = useState<{ id: string; name: string } | null>(null);
  const readFile = async (f: File | undefined) => {
    if (f) setText(await f.text());
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setCreated(null);
    let plan: ReturnType<typeof planImport>;
    try {
      plan = planImport(text, rename);
    } catch (err) {
      act.setError((err as Error).message);
      return;
    }
    const def = await act.run(() => api.createDefinition(plan.create));
    if (!def) return;
    setCreated({ id: def.Id, name: def.DisplayName });
    const ok = await act.run(() => api.putSteps(def.Id, plan.steps));
    if (ok) navigate(`/definitions/${def.Id}`, { flash: `Imported “${def.DisplayName}” as a draft with ${plan.steps.length} steps. Review it, then publish.` });
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="import-h">
      <h2 id="import-h">Import a definition</h2>
      <p className="hint">
        Keyfactor's export format (the JSON of GET /Workflow/Definitions/&#123;id&#125;). Importing creates a new definition (POST), then sets its steps (PUT Steps). Role ids must
        exist here; exports made with <code>exportable=true</code> carry none.
      </p>
      <ErrorMessage error={act.error} title="Import failed:" />
      {created && act.error ? (
        <p>
          The definition was created without steps: <Link to={`/definitions/${created.id}/edit`}>edit “{created.name}”</Link> to fix them.
        </p>
      ) : null}
      <div className="field">
        <label htmlFor="imp-file">JSON file</label>
        <input id="imp-file" type="file" accept="application/json,.json" onChange={(e) => void readFile(e.target.files?.[0])} />
      </div>
      <div className="field">
        <label htmlFor="imp-text">Or paste the JSON</label>
        <textarea id="imp-text" className="mono" rows={8} value={text} onChange={(e) => setText(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="imp-name">Name (optional, instead of the file's DisplayName)</label>
        <input id="imp-name" value={rename} onChange={(e) => setRename(e.target.value)} />
      </div>
      <button type="submit" className="button primary" disabled={act.busy || !text.trim()}>
        Import
      </button>
    </form>
  );
}
