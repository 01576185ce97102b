import { useEffect, useMemo, useRef, useState } from 'react';
import { api, type StepWire } from '../api.ts';
import { useAction, useLoad } from '../hooks.ts';
import { Link, navigate, takeFlash } from '../router.tsx';
import { useSession } from '../session.tsx';
import { toEdit, toWire, type EditStep, type Loaded } from '../stepEdit.ts';
import { ErrorMessage, Loading, PageTitle, StatusMessage } from '../ui.tsx';
import { Diagram } from './Diagram.tsx';
import { StepEditor } from './StepEditor.tsx';

/*
 * The draft editor: steps with their parameters (per-parameter fields from the step catalogue,
 * or JSON), the roles allowed to send each signal, conditions and outputs. Saving is one PUT
 * Steps; whatever the API finds wrong comes back as its 400 message, shown as it is.
 */

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
      for (const g of s.Signals)
        for (const r of g.Roles) if (!roles.some((x) => x.Id === Number(r.RoleId))) roles.push({ Id: Number(r.RoleId), Name: r.RoleName ?? `Role #${r.RoleId}` });
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
      {
        UniqueName: `${t.ExtensionName}${n}`,
        DisplayName: t.DisplayName,
        ExtensionName: t.ExtensionName,
        Enabled: true,
        ConfigurationParameters: {},
        Signals: [],
        Conditions: [],
        Outputs: {},
      },
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
    () =>
      steps.map((s) => ({
        UniqueName: s.UniqueName,
        DisplayName: s.DisplayName,
        ExtensionName: s.ExtensionName,
        Enabled: s.Enabled,
        Outputs: Object.fromEntries(Object.entries(s.outputs).filter(([, t]) => t)),
      })),
    [steps],
  );
  const draftIsPublished = def.DraftVersion === def.PublishedVersion;

  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/definitions">Definitions</Link> <span aria-hidden="true">›</span> <Link to={`/definitions/${def.Id}`}>{def.DisplayName}</Link> <span aria-hidden="true">›</span>{' '}
        <span>Edit draft</span>
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
