import { useState, type FormEvent } from 'react';
import { api } from '../api.ts';
import { certApi } from '../certapi.ts';
import { age, when } from '../format.ts';
import { useLoad } from '../hooks.ts';
import { CERTIFICATE_QUERY_FIELDS, buildQuery, quote, type Condition } from '../query.ts';
import { Link, navigate, type Location } from '../router.tsx';
import { useSession } from '../session.tsx';
import { ErrorMessage, Loading, PageTitle, Pager } from '../ui.tsx';
import { ConditionRows } from './ConditionRows.tsx';

const FIELDS = CERTIFICATE_QUERY_FIELDS;
const SIZE = 25;
const emptyRow = (): Condition => ({ field: 'IssuedCN', op: 'contains', value: '' });

/** Where an enrollment request stands, from its workflow instance's status. */
const REQUEST_STATE: Record<number, string> = { 1: 'In progress', 2: 'Pending approval', 3: 'Issued', 4: 'Denied', 5: 'Failed', 6: 'Restarted' };

function toUrl(q: string, expired: boolean, page: number): string {
  const p = new URLSearchParams();
  if (q) p.set('q', q);
  if (expired) p.set('expired', '1');
  if (page > 1) p.set('page', String(page));
  const s = p.toString();
  return `/certificates${s ? `?${s}` : ''}`;
}

/** The certificate inventory (search, then detail and download), and the caller's own requests. */
export function Certificates({ loc }: { loc: Location }) {
  const { can } = useSession();
  const q = loc.search.get('q') ?? '';
  const expired = loc.search.get('expired') === '1';
  const page = Math.max(1, Number(loc.search.get('page')) || 1);
  const [rows, setRows] = useState<Condition[]>(() => [emptyRow()]);
  const [withExpired, setWithExpired] = useState(expired);
  const built = buildQuery(rows, FIELDS);
  const results = useLoad(
    () => certApi.certificates({ QueryString: q || undefined, SortField: 'Id', SortAscending: 1, ReturnLimit: SIZE, PageReturned: page, includeExpired: expired }),
    toUrl(q, expired, page),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    navigate(toUrl(built, withExpired, 1));
  };

  return (
    <>
      <PageTitle text="Certificates">Certificates</PageTitle>
      <p className="lead">{can.certificatesAll ? 'Every certificate Countersign has issued.' : 'The certificates you requested.'}</p>
      {can.enrollCsr || can.enrollPfx ? (
        <p>
          <Link to="/enroll" className="button primary">
            Request a certificate
          </Link>
        </p>
      ) : null}
      <form className="card search" onSubmit={submit} aria-labelledby="cert-search-h">
        <h2 id="cert-search-h">Search</h2>
        <ConditionRows rows={rows} setRows={setRows} fields={FIELDS} emptyRow={emptyRow} idPrefix="cc" />
        <div className="field check">
          <input id="cert-expired" type="checkbox" checked={withExpired} onChange={(e) => setWithExpired(e.target.checked)} />
          <label htmlFor="cert-expired">Include expired certificates</label>
        </div>
        <p className="query-preview">
          Query sent: <code id="cert-query-preview">{built || '(none: every certificate)'}</code>
        </p>
        <div className="actions">
          <button type="submit" className="button primary">
            Search
          </button>
        </div>
      </form>

      <section aria-labelledby="cert-results-h">
        <h2 id="cert-results-h">Results</h2>
        {q ? (
          <p className="muted small">
            For <code>{q}</code>
          </p>
        ) : null}
        <ErrorMessage error={results.error} title="The search failed:" />
        {results.loading && !results.data ? (
          <Loading what="Searching" />
        ) : results.data && results.data.length === 0 ? (
          <p role="status">No certificate matches.</p>
        ) : results.data ? (
          <table className="list">
            <caption className="sr-only">Certificates found</caption>
            <thead>
              <tr>
                <th scope="col">Certificate</th>
                <th scope="col">Key</th>
                <th scope="col">Template</th>
                <th scope="col">Requester</th>
                <th scope="col">Expires</th>
              </tr>
            </thead>
            <tbody>
              {results.data.map((c) => (
                <tr key={c.Id}>
                  <td data-label="Certificate">
                    <Link to={`/certificates/${c.Id}`} className="row-link">
                      {c.IssuedCN || c.IssuedDN || `Certificate ${c.Id}`}
                    </Link>
                    <span className="sub mono">
                      #{c.Id} · {c.SerialNumber}
                    </span>
                  </td>
                  <td data-label="Key">
                    {c.KeyTypeString} {c.Curve ?? c.KeySizeInBits}
                  </td>
                  <td data-label="Template">{c.TemplateName ?? '—'}</td>
                  <td data-label="Requester">{c.RequesterName ?? '—'}</td>
                  <td data-label="Expires">
                    <time dateTime={c.NotAfter} title={when(c.NotAfter)}>
                      {c.NotAfter.slice(0, 10)}
                    </time>
                    {c.CertStateString !== 'Active' ? <span className="sub">{c.CertStateString}</span> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        <Pager page={page} size={SIZE} count={results.data?.length ?? 0} onPage={(p) => navigate(toUrl(q, expired, p))} />
      </section>
      {can.mine && (can.enrollCsr || can.enrollPfx) ? <MyRequests /> : null}
    </>
  );
}

/** The caller's enrollment requests: pending, issued, denied (their Enrollment workflow instances). */
function MyRequests() {
  const mine = useLoad(() => api.myInstances({ QueryString: `WorkflowType -eq ${quote('Enrollment')}`, SortField: 'StartDate', SortAscending: 1, ReturnLimit: 25 }), 'my-requests');
  return (
    <section aria-labelledby="my-requests-h">
      <h2 id="my-requests-h">My requests</h2>
      <ErrorMessage error={mine.error} />
      {mine.loading && !mine.data ? (
        <Loading what="Loading your requests" />
      ) : mine.data && mine.data.length === 0 ? (
        <p>You have not requested a certificate yet.</p>
      ) : (
        <ul className="plain">
          {mine.data?.map((r) => (
            <li key={r.Id}>
              <Link to={`/my/${r.Id}`}>{r.Title || `Request ${r.ReferenceId}`}</Link> — <strong>{REQUEST_STATE[r.Status] ?? 'Unknown'}</strong>{' '}
              <span className="muted">
                (<time dateTime={r.StartDate}>{age(r.StartDate)}</time>)
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
