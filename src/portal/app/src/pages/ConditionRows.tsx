import type { Dispatch, SetStateAction } from 'react';
import { OPERATORS, STATUS_NAMES, fieldOf, type Condition, type QueryField } from '../query.ts';

/**
 * The search forms' condition rows (field, operator, value; add and remove), shared by the
 * instance and certificate searches. The caller owns the rows and builds the query from them.
 */
export function ConditionRows({
  rows,
  setRows,
  fields,
  emptyRow,
  idPrefix,
  showAnd = false,
}: {
  rows: Condition[];
  setRows: Dispatch<SetStateAction<Condition[]>>;
  fields: readonly QueryField[];
  emptyRow: () => Condition;
  /** Prefix of the controls' ids, unique on the page. */
  idPrefix: string;
  /** Show "AND" between rows. */
  showAnd?: boolean;
}) {
  const update = (i: number, patch: Partial<Condition>) =>
    setRows((rs) =>
      rs.map((r, j) => {
        if (j !== i) return r;
        const next = { ...r, ...patch };
        // A new field resets the operator to its first and the value to a sensible start.
        if (patch.field && patch.field !== r.field) {
          const type = fieldOf(patch.field, fields).type;
          next.op = OPERATORS[type][0]!.op;
          next.value = type === 'status' ? 'Suspended' : '';
        }
        return next;
      }),
    );
  return (
    <fieldset className="conditions">
      <legend>Conditions (all must match)</legend>
      {rows.map((r, i) => {
        const f = fieldOf(r.field, fields);
        const n = i + 1;
        const id = `${idPrefix}${i}`;
        return (
          <div className="condition" key={i} role="group" aria-label={`Condition ${n}`}>
            {showAnd && i > 0 ? (
              <span className="and" aria-hidden="true">
                AND
              </span>
            ) : null}
            <div className="field">
              <label htmlFor={`${id}-field`}>Field</label>
              <select id={`${id}-field`} value={r.field} onChange={(e) => update(i, { field: e.target.value })}>
                {fields.map((x) => (
                  <option key={x.name} value={x.name}>
                    {x.label}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor={`${id}-op`}>Operator</label>
              <select id={`${id}-op`} value={r.op} onChange={(e) => update(i, { op: e.target.value })}>
                {OPERATORS[f.type].map((o) => (
                  <option key={o.op} value={o.op}>
                    {o.label}
                  </option>
                ))}
              </select>
            </div>
            <div className="field grow">
              <label htmlFor={`${id}-value`}>Value</label>
              {f.type === 'status' ? (
                <select id={`${id}-value`} value={r.value} onChange={(e) => update(i, { value: e.target.value })}>
                  {STATUS_NAMES.map((s) => (
                    <option key={s} value={s}>
                      {s}
                    </option>
                  ))}
                </select>
              ) : (
                <input
                  id={`${id}-value`}
                  type={f.type === 'date' ? 'date' : 'text'}
                  inputMode={f.type === 'integer' ? 'numeric' : undefined}
                  value={r.value}
                  onChange={(e) => update(i, { value: e.target.value })}
                />
              )}
            </div>
            {rows.length > 1 ? (
              <button type="button" className="button small" onClick={() => setRows((rs) => rs.filter((_, j) => j !== i))} aria-label={`Remove condition ${n}`}>
                Remove
              </button>
            ) : null}
          </div>
        );
      })}
      <button type="button" className="button small" onClick={() => setRows((rs) => [...rs, emptyRow()])}>
        Add condition
      </button>
    </fieldset>
  );
}
