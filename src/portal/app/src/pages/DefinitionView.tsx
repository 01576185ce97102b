import { MigratePanel } from './MigratePanel.tsx';
import { useState } from 'react';
import { api, type DefinitionV2, type StepV2 } from '../api.ts';
import { versionSummary } from '../definition.ts';
import { show } from '../format.ts';
import { useAction, useLoad } from '../hooks.ts';
import { Link, navigate, takeFlash } from '../router.tsx';
import { useSession } from '../session.tsx';
import { ConfirmButton, ErrorMessage, Loading, PageTitle, StatusMessage } from '../ui.tsx';
import { KeyValue } from './Definitions.tsx';
import { Diagram } from './Diagram.tsx';

export function versionLabel(d: Pick<DefinitionV2, 'DraftVersion' | 'PublishedVersion'>, v: number): string {
  const tags = [];
  if (v === d.PublishedVersion) tags.push('published');
  if (v === d.DraftVersion && v !== d.PublishedVersion) tags.push('draft');
  return `Version ${v}${tags.length ? ` (${tags.join(', ')})` : ''}`;
}

function download(name: string, json: unknown): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(json, null, 2)], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '') || 'definition';

/** One definition: versions, the diagram, the steps in words, and the lifecycle actions. */
export function DefinitionView({ id, version }: { id: string; version?: number }) {
  const { can } = useSession();
  const [flash] = useState(takeFlash);
  const act = useAction();
  const load = useLoad(() => api.definitionV2(id, version), `def:${id}:${version ?? ''}`);
  if (!load.data)
    return load.error ? (
      <>
        <PageTitle text="Definition">Definition not available</PageTitle>
        <ErrorMessage error={load.error} />
        <Link to="/definitions">Back to definitions</Link>
      </>
    ) : (
      <Loading />
    );
  const d = load.data;
  const shown = version ?? d.DraftVersion;
  const versions = Array.from({ length: d.DraftVersion }, (_, i) => d.DraftVersion - i);
  const reload = () => void load.reload();

  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/definitions">Definitions</Link> <span aria-hidden="true">›</span> <span>{d.DisplayName}</span>
      </nav>
      <PageTitle text={d.DisplayName}>{d.DisplayName}</PageTitle>
      <StatusMessage>{flash}</StatusMessage>
      <StatusMessage>{act.message}</StatusMessage>
      <ErrorMessage error={act.error} />
      <div className="card">
        <dl className="facts">
          <div>
            <dt>Type</dt>
            <dd>{d.WorkflowType}</dd>
          </div>
          <div>
            <dt>{d.Keys.length > 1 ? 'Keys' : 'Key'}</dt>
            <dd>
              {d.Keys.length
                ? d.Keys.map((k, i) => (
                    <span key={k.Value}>
                      {i > 0 ? ', ' : null}
                      <KeyValue value={k.Value} displayName={k.DisplayName} />
                    </span>
                  ))
                : 'none (global)'}
            </dd>
          </div>
          <div>
            <dt>Version</dt>
            <dd>{versionSummary(d)}</dd>
          </div>
          <div>
            <dt>Enabled</dt>
            <dd>{d.Enabled ? 'Yes: new requests start on it' : 'No: it starts no new requests'}</dd>
          </div>
          {d.Description ? (
            <div>
              <dt>Description</dt>
              <dd>{d.Description}</dd>
            </div>
          ) : null}
        </dl>
        <div className="actions wrap">
          <div className="field inline">
            <label htmlFor="def-version">Show</label>
            <select id="def-version" value={shown} onChange={(e) => navigate(`/definitions/${id}?version=${e.target.value}`)}>
              {versions.map((v) => (
                <option key={v} value={v}>
                  {versionLabel(d, v)}
                </option>
              ))}
            </select>
          </div>
          <button
            type="button"
            className="button"
            onClick={() =>
              act.run(async () => {
                download(`${slug(d.DisplayName)}-v${shown}.json`, await api.exportDefinition(id, shown));
              }, `Exported version ${shown} (without role ids).`)
            }
          >
            Export JSON
          </button>
          {can.definitionsModify ? (
            <>
              <Link to={`/definitions/${id}/edit`} className="button primary">
                Edit draft
              </Link>
              {shown !== d.PublishedVersion ? (
                <button type="button" className="button" disabled={act.busy} onClick={() => act.run(() => api.publish(id, shown), `Published version ${shown}.`).then(reload)}>
                  Publish version {shown}
                </button>
              ) : null}
              <button
                type="button"
                className="button"
                disabled={act.busy}
                onClick={() => act.run(() => api.setEnabled(id, !d.Enabled), d.Enabled ? 'Disabled.' : 'Enabled.').then(reload)}
              >
                {d.Enabled ? 'Disable' : 'Enable'}
              </button>
              <ConfirmButton
                label="Delete…"
                confirmLabel="Delete the definition"
                question="Delete this definition and all its versions?"
                busy={act.busy}
                onConfirm={async () => {
                  const ok = await act.run(async () => {
                    await api.deleteDefinition(id);
                    return true;
                  });
                  if (ok) navigate('/definitions', { flash: `Deleted “${d.DisplayName}”.` });
                }}
              />
            </>
          ) : null}
        </div>
      </div>

      {can.manage && can.restart && d.PublishedVersion ? <MigratePanel definitionId={d.Id} published={d.PublishedVersion} /> : null}

      <section aria-labelledby="diagram-h" className="card">
        <h2 id="diagram-h">{versionLabel(d, shown)}: diagram</h2>
        <Diagram steps={d.Steps} label={`Steps of ${d.DisplayName}, version ${shown}`} />
      </section>

      <section aria-labelledby="steps-h" className="card">
        <h2 id="steps-h">Steps</h2>
        <StepList steps={d.Steps} />
      </section>
    </>
  );
}

export function StepList({ steps }: { steps: StepV2[] }) {
  if (steps.length === 0) return <p className="muted">No steps.</p>;
  const name = (u: string) => steps.find((s) => s.UniqueName === u)?.DisplayName ?? u;
  return (
    <ol className="steps">
      {steps.map((s) => (
        <li key={s.UniqueName}>
          <h3>
            {s.DisplayName ?? s.UniqueName} <span className="sub">{s.ExtensionName}</span>
            {!s.Enabled ? <span className="badge badge-canceled">disabled</span> : null}
          </h3>
          <dl className="facts compact">
            <div>
              <dt>Unique name</dt>
              <dd className="mono">{s.UniqueName}</dd>
            </div>
            {Object.keys(s.ConfigurationParameters).length ? (
              <div>
                <dt>Parameters</dt>
                <dd>
                  <ul className="plain">
                    {Object.entries(s.ConfigurationParameters).map(([k, v]) => (
                      <li key={k}>
                        <span className="mono">{k}</span>: {v === null ? <span className="muted">(secret or empty)</span> : <span className="pre-wrap">{show(v)}</span>}
                      </li>
                    ))}
                  </ul>
                </dd>
              </div>
            ) : null}
            {s.Signals.map((g) => (
              <div key={g.SignalName}>
                <dt>Who may send {g.SignalName}</dt>
                <dd>{[...g.Roles.map((r) => r.RoleName ?? `role #${r.RoleId}`), ...g.RoleTokens].join(', ') || 'nobody'}</dd>
              </div>
            ))}
            {s.Conditions.length ? (
              <div>
                <dt>Runs only if</dt>
                <dd>
                  {s.Conditions.map((c, i) => (
                    <code key={i} className="block">
                      {c.Value}
                    </code>
                  ))}
                </dd>
              </div>
            ) : null}
            <div>
              <dt>Next</dt>
              <dd>
                {Object.entries(s.Outputs).length
                  ? Object.entries(s.Outputs)
                      .map(([o, t]) => `${o} → ${name(t)}`)
                      .join('; ')
                  : 'end of the workflow'}
              </dd>
            </div>
          </dl>
        </li>
      ))}
    </ol>
  );
}
