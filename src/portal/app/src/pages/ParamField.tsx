import type { ReactNode } from 'react';
import type { Json, ParameterDefinition } from '../api.ts';
import type { EditStep } from '../stepEdit.ts';

/** One parameter of a step, with the control its catalogue entry asks for. */
export function ParamField({
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
  const hintParts = [
    d.ToolTipContents,
    d.DefaultValue !== null ? `Default: ${d.DefaultValue}` : null,
    d.Required ? 'Required' : null,
    d.SupportTokenReplacement ? 'Tokens allowed' : null,
  ].filter(Boolean);
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
        <input
          id={id}
          type="checkbox"
          checked={checked}
          aria-describedby={describedBy}
          onChange={(e) => onChange((cur) => ({ params: { ...cur.params, [name]: e.target.checked as Json } }))}
        />
        <label htmlFor={id}>{label}</label>
        {hint}
      </div>
    );
  }
  const text = s.text[name] ?? '';
  let control: ReactNode;
  if (d.PotentialValues?.length) {
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
    control = (
      <textarea
        id={id}
        className={d.ParameterType >= 4 && d.ParameterType <= 6 ? 'mono' : undefined}
        rows={4}
        value={text}
        aria-describedby={describedBy}
        onChange={(e) => setText(e.target.value)}
      />
    );
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
