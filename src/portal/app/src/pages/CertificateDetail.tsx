import { useState, type FormEvent, type ReactNode } from 'react';
import { ApiError } from '../api.ts';
import { SAN_TYPE_NAMES, certApi, fileBase, saveFile, type CertificateRow, type DownloadFormat } from '../certapi.ts';
import { when } from '../format.ts';
import { useAction, useLoad } from '../hooks.ts';
import { Link } from '../router.tsx';
import { ErrorMessage, Loading, PageTitle, StatusMessage } from '../ui.tsx';

const FORMATS: { value: DownloadFormat; label: string; ext: string; type: string }[] = [
  { value: 'PEM', label: 'PEM (text)', ext: 'pem', type: 'application/x-pem-file' },
  { value: 'DER', label: 'DER (binary, the certificate alone)', ext: 'cer', type: 'application/pkix-cert' },
  { value: 'P7B', label: 'PKCS#7 (.p7b)', ext: 'p7b', type: 'application/x-pkcs7-certificates' },
];

/** One certificate: what it says, where it came from, its history; download it (and recover its key). */
export function CertificateDetail({ id }: { id: number }) {
  const load = useLoad(async () => ({ c: await certApi.certificate(id), history: await certApi.history(id) }), `certificate:${id}`);
  if (load.error && !load.data) {
    const gone = load.error instanceof ApiError && load.error.status === 404;
    return (
      <>
        <PageTitle text="Certificate not found">{gone ? 'Certificate not found' : 'The certificate could not be loaded'}</PageTitle>
        <ErrorMessage error={gone ? 'This certificate does not exist, or you may not see it.' : load.error} />
        <p>
          <Link to="/certificates">Back to Certificates</Link>
        </p>
      </>
    );
  }
  if (!load.data) return <Loading what="Loading the certificate" />;
  const { c, history } = load.data;
  const title = c.IssuedCN || c.IssuedDN || `Certificate ${c.Id}`;
  const metadata = Object.entries(c.Metadata ?? {});
  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/certificates">Certificates</Link> <span aria-hidden="true">›</span> <span>#{c.Id}</span>
      </nav>
      <PageTitle text={title}>{title}</PageTitle>
      <div className="detail-grid">
        <div className="detail-main">
          <section className="card" aria-labelledby="cert-facts-h">
            <h2 id="cert-facts-h">Certificate</h2>
            <dl className="facts">
              <Fact label="Subject">{c.IssuedDN}</Fact>
              <Fact label="Alternative names">
                {c.SubjectAltNameElements.length ? (
                  <ul className="plain">
                    {c.SubjectAltNameElements.map((s) => (
                      <li key={`${s.Type}:${s.Value}`}>
                        {SAN_TYPE_NAMES[s.Type] ?? 'Other'}: {s.Value}
                      </li>
                    ))}
                  </ul>
                ) : (
                  'None'
                )}
              </Fact>
              <Fact label="Status">{c.CertStateString}</Fact>
              <Fact label="Valid">
                from <time dateTime={c.NotBefore}>{when(c.NotBefore)}</time> to <time dateTime={c.NotAfter}>{when(c.NotAfter)}</time>
              </Fact>
              <Fact label="Key">
                {c.KeyTypeString} {c.Curve ?? `${c.KeySizeInBits} bits`}
              </Fact>
              <Fact label="Serial number" mono>
                {c.SerialNumber}
              </Fact>
              <Fact label="Thumbprint (SHA-1)" mono>
                {c.Thumbprint}
              </Fact>
              <Fact label="Issuer">{c.IssuerDN}</Fact>
              <Fact label="Certificate authority">{c.CertificateAuthorityName ?? '—'}</Fact>
              <Fact label="Template">{c.TemplateName ?? '—'}</Fact>
              <Fact label="Usages">{c.ExtendedKeyUsages.map((e) => e.DisplayName).join(', ') || '—'}</Fact>
              <Fact label="Signature">{c.SigningAlgorithm}</Fact>
              <Fact label="Requester">{c.RequesterName ?? '—'}</Fact>
              <Fact label="Request">{c.CertRequestId ?? '—'}</Fact>
            </dl>
          </section>
          <section className="card" aria-labelledby="cert-meta-h">
            <h2 id="cert-meta-h">Metadata</h2>
            {metadata.length ? (
              <dl className="facts">
                {metadata.map(([k, v]) => (
                  <Fact key={k} label={k}>
                    {v}
                  </Fact>
                ))}
              </dl>
            ) : (
              <p className="muted">None.</p>
            )}
          </section>
          <Download c={c} onDone={() => void load.reload()} />
          {c.HasPrivateKey && c.KeyRecoverable ? <Recover c={c} onDone={() => void load.reload()} /> : null}
        </div>
        <div className="detail-side">
          <section className="card" aria-labelledby="cert-history-h">
            <h2 id="cert-history-h">History</h2>
            {history.length === 0 ? (
              <p className="muted">No history.</p>
            ) : (
              <ol className="timeline">
                {history.map((h) => (
                  <li key={h.Id} className="tl">
                    <div className="tl-head">
                      <span className="tl-kind">{h.Action}</span>
                      <time dateTime={h.OperationStart}>{when(h.OperationStart)}</time>
                    </div>
                    <p className="tl-meta">
                      by {h.Username}
                      {h.Comment ? ` · ${h.Comment}` : ''}
                    </p>
                  </li>
                ))}
              </ol>
            )}
          </section>
        </div>
      </div>
    </>
  );
}

function Fact({ label, children, mono }: { label: string; children: ReactNode; mono?: boolean }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd className={mono ? 'mono' : undefined}>{children}</dd>
    </div>
  );
}

function Download({ c, onDone }: { c: CertificateRow; onDone: () => void }) {
  const [format, setFormat] = useState<DownloadFormat>('PEM');
  const [chain, setChain] = useState(false);
  const act = useAction();
  const f = FORMATS.find((x) => x.value === format)!;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = await act.run(() => certApi.download(c.Id, format, chain && format !== 'DER'), 'Downloaded.');
    if (r) {
      saveFile(r.Content, `${fileBase(c.IssuedCN, `certificate-${c.Id}`)}.${f.ext}`, f.type);
      onDone();
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="cert-download-h">
      <h2 id="cert-download-h">Download</h2>
      <div className="row">
        <div className="field">
          <label htmlFor="download-format">Format</label>
          <select id="download-format" value={format} onChange={(e) => setFormat(e.target.value as DownloadFormat)}>
            {FORMATS.map((x) => (
              <option key={x.value} value={x.value}>
                {x.label}
              </option>
            ))}
          </select>
        </div>
        {format !== 'DER' ? (
          <div className="field check">
            <input id="download-chain" type="checkbox" checked={chain} onChange={(e) => setChain(e.target.checked)} />
            <label htmlFor="download-chain">Include the issuing chain</label>
          </div>
        ) : null}
      </div>
      <ErrorMessage error={act.error} title="The download failed:" />
      <StatusMessage>{act.message}</StatusMessage>
      <div className="actions">
        <button type="submit" className="button primary" disabled={act.busy}>
          Download the certificate
        </button>
      </div>
    </form>
  );
}

/** A generated key that waited for approval (or a retained one), as PKCS#12 under a new password. */
function Recover({ c, onDone }: { c: CertificateRow; onDone: () => void }) {
  const [password, setPassword] = useState('');
  const act = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (password.length < 8) return act.setError('Choose a password of at least 8 characters.');
    const r = await act.run(() => certApi.recover(c.Id, password), 'The key was handed over.');
    if (r) {
      setPassword('');
      saveFile(r.PFX, r.FileName, 'application/x-pkcs12');
      onDone();
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="cert-recover-h">
      <h2 id="cert-recover-h">Private key</h2>
      <p>Countersign holds this certificate's private key, sealed. Download it with the certificate as a PKCS#12 file protected by a password you choose.</p>
      <div className="field">
        <label htmlFor="recover-password">PKCS#12 password</label>
        <input id="recover-password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
      </div>
      <ErrorMessage error={act.error} title="The key was not handed over:" />
      <StatusMessage>{act.message}</StatusMessage>
      <div className="actions">
        <button type="submit" className="button primary" disabled={act.busy}>
          Download the key and certificate (.pfx)
        </button>
      </div>
    </form>
  );
}
