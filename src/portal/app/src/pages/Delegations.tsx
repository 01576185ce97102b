import { type FormEvent, useState } from 'react';
import { approvalsApi } from '../approvalsApi.ts';
import { when } from '../format.ts';
import { useAction, useLoad } from '../hooks.ts';
import { sameAccount, useSession } from '../session.tsx';
import { ConfirmButton, ErrorMessage, Loading, PageTitle, StatusMessage } from '../ui.tsx';

/** Delegating one's approvals for a time window, and the delegations one has received (docs/approvals.md#delegation). */
export function Delegations() {
  const { session } = useSession();
  const list = useLoad(() => approvalsApi.delegations(), 'delegations');
  const act = useAction();
  const [delegate, setDelegate] = useState('');
  const [end, setEnd] = useState('');
  const [comment, setComment] = useState('');

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const endIso = end ? new Date(end).toISOString() : '';
    const ok = await act.run(
      () => approvalsApi.delegate({ Delegate: delegate.trim(), End: endIso, Comment: comment.trim() || undefined }),
      (d) => `${d.Delegate} may now decide for you until ${when(d.End)}.`,
    );
    if (ok) {
      setDelegate('');
      setEnd('');
      setComment('');
      await list.reload();
    }
  };

  const given = (list.data ?? []).filter((d) => sameAccount(d.Delegator, session.user));
  const received = (list.data ?? []).filter((d) => !sameAccount(d.Delegator, session.user));

  return (
    <>
      <PageTitle text="Delegation">Delegation</PageTitle>
      <p className="hint">While you are away, someone else may approve or deny for you. Their decisions count as yours and the history says who made them.</p>
      <StatusMessage>{act.message}</StatusMessage>
      <ErrorMessage error={act.error} />
      <section aria-labelledby="new-delegation-h" className="card">
        <h2 id="new-delegation-h">Delegate my approvals</h2>
        <form onSubmit={submit} className="form">
          <div className="field">
            <label htmlFor="delegate-name">To (account name)</label>
            <input id="delegate-name" value={delegate} onChange={(e) => setDelegate(e.target.value)} required placeholder="DOMAIN\user" />
          </div>
          <div className="field">
            <label htmlFor="delegate-end">Until</label>
            <input id="delegate-end" type="datetime-local" value={end} onChange={(e) => setEnd(e.target.value)} required />
          </div>
          <div className="field">
            <label htmlFor="delegate-comment">Comment (optional)</label>
            <input id="delegate-comment" value={comment} onChange={(e) => setComment(e.target.value)} maxLength={500} />
          </div>
          <button type="submit" className="button primary" disabled={act.busy}>
            Delegate
          </button>
        </form>
      </section>
      {!list.data ? (
        list.error ? (
          <ErrorMessage error={list.error} />
        ) : (
          <Loading />
        )
      ) : (
        <>
          <DelegationTable
            title="I delegated"
            id="given-h"
            rows={given}
            who={(d) => d.Delegate}
            revoke={(id) => act.run(() => approvalsApi.revokeDelegation(id), 'Delegation revoked.').then(() => list.reload())}
            busy={act.busy}
          />
          <DelegationTable title="Delegated to me" id="received-h" rows={received} who={(d) => d.Delegator} />
        </>
      )}
    </>
  );
}

function DelegationTable({
  title,
  id,
  rows,
  who,
  revoke,
  busy,
}: {
  title: string;
  id: string;
  rows: import('../approvalsApi.ts').Delegation[];
  who: (d: import('../approvalsApi.ts').Delegation) => string;
  revoke?: (id: number) => void;
  busy?: boolean;
}) {
  return (
    <section aria-labelledby={id} className="card">
      <h2 id={id}>{title}</h2>
      {rows.length === 0 ? (
        <p>None in force.</p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">{revoke ? 'To' : 'For'}</th>
              <th scope="col">From</th>
              <th scope="col">Until</th>
              <th scope="col">Comment</th>
              {revoke ? <th scope="col">Action</th> : null}
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr key={d.Id}>
                <td>{who(d)}</td>
                <td>{when(d.Start)}</td>
                <td>{when(d.End)}</td>
                <td>{d.Comment}</td>
                {revoke ? (
                  <td>
                    <ConfirmButton label="Revoke" confirmLabel="Revoke now" question={`Stop ${d.Delegate} deciding for you?`} onConfirm={() => revoke(d.Id)} busy={busy} />
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
