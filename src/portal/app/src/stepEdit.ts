import type { DefinitionV2, JsonObject, ParameterDefinition, StepType, StepWire } from './api.ts';
import { formatParameter, parseParameter } from './definition.ts';

/*
 * The draft editor's model: a step as edited (text fields kept as typed until saved), built from
 * the API's step and turned back into PUT Steps' wire shape.
 */

export interface EditStep {
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

export interface Catalogue {
  types: StepType[];
  byName: Map<string, StepType>;
}

export interface Loaded {
  def: DefinitionV2;
  catalogue: Catalogue;
  roles: { Id: number; Name: string }[];
  rolesComplete: boolean;
}

let keySeq = 0;
export const nextKey = () => `s${++keySeq}`;
export const TEXT_TYPES = new Set([0, 1, 3, 4, 5, 6, 7]);

export function paramDefs(cat: Catalogue, ext: string): Record<string, ParameterDefinition> {
  return cat.byName.get(ext)?.ConfigurationParametersDefinition ?? {};
}

export function toEdit(s: DefinitionV2['Steps'][number], cat: Catalogue): EditStep {
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
export function buildParams(s: EditStep, cat: Catalogue): JsonObject {
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

export function toWire(s: EditStep, cat: Catalogue): StepWire {
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
