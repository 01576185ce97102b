import { useState } from 'react';
import { formatParameter } from '../definition.ts';
import { TEXT_TYPES, buildParams, type Catalogue, type EditStep } from '../stepEdit.ts';
import { ParamField } from './ParamField.tsx';

/** One step of the draft: names, parameters, who may signal, conditions and where it goes next. */
export function StepEditor({
  step: s,
  index,
  count,
  all,
  catalogue,
  roles,
  rolesComplete,
  onChange,
  onMove,
  onRemove,
}: {
  step: EditStep;
  index: number;
  count: number;
  all: EditStep[];
  catalogue: Catalogue;
  roles: { Id: number; Name: string }[];
  rolesComplete: boolean;
  onChange: (p: Partial<EditStep> | ((s: EditStep) => Partial<EditStep>)) => void;
  onMove: (by: number) => void;
  onRemove: () => void;
}) {
  const type = catalogue.byName.get(s.ExtensionName);
  const defs = type?.ConfigurationParametersDefinition ?? {};
  const outputNames = [...new Set([...(type?.Outputs ?? []), ...Object.keys(s.outputs)])];
  const extra = Object.keys(s.params).filter((k) => !(k in defs));
  const [modeError, setModeError] = useState<string | null>(null);
  // Required and already-set parameters first; the rest (often many, with defaults) folded away.
  // Decided once, so a field does not jump between the groups while it is typed in.
  const [primary] = useState(
    () =>
      new Set(
        Object.entries(defs)
          .filter(([name, d]) => d.Required || (name in s.params && s.params[name] !== null))
          .map(([name]) => name),
      ),
  );
  const [isNew] = useState(() => Object.keys(s.params).length === 0);
  const more = Object.keys(defs).filter((n) => !primary.has(n));
  const id = s.key;

  const toJson = () => {
    try {
      const params = buildParams(s, catalogue);
      onChange({ jsonMode: true, jsonText: JSON.stringify(params, null, 2) });
      setModeError(null);
    } catch (e) {
      setModeError((e as Error).message);
    }
  };
  const toFields = () => {
    try {
      const params = buildParams(s, catalogue);
      const text: Record<string, string> = {};
      for (const [name, d] of Object.entries(defs)) if (TEXT_TYPES.has(d.ParameterType)) text[name] = formatParameter(d.ParameterType, params[name]);
      onChange({ jsonMode: false, params, text });
      setModeError(null);
    } catch (e) {
      setModeError((e as Error).message);
    }
  };

  return (
    <fieldset className="card step-edit">
      <legend id={`${id}-legend`} tabIndex={-1}>
        Step {index + 1}: {s.DisplayName || s.UniqueName} <span className="sub">({type?.DisplayName ?? s.ExtensionName})</span>
      </legend>
      <div className="row">
        <div className="field grow">
          <label htmlFor={`${id}-display`}>Display name</label>
          <input id={`${id}-display`} value={s.DisplayName} onChange={(e) => onChange({ DisplayName: e.target.value })} />
        </div>
        <div className="field grow">
          <label htmlFor={`${id}-unique`}>Unique name</label>
          <input id={`${id}-unique`} className="mono" value={s.UniqueName} onChange={(e) => onChange({ UniqueName: e.target.value })} />
        </div>
        <div className="field check">
          <input id={`${id}-enabled`} type="checkbox" checked={s.Enabled} onChange={(e) => onChange({ Enabled: e.target.checked })} />
          <label htmlFor={`${id}-enabled`}>Enabled</label>
        </div>
      </div>

      <fieldset className="sub-fieldset">
        <legend>Parameters</legend>
        {modeError ? (
          <p className="alert alert-error" role="alert">
            {modeError}
          </p>
        ) : null}
        {s.jsonMode ? (
          <div className="field">
            <label htmlFor={`${id}-json`}>Parameters as JSON</label>
            <textarea
              id={`${id}-json`}
              className="mono"
              rows={Math.min(16, Math.max(4, s.jsonText.split('\n').length))}
              value={s.jsonText}
              onChange={(e) => onChange({ jsonText: e.target.value })}
            />
          </div>
        ) : Object.keys(defs).length === 0 ? (
          <p className="muted">This step type has no parameters.</p>
        ) : (
          <>
            {Object.entries(defs)
              .filter(([name]) => primary.has(name))
              .map(([name, d]) => (
                <ParamField key={name} id={`${id}-p-${name}`} name={name} def={d} step={s} onChange={onChange} />
              ))}
            {more.length ? (
              <details className="more-params" open={isNew || primary.size === 0}>
                <summary>
                  {primary.size ? 'More parameters' : 'Parameters'} ({more.length}, with defaults)
                </summary>
                {more.map((name) => (
                  <ParamField key={name} id={`${id}-p-${name}`} name={name} def={defs[name]!} step={s} onChange={onChange} />
                ))}
              </details>
            ) : null}
          </>
        )}
        {!s.jsonMode && extra.length ? <p className="hint">Also set, not in the step catalogue: {extra.join(', ')} (edit as JSON to change them).</p> : null}
        <button type="button" className="button small" onClick={s.jsonMode ? toFields : toJson}>
          {s.jsonMode ? 'Edit as fields' : 'Edit as JSON'}
        </button>
      </fieldset>

      {s.signals.map((g, gi) => (
        <fieldset key={g.SignalName} className="sub-fieldset">
          <legend>Who may send {g.SignalName}</legend>
          {roles.length === 0 ? <p className="muted">No roles are known to you.</p> : null}
          <div className="checks">
            {roles.map((r) => (
              <div className="field check" key={r.Id}>
                <input
                  id={`${id}-sig${gi}-role${r.Id}`}
                  type="checkbox"
                  checked={g.RoleIds.includes(r.Id)}
                  onChange={(e) =>
                    onChange((cur) => ({
                      signals: cur.signals.map((x, xi) => (xi === gi ? { ...x, RoleIds: e.target.checked ? [...x.RoleIds, r.Id] : x.RoleIds.filter((y) => y !== r.Id) } : x)),
                    }))
                  }
                />
                <label htmlFor={`${id}-sig${gi}-role${r.Id}`}>{r.Name}</label>
              </div>
            ))}
          </div>
          {!rolesComplete ? (
            <div className="field">
              <label htmlFor={`${id}-sig${gi}-ids`}>Role ids</label>
              <input
                id={`${id}-sig${gi}-ids`}
                inputMode="numeric"
                value={g.RoleIds.join(', ')}
                aria-describedby={`${id}-sig${gi}-ids-hint`}
                onChange={(e) =>
                  onChange((cur) => ({
                    signals: cur.signals.map((x, xi) =>
                      xi === gi
                        ? {
                            ...x,
                            RoleIds: e.target.value
                              .split(',')
                              .map((v) => Number(v.trim()))
                              .filter((n) => Number.isInteger(n) && n > 0),
                          }
                        : x,
                    ),
                  }))
                }
              />
              <p className="hint" id={`${id}-sig${gi}-ids-hint`}>
                Comma-separated; you may not read the full role list.
              </p>
            </div>
          ) : null}
          <div className="field">
            <label htmlFor={`${id}-sig${gi}-tokens`}>Role tokens</label>
            <input
              id={`${id}-sig${gi}-tokens`}
              className="mono"
              value={g.RoleTokens}
              aria-describedby={`${id}-sig${gi}-tokens-hint`}
              onChange={(e) => onChange((cur) => ({ signals: cur.signals.map((x, xi) => (xi === gi ? { ...x, RoleTokens: e.target.value } : x)) }))}
            />
            <p className="hint" id={`${id}-sig${gi}-tokens-hint`}>
              Comma-separated, e.g. $(requester:role).
            </p>
          </div>
        </fieldset>
      ))}

      <fieldset className="sub-fieldset">
        <legend>Conditions (the step runs only if all are true)</legend>
        {s.conditions.map((c, ci) => (
          <div className="row" key={ci}>
            <div className="field grow">
              <label htmlFor={`${id}-cond${ci}`}>Condition {ci + 1}</label>
              <input
                id={`${id}-cond${ci}`}
                className="mono"
                value={c}
                onChange={(e) => onChange((cur) => ({ conditions: cur.conditions.map((x, xi) => (xi === ci ? e.target.value : x)) }))}
              />
            </div>
            <button
              type="button"
              className="button small"
              aria-label={`Remove condition ${ci + 1} of step ${s.UniqueName}`}
              onClick={() => onChange((cur) => ({ conditions: cur.conditions.filter((_, xi) => xi !== ci) }))}
            >
              Remove
            </button>
          </div>
        ))}
        <button type="button" className="button small" onClick={() => onChange((cur) => ({ conditions: [...cur.conditions, ''] }))}>
          Add condition
        </button>
      </fieldset>

      <fieldset className="sub-fieldset">
        <legend>Next step</legend>
        {outputNames.length === 0 ? <p className="muted">This step type has no outputs.</p> : null}
        {outputNames.map((o) => (
          <div className="field inline" key={o}>
            <label htmlFor={`${id}-out-${o}`}>On “{o}” go to</label>
            <select id={`${id}-out-${o}`} value={s.outputs[o] ?? ''} onChange={(e) => onChange((cur) => ({ outputs: { ...cur.outputs, [o]: e.target.value } }))}>
              <option value="">(end of the workflow)</option>
              {all
                .filter((x) => x.key !== s.key)
                .map((x) => (
                  <option key={x.key} value={x.UniqueName}>
                    {x.DisplayName || x.UniqueName} ({x.UniqueName})
                  </option>
                ))}
              {s.outputs[o] && !all.some((x) => x.UniqueName === s.outputs[o]) ? <option value={s.outputs[o]}>{s.outputs[o]} (missing)</option> : null}
            </select>
          </div>
        ))}
      </fieldset>

      <div className="actions">
        <button type="button" id={`${id}-up`} className="button small" disabled={index === 0} onClick={() => onMove(-1)} aria-label={`Move step ${s.UniqueName} up`}>
          Move up
        </button>
        <button type="button" id={`${id}-down`} className="button small" disabled={index === count - 1} onClick={() => onMove(1)} aria-label={`Move step ${s.UniqueName} down`}>
          Move down
        </button>
        <button type="button" className="button small danger-outline" onClick={onRemove} aria-label={`Remove step ${s.UniqueName}`}>
          Remove step
        </button>
      </div>
    </fieldset>
  );
}
