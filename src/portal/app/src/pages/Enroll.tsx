import { useState, type FormEvent } from 'react';
import { SAN_TYPES, certApi, fileBase, saveFile, splitList, type EnrollmentAnswer, type EnrollmentTemplate, type SanMap } from '../certapi.ts';
import { useAction, useLoad } from '../hooks.ts';
import { Link } from '../router.tsx';
import { useSession } from '../session.tsx';
import { ErrorMessage, Loading, PageTitle } from '../ui.tsx';

type Mode = 'csr' | 'pfx';
const RSA_SIZES = [2048, 3072, 4096];
const CURVES = ['P-256', 'P-384', 'P-521'];

/** "Key=value" lines to a metadata object; lines without "=" are ignored. */
const parseMetadata = (text: string): Record<string, string> =>
  Object.fromEntries(
    text
      .split('\n')
      .map((l) => l.split('='))
      .filter((p) => p.length >= 2 && p[0]!.trim() !== '')
      .map(([k, ...v]) => [k!.trim(), v.join('=').trim()]),
  );

/** What the template allows, in a line. */
export function allowedKeys(t: EnrollmentTemplate): string {
  return t.EnrollmentTemplatePolicy.PrimaryKeyAlgorithms.map((a) => {
    const name = a.name ?? a.Name ?? '';
    if (a.curves?.length) return `${name} ${a.curves.join('/')}`;
    if (a.bit_lengths?.length) return `${name} ${a.bit_lengths.join('/')}`;
    return name;
  }).join(', ');
}

/** Enrollment: paste a CSR, or have the server generate the key and download the PKCS#12. */
export function Enroll() {
  const { can } = useSession();
  const [mode, setMode] = useState<Mode>(can.enrollCsr ? 'csr' : 'pfx');
  const ctx = useLoad(() => (mode === 'csr' ? certApi.csrContext() : certApi.pfxContext()), `enroll-context:${mode}`);
  const [templateName, setTemplateName] = useState('');
  const [caName, setCaName] = useState('');
  const [csr, setCsr] = useState('');
  const [subject, setSubject] = useState('');
  const [keyType, setKeyType] = useState<'RSA' | 'ECC'>('ECC');
  const [keyLength, setKeyLength] = useState(3072);
  const [curve, setCurve] = useState('P-256');
  const [password, setPassword] = useState('');
  const [sans, setSans] = useState<Record<string, string>>({});
  const [metadata, setMetadata] = useState('');
  const [answer, setAnswer] = useState<{ mode: Mode; a: EnrollmentAnswer; name: string } | null>(null);
  const act = useAction();

  const templates = ctx.data?.Templates ?? [];
  const template = templates.find((t) => t.Name === templateName) ?? templates[0];
  const cas = template?.CAs ?? [];

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!template) return;
    const sanMap: SanMap = {};
    for (const s of SAN_TYPES) {
      const list = splitList(sans[s.key] ?? '');
      if (list.length) sanMap[s.key] = list;
    }
    if (mode === 'csr' && !csr.includes('CERTIFICATE REQUEST')) return act.setError('Paste a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----).');
    if (mode === 'pfx' && subject.trim() === '') return act.setError('Enter the subject, for example CN=web01.corp.example,O=Corp.');
    if (mode === 'pfx' && password.length < 8) return act.setError('Choose a password of at least 8 characters to protect the PKCS#12 file.');
    const common = { Template: template.Name, CertificateAuthority: caName || undefined, SANs: sanMap, Metadata: parseMetadata(metadata), IncludeChain: true };
    const a = await act.run(() =>
      mode === 'csr'
        ? certApi.enrollCsr({ ...common, CSR: csr.trim() })
        : certApi.enrollPfx({
            ...common,
            Subject: subject.trim(),
            KeyType: keyType,
            KeyLength: keyType === 'RSA' ? keyLength : undefined,
            Curve: keyType === 'ECC' ? curve : undefined,
            Password: password,
          }),
    );
    if (a) {
      const cn = /CN=([^,]+)/i.exec(mode === 'pfx' ? subject : '')?.[1] ?? sanMap.dns?.[0] ?? null;
      setAnswer({ mode, a, name: fileBase(cn, `certificate-${a.CertificateInformation.KeyfactorRequestId}`) });
      setPassword('');
    }
  };

  return (
    <>
      <PageTitle text="Enroll">Request a certificate</PageTitle>
      {can.enrollCsr && can.enrollPfx ? (
        <div className="actions" role="group" aria-label="How to enroll">
          <button type="button" className={mode === 'csr' ? 'button primary' : 'button'} aria-pressed={mode === 'csr'} onClick={() => setMode('csr')}>
            Paste a CSR
          </button>
          <button type="button" className={mode === 'pfx' ? 'button primary' : 'button'} aria-pressed={mode === 'pfx'} onClick={() => setMode('pfx')}>
            Generate a key for me
          </button>
        </div>
      ) : null}
      {answer ? <Outcome answer={answer} /> : null}
      <ErrorMessage error={ctx.error} title="The templates could not be loaded:" />
      {ctx.loading && !ctx.data ? (
        <Loading what="Loading the templates you may use" />
      ) : templates.length === 0 ? (
        <p>No template allows this kind of enrollment.</p>
      ) : (
        <form className="card" onSubmit={submit} noValidate aria-labelledby="enroll-h">
          <h2 id="enroll-h">{mode === 'csr' ? 'Enroll with your certificate request' : 'Enroll with a key made by the server'}</h2>
          <div className="row">
            <div className="field grow">
              <label htmlFor="enroll-template">Template</label>
              <select id="enroll-template" value={template?.Name ?? ''} onChange={(e) => setTemplateName(e.target.value)} aria-describedby="enroll-template-hint">
                {templates.map((t) => (
                  <option key={t.Id} value={t.Name}>
                    {t.DisplayName} ({t.Name})
                  </option>
                ))}
              </select>
              <p className="hint" id="enroll-template-hint">
                Keys allowed: {template ? allowedKeys(template) : '—'}.{template?.RequiresApproval ? ' Requests wait for approval.' : ''}
              </p>
            </div>
            <div className="field grow">
              <label htmlFor="enroll-ca">Certificate authority</label>
              <select id="enroll-ca" value={caName} onChange={(e) => setCaName(e.target.value)}>
                <option value="">The template's default</option>
                {cas.map((c) => (
                  <option key={c.Id} value={c.Name}>
                    {c.Name}
                  </option>
                ))}
              </select>
            </div>
          </div>
          {mode === 'csr' ? (
            <div className="field">
              <label htmlFor="enroll-csr">Certificate request (PEM)</label>
              <textarea id="enroll-csr" className="mono" rows={10} value={csr} onChange={(e) => setCsr(e.target.value)} aria-describedby="enroll-csr-hint" spellCheck={false} />
              <p className="hint" id="enroll-csr-hint">
                For example from <code>openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=web01.corp.example"</code>. Your private key stays with you.
              </p>
            </div>
          ) : (
            <>
              <div className="field">
                <label htmlFor="enroll-subject">Subject</label>
                <input
                  id="enroll-subject"
                  value={subject}
                  onChange={(e) => setSubject(e.target.value)}
                  placeholder="CN=web01.corp.example,O=Corp"
                  aria-describedby="enroll-subject-hint"
                />
                <p className="hint" id="enroll-subject-hint">
                  A distinguished name: CN=…, O=…, C=….
                </p>
              </div>
              <div className="row">
                <div className="field">
                  <label htmlFor="enroll-keytype">Key type</label>
                  <select id="enroll-keytype" value={keyType} onChange={(e) => setKeyType(e.target.value as 'RSA' | 'ECC')}>
                    <option value="ECC">Elliptic curve</option>
                    <option value="RSA">RSA</option>
                  </select>
                </div>
                {keyType === 'RSA' ? (
                  <div className="field">
                    <label htmlFor="enroll-size">Key size</label>
                    <select id="enroll-size" value={keyLength} onChange={(e) => setKeyLength(Number(e.target.value))}>
                      {RSA_SIZES.map((s) => (
                        <option key={s} value={s}>
                          {s} bits
                        </option>
                      ))}
                    </select>
                  </div>
                ) : (
                  <div className="field">
                    <label htmlFor="enroll-curve">Curve</label>
                    <select id="enroll-curve" value={curve} onChange={(e) => setCurve(e.target.value)}>
                      {CURVES.map((c) => (
                        <option key={c} value={c}>
                          {c}
                        </option>
                      ))}
                    </select>
                  </div>
                )}
                <div className="field grow">
                  <label htmlFor="enroll-password">PKCS#12 password</label>
                  <input
                    id="enroll-password"
                    type="password"
                    autoComplete="new-password"
                    value={password}
                    onChange={(e) => setPassword(e.target.value)}
                    aria-describedby="enroll-password-hint"
                  />
                  <p className="hint" id="enroll-password-hint">
                    At least 8 characters. It protects the file you download; Countersign does not keep it.
                  </p>
                </div>
              </div>
            </>
          )}
          <fieldset className="sub-fieldset">
            <legend>Subject alternative names {mode === 'csr' ? '(added to those in the CSR)' : ''}</legend>
            <div className="row">
              {SAN_TYPES.map((s) => (
                <div className="field grow" key={s.key}>
                  <label htmlFor={`enroll-san-${s.key}`}>{s.label}</label>
                  <input id={`enroll-san-${s.key}`} value={sans[s.key] ?? ''} onChange={(e) => setSans({ ...sans, [s.key]: e.target.value })} aria-describedby="enroll-san-hint" />
                </div>
              ))}
            </div>
            <p className="hint" id="enroll-san-hint">
              Separate several values with commas or spaces.
            </p>
          </fieldset>
          <div className="field">
            <label htmlFor="enroll-metadata">Metadata (optional)</label>
            <textarea id="enroll-metadata" rows={2} value={metadata} onChange={(e) => setMetadata(e.target.value)} aria-describedby="enroll-metadata-hint" />
            <p className="hint" id="enroll-metadata-hint">
              One <code>Field=value</code> per line, for example <code>Owner=payments team</code>.
            </p>
          </div>
          <ErrorMessage error={act.error} title="The request was not accepted:" />
          <div className="actions">
            <button type="submit" className="button primary" disabled={act.busy}>
              {act.busy ? 'Submitting…' : 'Submit the request'}
            </button>
          </div>
        </form>
      )}
    </>
  );
}

function Outcome({ answer }: { answer: { mode: Mode; a: EnrollmentAnswer; name: string } }) {
  const { can } = useSession();
  const i = answer.a.CertificateInformation;
  const certId = i.KeyfactorID ?? i.KeyfactorId ?? 0;
  if (i.RequestDisposition === 'ISSUED')
    return (
      <section className="alert alert-ok" role="status" aria-labelledby="outcome-h">
        <h2 id="outcome-h">Issued</h2>
        <p>
          Certificate {certId}, serial <span className="mono">{i.SerialNumber}</span>. <Link to={`/certificates/${certId}`}>Open it in the inventory</Link>.
        </p>
        <div className="actions">
          {answer.mode === 'pfx' && i.Pkcs12Blob ? (
            <button type="button" className="button primary" onClick={() => saveFile(i.Pkcs12Blob!, `${answer.name}.pfx`, 'application/x-pkcs12')}>
              Download the PKCS#12 (.pfx)
            </button>
          ) : null}
          {answer.mode === 'csr' && i.Certificates?.length ? (
            <button type="button" className="button primary" onClick={() => saveFile(btoa(i.Certificates!.join('\n')), `${answer.name}.pem`, 'application/x-pem-file')}>
              Download the certificate and chain (PEM)
            </button>
          ) : null}
        </div>
      </section>
    );
  if (i.RequestDisposition === 'PENDING')
    return (
      <section className="alert alert-info" role="status" aria-labelledby="outcome-h">
        <h2 id="outcome-h">Waiting for approval</h2>
        <p>
          Request {i.KeyfactorRequestId} waits for approval
          {can.mine && i.WorkflowInstanceId ? (
            <>
              {' '}
              (<Link to={`/my/${i.WorkflowInstanceId}`}>follow it</Link>)
            </>
          ) : null}
          . Once it is issued, download the certificate from <Link to="/certificates">Certificates</Link>
          {answer.mode === 'pfx' ? ', and the key with it as a PKCS#12 file protected by a new password (the key waits sealed until then)' : ''}.
        </p>
      </section>
    );
  return (
    <div className="alert alert-error" role="alert">
      The request was {i.RequestDisposition.toLowerCase()}: {i.DispositionMessage}
    </div>
  );
}
