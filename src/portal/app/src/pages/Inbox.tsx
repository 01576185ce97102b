import { approvalsApi } from '../approvalsApi.ts';
import { useEffect, useMemo, useState } from 'react';
import { api, type InstanceRow } from '../api.ts';
import { describeNeeded } from '../approvals.ts';
import { CommentField, commentTooLong } from '../comment.tsx';
import { age, when } from '../format.ts';
import { POLL_MS, useLoad } from '../hooks.ts';
import { enrich, type Enriched } from '../instances.ts';
import { Link, takeFlash } from '../router.tsx';
import { useSession } from '../session.tsx';
import { ErrorMessage, Loading, PageTitle, StatusMessage } from '../ui.tsx';

const PAGE = 200;

/** Assigned to Me: what waits for the signed-in approver, refreshed every few seconds. */
export function Inbox() {
  const { can } = useSession();
  const list = useLoad(() => api.assignedToMe({ ReturnLimit: PAGE, SortField: 'StartDate', SortAscending: 0 }), 'inbox', POLL_MS);
  const [flash] = useState(takeFlash);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: string | null; failed: string[] } | null>(null);
  const rows = list.data ?? [];

  // Drop selections that left the inbox (decided elsewhere, or by someone else).
  useEffect(() => {
    setSelected((s) => {
      const ids = new Set(rows.map((r) => r.Id));
      const kept = [...s].filter((id) => ids.has(id));
      return kept.length === s.size ? s : new Set(kept);
    });
  }, [rows]);

  const toggle = (id: string) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  const allSelected = rows.length > 0 && rows.every((r) => selected.has(r.Id));
  const chosen = rows.filter((r) => selected.has(r.Id));

  const approveSelected = async () => {
    setBusy(true);
    setResult(null);
    const failed: string[] = [];
    let ok = 0;
    // One call; the server checks each item as if it were signalled alone (docs/approvals.md#bulk-decisions).
    try {
      const results = await approvalsApi.bulkApprove(
        chosen.map((r) => ({ id: r.Id, step: r.CurrentStepUniqueName ?? '' })),
        comment,
      );
      for (const res of results) {
        const r = chosen.find((c) => c.Id === res.InstanceId);
        if (res.Succeeded) ok++;
        else failed.push(`${r?.Title ?? res.InstanceId}: ${res.Error?.Message ?? 'refused'}`);
      }
    } catch (e) {
      failed.push((e as Error).message);
    }
    setBusy(false);
    setResult({ ok: ok ? `Approved ${ok} request${ok === 1 ? '' : 's'}.` : null, failed });
    setSelected(new Set());
    setComment('');
    await list.reload();
  };

  return (
    <>
      <PageTitle text="Assigned to Me">Assigned to Me</PageTitle>
      <StatusMessage>{flash}</StatusMessage>
      {result?.ok ? <StatusMessage>{result.ok}</StatusMessage> : null}
      {result?.failed.length ? (
        <div className="alert alert-error" role="alert">
          <p>Some requests could not be approved:</p>
          <ul>
            {result.failed.map((f) => (
              <li key={f}>{f}</li>
            ))}
          </ul>
        </div>
      ) : null}
      <ErrorMessage error={list.error} title="The list could not be loaded." />
      {list.loading && !list.data ? (
        <Loading what="Loading your requests" />
      ) : (
        <>
          <p className="lead" role="status" id="inbox-count">
            {rows.length === 0
              ? 'Nothing is waiting for you.'
              : `${rows.length}${rows.length === PAGE ? '+' : ''} request${rows.length === 1 ? '' : 's'} waiting for your decision.`}
          </p>
          {rows.length > 0 ? (
            <table className="list">
              <caption className="sr-only">Requests waiting for your decision</caption>
              <thead>
                <tr>
                  <th scope="col" className="select">
                    <input
                      type="checkbox"
                      aria-label="Select all requests"
                      checked={allSelected}
                      onChange={() => setSelected(allSelected ? new Set() : new Set(rows.map((r) => r.Id)))}
                    />
                  </th>
                  <th scope="col">Request</th>
                  <th scope="col">Requester</th>
                  <th scope="col">Age</th>
                  <th scope="col">Current step</th>
                  <th scope="col">Approvals still needed</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <InboxRow key={r.Id} row={r} selected={selected.has(r.Id)} onToggle={() => toggle(r.Id)} canReadDefinitions={can.definitionsRead} />
                ))}
              </tbody>
            </table>
          ) : null}
          {chosen.length > 0 ? (
            <section className="card bulk" aria-labelledby="bulk-title">
              <h2 id="bulk-title">
                Approve {chosen.length} selected request{chosen.length === 1 ? '' : 's'}
              </h2>
              <CommentField id="bulk-comment" label="Comment for all (optional)" value={comment} onChange={setComment} />
              <div className="actions">
                <button type="button" className="button primary" onClick={approveSelected} disabled={busy || commentTooLong(comment)}>
                  {busy ? 'Approving…' : `Approve ${chosen.length} request${chosen.length === 1 ? '' : 's'}`}
                </button>
                <button type="button" className="button" onClick={() => setSelected(new Set())} disabled={busy}>
                  Clear selection
                </button>
              </div>
            </section>
          ) : null}
          <p className="muted small">The list follows the server every few seconds{list.updatedAt ? `; last checked ${new Date(list.updatedAt).toLocaleTimeString()}` : ''}.</p>
        </>
      )}
    </>
  );
}

function InboxRow({ row, selected, onToggle, canReadDefinitions }: { row: InstanceRow; selected: boolean; onToggle: () => void; canReadDefinitions: boolean }) {
  const [extra, setExtra] = useState<Enriched | null>(null);
  const key = `${row.Id}:${row.LastModified}`;
  // biome-ignore lint/correctness/useExhaustiveDependencies: keyed on the row's identity and LastModified on purpose, not on every polled copy of the row
  useEffect(() => {
    let live = true;
    enrich(row, canReadDefinitions).then(
      (e) => live && setExtra(e),
      () => live && setExtra({ requester: null, approvals: null }),
    );
    return () => {
      live = false;
    };
    // Re-read only when the instance changed (its LastModified), not on every poll.
  }, [key, canReadDefinitions]);
  const title = row.Title || `Request ${row.ReferenceId}`;
  const needed = useMemo(() => (extra ? describeNeeded(extra.approvals) : '…'), [extra]);
  return (
    <tr className={selected ? 'selected' : undefined}>
      <td className="select">
        <input type="checkbox" checked={selected} onChange={onToggle} aria-label={`Select ${title}`} />
      </td>
      <td data-label="Request">
        <Link to={`/inbox/${row.Id}`} className="row-link">
          {title}
        </Link>
        <span className="sub">
          {row.Definition.DisplayName} · #{row.ReferenceId}
        </span>
      </td>
      <td data-label="Requester">{extra ? (extra.requester ?? <span className="muted">unknown</span>) : '…'}</td>
      <td data-label="Age">
        <time dateTime={row.StartDate} title={when(row.StartDate)}>
          {age(row.StartDate)}
        </time>
      </td>
      <td data-label="Current step">{row.CurrentStepDisplayName}</td>
      <td data-label="Approvals still needed">{needed}</td>
    </tr>
  );
}
