import { ExplainPanel } from './ExplainPanel.tsx';
import { useEffect, useState } from 'react';
import { ApiError, api, type DefinitionV2, type HistoryEntry, type InstanceDetail as Detail, type ReceivedSignal } from '../api.ts';
import { approvalCount, describeNeeded } from '../approvals.ts';
import { CommentField, commentTooLong } from '../comment.tsx';
import { isTerminalStatus, show, when } from '../format.ts';
import { POLL_MS, useAction, useLoad } from '../hooks.ts';
import { definitionVersionOf, requesterOf, stepOf } from '../instances.ts';
import { quote } from '../query.ts';
import { Link, navigate, takeFlash } from '../router.tsx';
import { useSession } from '../session.tsx';
import { DecodedRequest } from './DecodedRequest.tsx';
import { ConfirmButton, DataList, ErrorMessage, Loading, PageTitle, StatusBadge, StatusMessage } from '../ui.tsx';

type From = 'inbox' | 'my' | 'instances';
const BACK: Record<From, { to: string; label: string }> = {
  inbox: { to: '/inbox', label: 'Assigned to Me' },
  my: { to: '/my', label: 'My Workflows' },
  instances: { to: '/instances', label: 'Instances' },
};

interface Loaded {
  instance: Detail;
  definition: DefinitionV2 | null;
  /** The instance is in the caller's Assigned to Me list: they may still decide. */
  canDecide: boolean;
}

/** One instance: the request's data, approvals, who may act, the decision, history and admin actions. */
export function InstanceDetail({ id, from }: { id: string; from: From }) {
  const { can } = useSession();
  const [done, setDone] = useState<string | null>(takeFlash);
  const load = useLoad<Loaded>(
    async () => {
      const instance = await api.instance(id);
      const definition = can.definitionsRead ? await definitionVersionOf(instance.Definition.Id, instance.Definition.Version) : null;
      let canDecide = false;
      if (can.inbox && instance.Status === 2) {
        const mine = await api.assignedToMe({ QueryString: `Id -eq ${quote(instance.Id)}`, ReturnLimit: 1 }).catch(() => []);
        canDecide = mine.length > 0;
      }
      return { instance, definition, canDecide };
    },
    `instance:${id}`,
    POLL_MS,
  );
  const back = BACK[from];

  if (load.error && !load.data) {
    const gone = load.error instanceof ApiError && load.error.status === 404;
    return (
      <>
        <PageTitle text="Request not found">{gone ? 'Request not found' : 'The request could not be loaded'}</PageTitle>
        <ErrorMessage error={gone ? 'This instance does not exist, or it is no longer visible to you (for example, it left your queue).' : load.error} />
        <p>
          <Link to={back.to}>Back to {back.label}</Link>
        </p>
      </>
    );
  }
  if (!load.data) return <Loading what="Loading the request" />;
  const { instance: d, definition, canDecide } = load.data;
  const step = stepOf(definition, d.CurrentStepUniqueName);
  const title = d.Title || `Request ${d.ReferenceId}`;
  const history = d.History ?? [];
  const approvals = d.Status === 2 ? approvalCount(d.StatusMessage, step ? { uniqueName: step.UniqueName, config: step.ConfigurationParameters } : null, history) : null;
  const received = (d.ReceivedSignals ?? []).filter((s) => s.Step === d.CurrentStepUniqueName);
  // Variables start as a copy of the request data; show only what the workflow added or changed.
  const variables = Object.fromEntries(
    Object.entries(d.CurrentStateData ?? {}).filter(([k, v]) => !(d.InitialData && k in d.InitialData && JSON.stringify(d.InitialData[k]) === JSON.stringify(v))),
  );

  const decided = (approved: boolean) => {
    const verb = approved ? 'approved' : 'denied';
    if (from === 'inbox') navigate('/inbox', { flash: `You ${verb} “${title}”.` });
    else {
      setDone(`You ${verb} this request.`);
      void load.reload();
    }
  };

  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to={back.to}>{back.label}</Link> <span aria-hidden="true">›</span> <span>#{d.ReferenceId}</span>
      </nav>
      <PageTitle text={title}>{title}</PageTitle>
      <StatusMessage>{done}</StatusMessage>
      <ErrorMessage error={load.error} title="Refreshing failed:" />
      <div className="detail-grid">
        <div className="detail-main">
          <section aria-labelledby="summary-h" className="card">
            <h2 id="summary-h">Summary</h2>
            <dl className="facts">
              <div>
                <dt>Status</dt>
                <dd>
                  <StatusBadge status={d.Status} /> {d.StatusMessage}
                </dd>
              </div>
              <div>
                <dt>Current step</dt>
                <dd>{d.CurrentStepDisplayName ?? '—'}</dd>
              </div>
              {d.Status === 2 ? (
                <div>
                  <dt>Approvals still needed</dt>
                  <dd>{describeNeeded(approvals)}</dd>
                </div>
              ) : null}
              <div>
                <dt>Requester</dt>
                <dd>{requesterOf(d) ?? '—'}</dd>
              </div>
              <div>
                <dt>Workflow</dt>
                <dd>
                  {can.definitionsRead ? <Link to={`/definitions/${d.Definition.Id}?version=${d.Definition.Version}`}>{d.Definition.DisplayName}</Link> : d.Definition.DisplayName}{' '}
                  (version {d.Definition.Version}, {d.Definition.WorkflowType})
                </dd>
              </div>
              <div>
                <dt>Started</dt>
                <dd>
                  <time dateTime={d.StartDate}>{when(d.StartDate)}</time>
                </dd>
              </div>
              <div>
                <dt>Last change</dt>
                <dd>
                  <time dateTime={d.LastModified}>{when(d.LastModified)}</time>
                </dd>
              </div>
              <div>
                <dt>Instance id</dt>
                <dd className="mono">{d.Id}</dd>
              </div>
              {d.RestartedFrom ? (
                <div>
                  <dt>Restarted from</dt>
                  <dd className="mono">{can.instances ? <Link to={`/instances/${d.RestartedFrom}`}>{d.RestartedFrom}</Link> : d.RestartedFrom}</dd>
                </div>
              ) : null}
              {d.RestartedTo ? (
                <div>
                  <dt>Restarted as</dt>
                  <dd className="mono">{can.instances ? <Link to={`/instances/${d.RestartedTo}`}>{d.RestartedTo}</Link> : d.RestartedTo}</dd>
                </div>
              ) : null}
            </dl>
          </section>

          {enrollmentRequestId(d) ? <DecodedRequest requestId={enrollmentRequestId(d)!} /> : null}

          {canDecide && d.CurrentStepUniqueName ? <DecisionForm instanceId={d.Id} step={d.CurrentStepUniqueName} onDone={decided} /> : null}

          <ExplainPanel id={d.Id} version={d.LastModified} />

          <section aria-labelledby="data-h" className="card">
            <h2 id="data-h">Request data</h2>
            <DataList data={d.InitialData} empty="The request carries no data." />
          </section>

          {d.Status === 2 ? (
            <section aria-labelledby="who-h" className="card">
              <h2 id="who-h">Who may act</h2>
              <WhoMayAct step={step} received={received} />
            </section>
          ) : null}

          {Object.keys(variables).length ? (
            <section aria-labelledby="state-h" className="card">
              <h2 id="state-h">Workflow variables</h2>
              <DataList data={variables} />
            </section>
          ) : null}
        </div>
        <div className="detail-side">
          <section aria-labelledby="history-h" className="card">
            <h2 id="history-h">History</h2>
            <Timeline entries={history} />
          </section>
          {can.manage ? <AdminActions d={d} definition={definition} from={from} onChanged={() => void load.reload()} /> : null}
        </div>
      </div>
    </>
  );
}

/** The KeyfactorRequestId the server wrote into an Enrollment instance's data (trusted). */
function enrollmentRequestId(d: Detail): number | null {
  const id = d.Definition.WorkflowType === 'Enrollment' ? d.InitialData?.KeyfactorRequestId : undefined;
  return typeof id === 'number' && Number.isInteger(id) && id > 0 ? id : null;
}

function DecisionForm({ instanceId, step, onDone }: { instanceId: string; step: string; onDone: (approved: boolean) => void }) {
  const [comment, setComment] = useState('');
  const act = useAction();
  const decide = async (approved: boolean) => {
    const ok = await act.run(async () => {
      await api.signal(instanceId, step, approved, comment);
      return true;
    });
    if (ok) onDone(approved);
  };
  const tooLong = commentTooLong(comment);
  return (
    <section aria-labelledby="decide-h" className="card decide">
      <h2 id="decide-h">Your decision</h2>
      <ErrorMessage error={act.error} title="Your decision was not recorded:" />
      <CommentField id="decision-comment" label="Comment (optional)" value={comment} onChange={setComment} hint="Shown to the requester and the other approvers in the history." />
      <div className="actions">
        <button type="button" className="button primary" disabled={act.busy || tooLong} onClick={() => decide(true)}>
          Approve
        </button>
        <button type="button" className="button danger" disabled={act.busy || tooLong} onClick={() => decide(false)}>
          Deny
        </button>
      </div>
    </section>
  );
}

function WhoMayAct({ step, received }: { step: ReturnType<typeof stepOf>; received: ReceivedSignal[] }) {
  const { can } = useSession();
  const roles = step?.Signals.flatMap((g) => g.Roles) ?? [];
  const tokens = step?.Signals.flatMap((g) => g.RoleTokens) ?? [];
  const members = useLoad(
    async () => {
      const out: Record<string, string[]> = {};
      if (!can.securityRead) return out;
      for (const r of roles) out[r.RoleId] = (await api.roleMembers(Number(r.RoleId)).catch(() => [])).map((m) => m.Name);
      return out;
    },
    `members:${roles.map((r) => r.RoleId).join(',')}:${can.securityRead}`,
  );
  return (
    <>
      {step === null ? (
        <p className="muted">The roles allowed to act are shown to those who may read workflow definitions.</p>
      ) : roles.length === 0 && tokens.length === 0 ? (
        <p className="muted">No roles are allowed to act on this step.</p>
      ) : (
        <ul className="plain">
          {roles.map((r) => (
            <li key={r.RoleId}>
              Members of the role <strong>{r.RoleName ?? `#${r.RoleId}`}</strong>
              {can.securityRead && members.data?.[r.RoleId]?.length ? `: ${members.data[r.RoleId]!.join(', ')}` : ''}
            </li>
          ))}
          {tokens.map((t) => (
            <li key={t}>
              Roles named by <code>{t}</code>
            </li>
          ))}
        </ul>
      )}
      <h3>Decisions so far at this step</h3>
      {received.length === 0 ? (
        <p className="muted">None yet.</p>
      ) : (
        <ul className="plain">
          {received.map((s) => (
            <li key={`${s.AccountName}:${s.At}`}>
              <strong>{s.AccountName}</strong> {s.Data.Approved === true ? 'approved' : 'denied'} on <time dateTime={s.At}>{when(s.At)}</time>
              {typeof s.Data.Comment === 'string' && s.Data.Comment ? <q className="comment">{s.Data.Comment}</q> : null}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

const KIND_LABEL: Record<string, string> = {
  Started: 'Started',
  StepEntered: 'Step entered',
  StepSkipped: 'Step skipped',
  StepCompleted: 'Step completed',
  Suspended: 'Waiting',
  SignalReceived: 'Signal',
  SignalRepeated: 'Signal repeated',
  Approved: 'Approved',
  Rejected: 'Rejected',
  Completed: 'Completed',
  Failed: 'Failed',
  Stopped: 'Stopped',
  Restarted: 'Restarted',
  RestartedFrom: 'Restarted from',
  Reconciled: 'Reconciled',
};

export function Timeline({ entries }: { entries: HistoryEntry[] }) {
  if (entries.length === 0) return <p className="muted">No history.</p>;
  return (
    <ol className="timeline">
      {entries.map((h, i) => {
        const { Comment, ...rest } = h.Data ?? {};
        const restKeys = Object.keys(rest);
        return (
          <li key={i} className={`tl tl-${h.Kind.toLowerCase()}`}>
            <div className="tl-head">
              <span className="tl-kind">{KIND_LABEL[h.Kind] ?? h.Kind}</span>
              <time dateTime={h.At}>{when(h.At)}</time>
            </div>
            <p className="tl-msg">{h.Message}</p>
            {h.Step || h.Actor ? (
              <p className="tl-meta">
                {h.Step ? <>Step {h.Step}</> : null}
                {h.Step && h.Actor ? ' · ' : null}
                {h.Actor ? <>by {h.Actor}</> : null}
              </p>
            ) : null}
            {typeof Comment === 'string' && Comment ? <q className="comment">{Comment}</q> : null}
            {restKeys.length ? (
              <details>
                <summary>Data</summary>
                <pre>{show(rest)}</pre>
              </details>
            ) : null}
          </li>
        );
      })}
    </ol>
  );
}

function AdminActions({ d, definition, from, onChanged }: { d: Detail; definition: DefinitionV2 | null; from: From; onChanged: () => void }) {
  const { can } = useSession();
  const act = useAction();
  const [version, setVersion] = useState<string>('');
  // biome-ignore lint/correctness/useExhaustiveDependencies: the chosen version resets when another instance is shown
  useEffect(() => setVersion(''), [d.Id]);
  // A Running instance (an automatic step in flight, or stuck) can always be stopped or deleted.
  const canStop = d.Status === 1 || d.Status === 2;
  const canRestart = can.restart && (d.Status === 2 || d.Status === 5);
  const canDelete = isTerminalStatus(d.Status) || d.Status === 1;
  if (!canStop && !canRestart && !canDelete) return null;
  const versions: number[] = [];
  if (definition) for (let v = 1; v <= definition.DraftVersion; v++) if (v < definition.DraftVersion || v === definition.PublishedVersion) versions.push(v);
  const base = from === 'instances' ? '/instances' : from === 'my' ? '/my' : '/instances';
  return (
    <section aria-labelledby="admin-h" className="card">
      <h2 id="admin-h">Manage</h2>
      <ErrorMessage error={act.error} />
      <StatusMessage>{act.message}</StatusMessage>
      <div className="stack">
        {canStop ? (
          <div>
            <ConfirmButton
              label="Stop…"
              confirmLabel="Stop the instance"
              question="Stop this instance? It cannot be resumed, only restarted."
              busy={act.busy}
              onConfirm={() => act.run(() => api.stop(d.Id), 'Stopped.').then(onChanged)}
            />
          </div>
        ) : null}
        {canRestart ? (
          <div className="field inline">
            <label htmlFor="restart-version">Restart on</label>
            <select id="restart-version" value={version} onChange={(e) => setVersion(e.target.value)}>
              <option value="">the published version{definition?.PublishedVersion ? ` (${definition.PublishedVersion})` : ''}</option>
              {versions.map((v) => (
                <option key={v} value={v}>
                  version {v}
                </option>
              ))}
            </select>
            <ConfirmButton
              label="Restart…"
              confirmLabel="Restart"
              danger={false}
              question="Cancel this instance and start it again with the same data?"
              busy={act.busy}
              onConfirm={async () => {
                const newId = await act.run(() => api.restart(d.Id, version ? Number(version) : null));
                if (newId) navigate(`${base}/${newId}`, { flash: 'Restarted.' });
              }}
            />
          </div>
        ) : null}
        {canDelete ? (
          <div>
            <ConfirmButton
              label="Delete…"
              confirmLabel="Delete for good"
              question="Delete this instance and its history?"
              busy={act.busy}
              onConfirm={async () => {
                const ok = await act.run(async () => {
                  await api.deleteInstance(d.Id);
                  return true;
                });
                if (ok) navigate(base, { flash: `Deleted instance #${d.ReferenceId}.` });
              }}
            />
          </div>
        ) : null}
      </div>
    </section>
  );
}
