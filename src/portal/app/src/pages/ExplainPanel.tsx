import { approvalsApi } from '../approvalsApi.ts';
import { when as formatDate } from '../format.ts';
import { useLoad } from '../hooks.ts';
import { ErrorMessage } from '../ui.tsx';

/** "Why is it here?": the server's Explain of an instance (docs/approvals.md#explain). */
export function ExplainPanel({ id, version }: { id: string; version: string }) {
  const load = useLoad(() => approvalsApi.explain(id), `explain:${id}:${version}`);
  const e = load.data;
  return (
    <section aria-labelledby="explain-h" className="card">
      <h2 id="explain-h">Why it is here</h2>
      <ErrorMessage error={load.error} />
      {e ? (
        <>
          <p className="explain-reason">{e.Reason}</p>
          {e.Wait ? (
            <>
              <table className="table compact">
                <caption className="sr-only">What the step needs</caption>
                <thead>
                  <tr>
                    <th scope="col">Decision</th>
                    <th scope="col">Received</th>
                    <th scope="col">Needed</th>
                  </tr>
                </thead>
                <tbody>
                  {e.Wait.Counts.map((c) => (
                    <tr key={c.Name}>
                      <th scope="row">{c.Name}</th>
                      <td>{c.Received}</td>
                      <td>{c.Required}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {e.Wait.Decisions.length ? (
                <>
                  <h3>Decided so far</h3>
                  <ul>
                    {e.Wait.Decisions.map((d) => (
                      <li key={`${d.AccountName}${d.At}`}>
                        {d.AccountName}: {d.Decision}
                        {d.Comment ? ` (“${d.Comment}”)` : ''}, {formatDate(d.At)}
                      </li>
                    ))}
                  </ul>
                </>
              ) : null}
              {e.MayAct ? (
                <>
                  <h3>Who may still act</h3>
                  <p>
                    {e.MayAct.Identities.length ? e.MayAct.Identities.map((i) => i.AccountName).join(', ') : 'Nobody in the roles can act now.'}
                    {e.MayAct.Roles.length ? ` (roles: ${e.MayAct.Roles.map((r) => r.Name).join(', ')})` : ''}
                  </p>
                </>
              ) : null}
              {e.Wait.Barred ? <p className="hint">Not allowed to act: {e.Wait.Barred.Reason}.</p> : null}
              {e.Wait.Deadlines.length ? (
                <>
                  <h3>Deadlines</h3>
                  <ul>
                    {e.Wait.Deadlines.map((d) => (
                      <li key={`${d.Kind}${d.At}`}>
                        {formatDate(d.At)}: {d.Action}
                      </li>
                    ))}
                  </ul>
                </>
              ) : null}
            </>
          ) : null}
          {e.Failure ? (
            <p>
              Last error: {e.Failure.LastError}
              {e.Failure.NextRetry ? ` Next attempt: ${formatDate(e.Failure.NextRetry)}.` : ''}
            </p>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
