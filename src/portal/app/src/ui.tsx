import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import type { Json, JsonObject } from './api.ts';
import { show, statusName } from './format.ts';

let firstPage = true;

/**
 * The page heading; takes focus when the page changes, so screen readers announce it. Not on
 * the first page the browser loads: there, focus starts at the top (the skip link).
 */
export function PageTitle({ children, text }: { children: ReactNode; text: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  const initial = useRef<boolean | null>(null);
  if (initial.current === null) {
    initial.current = firstPage;
    firstPage = false;
  }
  useEffect(() => {
    document.title = `${text} · Countersign`;
    if (!initial.current) ref.current?.focus({ preventScroll: false });
  }, [text]);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}

export function ErrorMessage({ error, title }: { error: { message: string } | string | null | undefined; title?: string }) {
  if (!error) return null;
  return (
    <div className="alert alert-error" role="alert">
      {title ? <strong>{title} </strong> : null}
      {typeof error === 'string' ? error : error.message}
    </div>
  );
}

export function StatusMessage({ children }: { children: ReactNode }) {
  if (!children) return null;
  return (
    <div className="alert alert-ok" role="status">
      {children}
    </div>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p className="muted" role="status">
      {what}…
    </p>
  );
}

const BADGE = ['unknown', 'running', 'suspended', 'complete', 'rejected', 'failed', 'canceled'];

export function StatusBadge({ status }: { status: number }) {
  return <span className={`badge badge-${BADGE[status] ?? 'unknown'}`}>{statusName(status)}</span>;
}

/** Key/value data (InitialData and the like); values are text, never markup. */
export function DataList({ data, empty = 'None.' }: { data: JsonObject | null | undefined; empty?: string }) {
  const entries = Object.entries(data ?? {});
  if (entries.length === 0) return <p className="muted">{empty}</p>;
  return (
    <dl className="data">
      {entries.map(([k, v]) => (
        <div key={k} className="data-row">
          <dt>{k}</dt>
          <dd>{isBlock(v) ? <pre>{show(v)}</pre> : show(v) || <span className="muted">(empty)</span>}</dd>
        </div>
      ))}
    </dl>
  );
}

const isBlock = (v: Json): boolean => (typeof v === 'string' && (v.includes('\n') || v.length > 120)) || (typeof v === 'object' && v !== null);

/** A destructive action that asks "are you sure" in place (no dialog), keyboard-friendly. */
export function ConfirmButton({
  label,
  confirmLabel,
  question,
  onConfirm,
  busy,
  danger = true,
}: {
  label: string;
  confirmLabel: string;
  question: string;
  onConfirm: () => void;
  busy?: boolean;
  danger?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const id = useId();
  useEffect(() => {
    if (asking) confirmRef.current?.focus();
  }, [asking]);
  if (!asking)
    return (
      <button type="button" className={danger ? 'button danger-outline' : 'button'} onClick={() => setAsking(true)} disabled={busy}>
        {label}
      </button>
    );
  return (
    <span className="confirm" role="group" aria-labelledby={id}>
      <span id={id}>{question}</span>{' '}
      <button
        ref={confirmRef}
        type="button"
        className={danger ? 'button danger' : 'button primary'}
        disabled={busy}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {confirmLabel}
      </button>{' '}
      <button type="button" className="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

/** Previous/next paging for lists without a total count. */
export function Pager({ page, size, count, onPage }: { page: number; size: number; count: number; onPage: (p: number) => void }) {
  if (page === 1 && count < size) return null;
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" className="button" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        Previous page
      </button>
      <span>Page {page}</span>
      <button type="button" className="button" disabled={count < size} onClick={() => onPage(page + 1)}>
        Next page
      </button>
    </nav>
  );
}
