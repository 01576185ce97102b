import { COMMENT_MAX, charCount, limitAnnouncement } from './format.ts';

/** A comment box that shows the 500-character limit as you type (counted as the server counts). */
export function CommentField({ id, label, value, onChange, hint }: { id: string; label: string; value: string; onChange: (v: string) => void; hint?: string }) {
  const n = charCount(value);
  const over = n > COMMENT_MAX;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {hint ? (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      <textarea
        id={id}
        rows={4}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={over || undefined}
        aria-describedby={`${hint ? `${id}-hint ` : ''}${id}-count`}
      />
      <p id={`${id}-count`} className={over ? 'count over' : 'count'}>
        {n} of {COMMENT_MAX} characters{over ? `: ${n - COMMENT_MAX} too many` : ''}
      </p>
      <span className="sr-only" role="status">
        {limitAnnouncement(n)}
      </span>
    </div>
  );
}

export const commentTooLong = (v: string): boolean => charCount(v) > COMMENT_MAX;
