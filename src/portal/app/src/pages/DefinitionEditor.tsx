import { useEffect, useMemo, useRef, useState } from 'react';
import { api, type DefinitionV2, type Json, type JsonObject, type ParameterDefinition, type StepType, type StepWire } from '../api.ts';
import { formatParameter, parseParameter } from '../definition.ts';
import { useAction, useLoad } from '../hooks.ts';
import { Link, navigate, takeFlash } from '../router.tsx';
import { useSession } from '../session.tsx';
import { ErrorMessage, Loading, PageTitle, StatusMessage } from '../ui.tsx';
import { Diagram } from './Diagram.tsx';

/*
 * The draft editor: steps with their parameters (per-parameter fields from the step catalogue,
 * or JSON), the roles allowed to send each signal, conditions and outputs. Saving is one PUT
 * Steps; whatever the API finds wrong comes back as its 400 message, shown as it is.
 */

interface EditStep {
  key: string;
  ExtensionName: string;
  UniqueName: string;
  DisplayName: string;
  Enabled: boolean;
  /** Values as loaded (and as set by checkboxes); text fields live in `text` until saved. */
  params: JsonObject;
  text: Record<string, string>;
  jsonMode: boolean;
  jsonText: string;
  signals: { SignalName: string; RoleIds: number[]; RoleTokens: string }[];
  conditions: string[];
  outputs: Record<string, string>;
}

interface Catalogue {
  types: StepType[];
  byName: Map<string, StepType>;
}

interface Loaded {
  def: DefinitionV2;
  catalogue: Catalogue;
  roles: { Id: number; Name: string }[];
  rolesComplete: boolean;
}

let keySeq = 0;
const nextKey = () => `s${++keySeq}`;
const TEXT_TYPES = new Set([0, 1, 3, 4, 5, 6, 7]);

function paramDefs(cat: Catalogue, ext: string): Record<string, ParameterDefinition> {
  return cat.byName.get(ext)?.ConfigurationParametersDefinition ?? {};
}

function toEdit(s: DefinitionV2['Steps'][number], cat: Catalogue): EditStep {
  const defs = paramDefs(cat, s.ExtensionName);
  const text: Record<string, string> = {};
  for (const [name, d] of Object.entries(defs)) if (TEXT_TYPES.has(d.ParameterType)) text[name] = formatParameter(d.ParameterType, s.ConfigurationParameters[name]);
  const signalNames = new Set([...s.Signals.map((g) => g.SignalName), ...Object.keys(cat.byName.get(s.ExtensionName)?.SignalsDefinition ?? {})]);
  return {
    key: nextKey(),
    ExtensionName: s.ExtensionName,
    UniqueName: s.UniqueName,
    DisplayName: s.DisplayName ?? '',
    Enabled: s.Enabled,
    params: { ...s.ConfigurationParameters },
    text,
    jsonMode: false,
    jsonText: '',
    signals: [...signalNames].map((name) => {
      const g = s.Signals.find((x) => x.SignalName === name);
      return { SignalName: name, RoleIds: g ? g.Roles.map((r) => Number(r.RoleId)) : [], RoleTokens: g ? g.RoleTokens.join(', ') : '' };
    }),
    conditions: s.Conditions.map((c) => c.Value),
    outputs: { ...s.Outputs },
  };
}

/** The step's configuration as it would be sent; throws a readable message on a bad field. */
function buildParams(s: EditStep, cat: Catalogue): JsonObject {
  if (s.jsonMode) {
    let v: unknown;
    try {
      v = JSON.parse(s.jsonText || '{}');
    } catch (e) {
      throw new Error(`Step “${s.UniqueName}”: the parameters are not valid JSON (${(e as Error).message}).`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`Step “${s.UniqueName}”: the parameters must be a JSON object.`);
    return v as JsonObject;
  }
  const out: JsonObject = { ...s.params };
  for (const [name, d] of Object.entries(paramDefs(cat, s.ExtensionName))) {
    if (!TEXT_TYPES.has(d.ParameterType)) continue;
    const t = s.text[name] ?? '';
    if (t.trim() === '') {
      // An empty secret keeps the stored one (it reads back as null); other empties take the default.
      if (d.ControlType === 7 && name in s.params) out[name] = null;
      else delete out[name];
      continue;
    }
    if (d.ParameterType === 1 && !/^-?\d+$/.test(t.trim())) {
      out[name] = t; // let the API say what is wrong with it
      continue;
    }
    try {
      out[name] = parseParameter(d.ParameterType, t);
    } catch (e) {
      throw new Error(`Step “${s.UniqueName}”, parameter ${d.DisplayName || name}: ${(e as Error).message}.`);
    }
  }
  return out;
}

function toWire(s: EditStep, cat: Catalogue): StepWire {
  return {
    DisplayName: s.DisplayName.trim() || null,
    UniqueName: s.UniqueName.trim(),
    ExtensionName: s.ExtensionName,
    Enabled: s.Enabled,
    ConfigurationParameters: buildParams(s, cat),
    Signals: s.signals
      .map((g) => ({
        SignalName: g.SignalName,
        RoleIds: g.RoleIds,
        RoleTokens: g.RoleTokens.split(',')
          .map((t) => t.trim())
          .filter(Boolean),
      }))
      .filter((g) => g.RoleIds.length > 0 || g.RoleTokens.length > 0),
    Conditions: s.conditions.filter((c) => c.trim() !== '').map((Value) => ({ Value })),
    Outputs: Object.fromEntries(Object.entries(s.outputs).filter(([, t]) => t !== '')),
  };
}

export function DefinitionEditor({ id }: { id: string }) {
  const { can } = useSession();
  const load = useLoad<Loaded>(async () => {
    const [def, list] = await Promise.all([api.definitionV2(id), api.stepTypes()]);
    const types = await Promise.all(list.map((t) => api.stepType(t.ExtensionName).then((full) => ({ ...t, Outputs: full.Outputs ?? [] }))));
    let roles: { Id: number; Name: string }[] = [];
    let rolesComplete = false;
    if (can.securityRead) {
      roles = (await api.roles().catch(() => [])).map((r) => ({ Id: r.Id, Name: r.Name }));
      rolesComplete = roles.length > 0;
    }
    for (const s of def.Steps)
      for (const g of s.Signals) for (const r of g.Roles) if (!roles.some((x) => x.Id === Number(r.RoleId))) roles.push({ Id: Number(r.RoleId), Name: r.RoleName ?? `Role #${r.RoleId}` });
    return { def, catalogue: { types, byName: new Map(types.map((t) => [t.ExtensionName, t])) }, roles, rolesComplete };
  }, `edit:${id}`);
  if (!load.data) return load.error ? <ErrorMessage error={load.error} title="The definition could not be loaded." /> : <Loading what="Loading the draft" />;
  return <Editor loaded={load.data} />;
}

function Editor({ loaded }: { loaded: Loaded }) {
  const { def, catalogue, roles, rolesComplete } = loaded;
  const [flash] = useState(takeFlash);
  const [steps, setSteps] = useState<EditStep[]>(() => def.Steps.map((s) => toEdit(s, catalogue)));
  const [dirty, setDirty] = useState(false);
  const [addType, setAddType] = useState(catalogue.types.find((t) => t.ExtensionName === 'RequireApproval')?.ExtensionName ?? catalogue.types[0]?.ExtensionName ?? '');
  const [saved, setSaved] = useState<number | null>(null);
  const act = useAction();
  const focusNext = useRef<string | null>(null);
  const errorRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (focusNext.current) {
      document.getElementById(focusNext.current)?.focus();
      focusNext.current = null;
    }
  });
  useEffect(() => {
    if (act.error) errorRef.current?.focus();
  }, [act.error]);

  const change = (key: string, patch: Partial<EditStep> | ((s: EditStep) => Partial<EditStep>)) => {
    setDirty(true);
    setSaved(null);
    setSteps((ss) => ss.map((s) => (s.key === key ? { ...s, ...(typeof patch === 'function' ? patch(s) : patch) } : s)));
  };
  const move = (i: number, by: number) => {
    const j = i + by;
    if (j < 0 || j >= steps.length) return;
    setDirty(true);
    const next = [...steps];
    [next[i], next[j]] = [next[j]!, next[i]!];
    focusNext.current = `${next[j]!.key}-${by < 0 ? 'up' : 'down'}`;
    if (j === 0 || j === steps.length - 1) focusNext.current = `${next[j]!.key}-legend`;
    setSteps(next);
  };
  const remove = (key: string) => {
    setDirty(true);
    focusNext.current = 'add-step-type';
    setSteps((ss) => ss.filter((s) => s.key !== key));
  };
  const add = () => {
    const t = catalogue.byName.get(addType);
    if (!t) return;
    let n = 1;
    while (steps.some((s) => s.UniqueName === `${t.ExtensionName}${n}`)) n++;
    const step = toEdit(
      { UniqueName: `${t.ExtensionName}${n}`, DisplayName: t.DisplayName, ExtensionName: t.ExtensionName, Enabled: true, ConfigurationParameters: {}, Signals: [], Conditions: [], Outputs: {} },
      catalogue,
    );
    setDirty(true);
    focusNext.current = `${step.key}-display`;
    setSteps((ss) => [...ss, step]);
  };

  const save = async () => {
    let wire: StepWire[];
    try {
      wire = steps.map((s) => toWire(s, catalogue));
    } catch (e) {
      act.setError((e as Error).message);
      return;
    }
    const r = await act.run(() => api.putSteps(def.Id, wire));
    if (r) {
      setDirty(false);
      setSaved(r.DraftVersion);
      act.setMessage(`Saved the draft as version ${r.DraftVersion}. Publish it to make new requests use it.`);
    }
  };
  const publish = async (version: number) => {
    const r = await act.run(() => api.publish(def.Id, version));
    if (r) navigate(`/definitions/${def.Id}`, { flash: `Published version ${r.PublishedVersion}.` });
  };

  const preview = useMemo(
    () => steps.map((s) => ({ UniqueName: s.UniqueName, DisplayName: s.DisplayName, ExtensionName: s.ExtensionName, Enabled: s.Enabled, Outputs: Object.fromEntries(Object.entries(s.outputs).filter(([, t]) => t)) })),
    [steps],
  );
  const draftIsPublished = def.DraftVersion === def.PublishedVersion;

  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/definitions">Definitions</Link> <span aria-hidden="true">›</span> <Link to={`/definitions/${def.Id}`}>{def.DisplayName}</Link>{' '}
        <span aria-hidden="true">›</span> <span>Edit draft</span>
      </nav>
      <PageTitle text={`Edit ${def.DisplayName}`}>Edit the draft of {def.DisplayName}</PageTitle>
      <StatusMessage>{flash}</StatusMessage>
      <p className="lead">
        {draftIsPublished
          ? `Version ${def.DraftVersion} is published; saving makes version ${def.DraftVersion + 1}, a new draft.`
          : `Draft version ${def.DraftVersion}${def.PublishedVersion ? ` (version ${def.PublishedVersion} is published)` : ''}.`}
      </p>
      <div ref={errorRef} tabIndex={-1} className="focus-target">
        <ErrorMessage error={act.error} title="Not saved:" />
      </div>
      <StatusMessage>{act.message}</StatusMessage>

      {steps.map((s, i) => (
        <StepEditor
          key={s.key}
          step={s}
          index={i}
          count={steps.length}
          all={steps}
          catalogue={catalogue}
          roles={roles}
          rolesComplete={rolesComplete}
          onChange={(p) => change(s.key, p)}
          onMove={(by) => move(i, by)}
          onRemove={() => remove(s.key)}
        />
      ))}

      <div className="card add-step">
        <div className="field inline">
          <label htmlFor="add-step-type">New step of type</label>
          <select id="add-step-type" value={addType} onChange={(e) => setAddType(e.target.value)}>
            {catalogue.types.map((t) => (
              <option key={t.ExtensionName} value={t.ExtensionName}>
                {t.DisplayName} ({t.ExtensionName})
              </option>
            ))}
          </select>
          <button type="button" className="button" onClick={add}>
            Add step
          </button>
        </div>
      </div>

      <div className="savebar" role="region" aria-label="Save">
        <button type="button" className="button primary" onClick={save} disabled={act.busy}>
          {act.busy ? 'Saving…' : 'Save draft'}
        </button>
        {saved !== null && !dirty ? (
          <button type="button" className="button" onClick={() => publish(saved)} disabled={act.busy}>
            Publish version {saved}
          </button>
        ) : !dirty && !draftIsPublished && def.Steps.length > 0 ? (
          <button type="button" className="button" onClick={() => publish(def.DraftVersion)} disabled={act.busy}>
            Publish version {def.DraftVersion}
          </button>
        ) : null}
        <span className="muted">{dirty ? 'Unsaved changes.' : ''}</span>
        <Link to={`/definitions/${def.Id}`}>Back to the definition</Link>
      </div>

      <section className="card" aria-labelledby="preview-h">
        <h2 id="preview-h">Preview</h2>
        <Diagram steps={preview} label={`Preview of the edited steps of ${def.DisplayName}`} />
      </section>
    </>
  );
}

function StepEditor({
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
  const [primary] = useState(() => new Set(Object.entries(defs).filter(([name, d]) => d.Required || (name in s.params && s.params[name] !== null)).map(([name]) => name)));
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
            <textarea id={`${id}-json`} className="mono" rows={Math.min(16, Math.max(4, s.jsonText.split('\n').length))} value={s.jsonText} onChange={(e) => onChange({ jsonText: e.target.value })} />
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
                      signals: cur.signals.map((x, xi) =>
                        xi === gi ? { ...x, RoleIds: e.target.checked ? [...x.RoleIds, r.Id] : x.RoleIds.filter((y) => y !== r.Id) } : x,
                      ),
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
            <button type="button" className="button small" aria-label={`Remove condition ${ci + 1} of step ${s.UniqueName}`} onClick={() => onChange((cur) => ({ conditions: cur.conditions.filter((_, xi) => xi !== ci) }))}>
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

function ParamField({
  id,
  name,
  def: d,
  step: s,
  onChange,
}: {
  id: string;
  name: string;
  def: ParameterDefinition;
  step: EditStep;
  onChange: (p: Partial<EditStep> | ((s: EditStep) => Partial<EditStep>)) => void;
}) {
  const label = d.DisplayName || name;
  const hintParts = [d.ToolTipContents, d.DefaultValue !== null ? `Default: ${d.DefaultValue}` : null, d.Required ? 'Required' : null, d.SupportTokenReplacement ? 'Tokens allowed' : null].filter(Boolean);
  const hint = hintParts.length ? (
    <p className="hint" id={`${id}-hint`}>
      {hintParts.join(' · ')}
    </p>
  ) : null;
  const describedBy = hintParts.length ? `${id}-hint` : undefined;
  const setText = (v: string) => onChange((cur) => ({ text: { ...cur.text, [name]: v } }));
  if (d.ParameterType === 2) {
    const v = s.params[name];
    const checked = v === undefined || v === null ? d.DefaultValue === 'true' : v === true || (typeof v === 'string' && v.toLowerCase() === 'true');
    return (
      <div className="field check">
        <input id={id} type="checkbox" checked={checked} aria-describedby={describedBy} onChange={(e) => onChange((cur) => ({ params: { ...cur.params, [name]: e.target.checked as Json } }))} />
        <label htmlFor={id}>{label}</label>
        {hint}
      </div>
    );
  }
  const text = s.text[name] ?? '';
  let control;
  if (d.PotentialValues && d.PotentialValues.length) {
    control = (
      <select id={id} value={text} aria-describedby={describedBy} onChange={(e) => setText(e.target.value)}>
        <option value="">(default{d.DefaultValue ? `: ${d.DefaultValue}` : ''})</option>
        {d.PotentialValues.map((p) => (
          <option key={p} value={p}>
            {p}
          </option>
        ))}
      </select>
    );
  } else if (d.ControlType === 7) {
    control = (
      <input
        id={id}
        type="password"
        autoComplete="new-password"
        value={text}
        placeholder={name in s.params ? 'Unchanged (stored secret)' : ''}
        aria-describedby={describedBy}
        onChange={(e) => setText(e.target.value)}
      />
    );
  } else if ([3, 4, 5, 6, 7].includes(d.ParameterType) || d.ControlType === 1 || d.ControlType === 6) {
    control = <textarea id={id} className={d.ParameterType >= 4 && d.ParameterType <= 6 ? 'mono' : undefined} rows={4} value={text} aria-describedby={describedBy} onChange={(e) => setText(e.target.value)} />;
  } else {
    control = <input id={id} inputMode={d.ParameterType === 1 ? 'numeric' : undefined} value={text} aria-describedby={describedBy} onChange={(e) => setText(e.target.value)} />;
  }
  return (
    <div className="field">
      <label htmlFor={id}>
        {label}
        {d.ParameterType === 3 ? ' (one per line)' : d.ParameterType >= 4 && d.ParameterType <= 6 ? ' (JSON)' : ''}
      </label>
      {control}
      {hint}
    </div>
  );
}
