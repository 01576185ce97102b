import type { ReactNode } from 'react';
import { certApi, type DecodedRequest as Decoded } from '../certapi.ts';
import { when } from '../format.ts';
import { useLoad } from '../hooks.ts';
import { ErrorMessage, Loading } from '../ui.tsx';

/** Which policy rules each row of the comparison answers for. */
const RULES: Record<string, string[]> = {
  subject: ['Subject', 'TemplateRegex'],
  sans: ['SANType', 'Wildcard'],
  key: ['KeyType', 'KeySize', 'KeyCurve'],
  ca: ['CertificateAuthority'],
  type: ['EnrollmentType'],
  requester: ['Requester'],
};

const SAN_LABEL: Record<string, string> = { dns: 'DNS', ip: 'IP', ip4: 'IP', ip6: 'IP', uri: 'URI', rfc822: 'Email', email: 'Email', upn: 'UPN', ms_ntprincipalname: 'UPN' };

function keyText(k: Decoded['Key']): string {
  if (k.Type === 'ECC') return `EC ${k.Curve ?? 'unknown curve'}`;
  if (k.Type === 'RSA') return `RSA ${k.Size} bits`;
  return k.Type;
}

function allowedKeyText(t: NonNullable<Decoded['Template']>): string {
  return t.KeyTypes.map((k) => (k === 'RSA' ? `RSA ≥ ${t.MinimumRsaKeySize} bits` : k === 'ECC' ? `EC ${t.Curves.join(', ')}` : k)).join('; ');
}

/**
 * The certificate request behind an Enrollment instance, decoded by the server
 * (GET /Enrollment/Requests/{id}): what is asked for beside what the template allows, with every
 * rule the request breaks flagged. Approvers read this before deciding.
 */
export function DecodedRequest({ requestId }: { requestId: number }) {
  const load = useLoad(() => certApi.request(requestId), `request:${requestId}`);
  return (
    <section aria-labelledby="decoded-h" className="card">
      <h2 id="decoded-h">Certificate request {requestId}</h2>
      <ErrorMessage error={load.error} title="The request could not be decoded:" />
      {load.loading && !load.data ? <Loading what="Decoding the request" /> : load.data ? <Body r={load.data} /> : null}
    </section>
  );
}

function Body({ r }: { r: Decoded }) {
  const t = r.Template;
  const flagged = (row: string) => r.PolicyViolations.filter((v) => RULES[row]?.includes(v.Rule));
  const known = new Set(Object.values(RULES).flat());
  const other = r.PolicyViolations.filter((v) => !known.has(v.Rule));
  const sans = Object.entries(r.SANs).flatMap(([type, values]) => values.map((v) => `${SAN_LABEL[type] ?? type}: ${v}`));
  return (
    <>
      {r.PolicyViolations.length ? (
        <div className="alert alert-error" role="alert" id="policy-flags">
          <strong>Outside the template's policy ({r.PolicyViolations.length}):</strong>
          <ul>
            {r.PolicyViolations.map((v, i) => (
              <li key={i}>
                {v.Rule}: {v.Message}
              </li>
            ))}
          </ul>
        </div>
      ) : (
        <p className="alert alert-ok" role="status">
          Within the template's policy.
        </p>
      )}
      <table className="compare">
        <caption className="sr-only">The request beside what the template allows</caption>
        <thead>
          <tr>
            <th scope="col">Item</th>
            <th scope="col">Requested</th>
            <th scope="col">Template allows</th>
          </tr>
        </thead>
        <tbody>
          <Row label="Subject" flags={flagged('subject')} requested={r.Subject || '(empty)'} allowed={t ? 'A CN or at least one SAN' : '—'} />
          <Row
            label="Alternative names"
            flags={flagged('sans')}
            requested={
              sans.length ? (
                <ul className="plain">
                  {sans.map((s) => (
                    <li key={s}>{s}</li>
                  ))}
                </ul>
              ) : (
                'None'
              )
            }
            allowed={t ? `${t.AllowedSanTypes.join(', ') || 'none'}` : '—'}
          />
          <Row label="Key" flags={flagged('key')} requested={keyText(r.Key)} allowed={t ? allowedKeyText(t) : '—'} />
          <Row label="Validity" flags={[]} requested={`${r.ValidityDays} days`} allowed={t ? `${t.ValidityDays} days` : '—'} />
          <Row
            label="Template"
            flags={flagged('type')}
            requested={`${t ? t.Name : '(deleted)'}, ${r.EnrollmentType === 'CSR' ? 'with a CSR' : 'key made by the server'}`}
            allowed=""
          />
          <Row label="Certificate authority" flags={flagged('ca')} requested={r.CertificateAuthority ?? '—'} allowed="" />
          <Row label="Requester" flags={flagged('requester')} requested={r.Requester} allowed="" />
        </tbody>
      </table>
      {other.length ? <p className="muted small">Also: {other.map((v) => v.Rule).join(', ')}.</p> : null}
      <p className="muted small">
        Submitted <time dateTime={r.SubmissionDate}>{when(r.SubmissionDate)}</time> · {r.Disposition.toLowerCase()}
        {r.KeyfactorID ? ` · certificate ${r.KeyfactorID}` : ''}. Checked against the template as it is now.
      </p>
      {r.CSR ? (
        <details>
          <summary>The CSR as sent</summary>
          <pre className="mono">{r.CSR}</pre>
        </details>
      ) : null}
    </>
  );
}

function Row({ label, requested, allowed, flags }: { label: string; requested: ReactNode; allowed: ReactNode; flags: { Rule: string; Message: string }[] }) {
  return (
    <tr className={flags.length ? 'flagged' : undefined}>
      <th scope="row">{label}</th>
      <td>
        {requested}
        {flags.map((f, i) => (
          <span key={i} className="flag">
            <span className="badge badge-failed">Outside policy</span> {f.Message}
          </span>
        ))}
      </td>
      <td>{allowed}</td>
    </tr>
  );
}
