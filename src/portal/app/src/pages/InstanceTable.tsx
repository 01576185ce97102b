import type { InstanceRow } from '../api.ts';
import { age, when } from '../format.ts';
import { Link } from '../router.tsx';
import { StatusBadge } from '../ui.tsx';

/** Instances as a table (cards on a narrow screen), each linking to its detail under `base`. */
export function InstanceTable({ rows, base, caption }: { rows: InstanceRow[]; base: string; caption: string }) {
  return (
    <table className="list">
      <caption className="sr-only">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Request</th>
          <th scope="col">Status</th>
          <th scope="col">Where it stands</th>
          <th scope="col">Started</th>
          <th scope="col">Last change</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.Id}>
            <td data-label="Request">
              <Link to={`${base}/${r.Id}`} className="row-link">
                {r.Title || `Request ${r.ReferenceId}`}
              </Link>
              <span className="sub">
                {r.Definition.DisplayName} · #{r.ReferenceId}
              </span>
            </td>
            <td data-label="Status">
              <StatusBadge status={r.Status} />
            </td>
            <td data-label="Where it stands">
              {r.CurrentStepDisplayName ? <span className="step-name">{r.CurrentStepDisplayName}</span> : null}
              {r.StatusMessage ? <span className="sub">{r.StatusMessage}</span> : null}
            </td>
            <td data-label="Started">
              <time dateTime={r.StartDate} title={when(r.StartDate)}>
                {age(r.StartDate)}
              </time>
            </td>
            <td data-label="Last change">
              <time dateTime={r.LastModified} title={when(r.LastModified)}>
                {age(r.LastModified)}
              </time>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
