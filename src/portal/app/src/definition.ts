import type { Json, JsonObject, SignalWire, StepWire } from './api.ts';

/*
 * Definition helpers without I/O: the diagram layout, and import of Keyfactor's export format
 * (the version-1 DefinitionResponse; version-2 signal roles are accepted too).
 */

export interface DiagramStep {
  UniqueName: string;
  DisplayName: string | null;
  ExtensionName: string;
  Enabled: boolean;
  Outputs: Record<string, string>;
}

export interface DiagramNode {
  step: DiagramStep;
  x: number;
  y: number;
  level: number;
}

export interface DiagramEdge {
  from: string;
  to: string;
  label: string;
  path: string;
  labelX: number;
  labelY: number;
}

export interface DiagramLayout {
  nodes: DiagramNode[];
  edges: DiagramEdge[];
  /** Outputs naming a step that does not exist. */
  dangling: { from: string; output: string; target: string }[];
  width: number;
  height: number;
}

export const NODE_W = 220;
export const NODE_H = 64;
const GAP_X = 40;
const GAP_Y = 64;
const MARGIN = 16;
const LOOP = 56;

/** The step no output leads to (the engine's start step); else the first. */
export function startStep<T extends { UniqueName: string; Outputs: Record<string, string> }>(steps: readonly T[]): T | undefined {
  const targets = new Set(steps.flatMap((s) => Object.values(s.Outputs ?? {})));
  return steps.find((s) => !targets.has(s.UniqueName)) ?? steps[0];
}

/** Rows by distance from the start step; steps it never reaches go in a last row. */
export function layoutDiagram(steps: readonly DiagramStep[]): DiagramLayout {
  const byName = new Map(steps.map((s) => [s.UniqueName, s]));
  const level = new Map<string, number>();
  const order: string[] = [];
  const start = startStep(steps);
  if (start) {
    level.set(start.UniqueName, 0);
    const queue = [start.UniqueName];
    while (queue.length) {
      const name = queue.shift()!;
      order.push(name);
      for (const target of Object.values(byName.get(name)?.Outputs ?? {})) {
        if (byName.has(target) && !level.has(target)) {
          level.set(target, level.get(name)! + 1);
          queue.push(target);
        }
      }
    }
  }
  const maxLevel = Math.max(-1, ...level.values());
  for (const s of steps) {
    if (!level.has(s.UniqueName)) {
      level.set(s.UniqueName, maxLevel + 1);
      order.push(s.UniqueName);
    }
  }
  const rows: string[][] = [];
  for (const name of order) {
    const row = level.get(name)!;
    rows[row] = [...(rows[row] ?? []), name];
  }
  const widest = Math.max(1, ...rows.map((r) => r.length));
  const innerWidth = widest * NODE_W + (widest - 1) * GAP_X;
  const width = innerWidth + 2 * MARGIN + LOOP;
  const nodes: DiagramNode[] = [];
  const at = new Map<string, DiagramNode>();
  rows.forEach((row, lv) => {
    const rowWidth = row.length * NODE_W + (row.length - 1) * GAP_X;
    const x0 = MARGIN + (innerWidth - rowWidth) / 2;
    row.forEach((name, i) => {
      const node = { step: byName.get(name)!, x: x0 + i * (NODE_W + GAP_X), y: MARGIN + lv * (NODE_H + GAP_Y), level: lv };
      nodes.push(node);
      at.set(name, node);
    });
  });
  const edges: DiagramEdge[] = [];
  const dangling: DiagramLayout['dangling'] = [];
  for (const s of steps) {
    for (const [output, target] of Object.entries(s.Outputs ?? {})) {
      const a = at.get(s.UniqueName)!;
      const b = at.get(target);
      if (!b) {
        dangling.push({ from: s.UniqueName, output, target });
        continue;
      }
      if (b.level > a.level) {
        const x1 = a.x + NODE_W / 2;
        const y1 = a.y + NODE_H;
        const x2 = b.x + NODE_W / 2;
        const y2 = b.y - 2;
        const dy = (y2 - y1) / 2;
        edges.push({
          from: s.UniqueName,
          to: target,
          label: output,
          path: `M ${x1} ${y1} C ${x1} ${y1 + dy}, ${x2} ${y2 - dy}, ${x2} ${y2}`,
          labelX: (x1 + x2) / 2,
          labelY: (y1 + y2) / 2,
        });
      } else {
        // Back (or sideways) edge: loop round the right-hand side.
        const x1 = a.x + NODE_W;
        const y1 = a.y + NODE_H / 2;
        const x2 = b.x + NODE_W + 2;
        const y2 = b.y + NODE_H / 2;
        const bend = Math.max(x1, x2) + LOOP - 8;
        edges.push({
          from: s.UniqueName,
          to: target,
          label: output,
          path: `M ${x1} ${y1} C ${bend} ${y1}, ${bend} ${y2}, ${x2} ${y2}`,
          labelX: bend - 8,
          labelY: (y1 + y2) / 2,
        });
      }
    }
  }
  const height = MARGIN * 2 + rows.length * NODE_H + Math.max(0, rows.length - 1) * GAP_Y;
  return { nodes, edges, dangling, width, height };
}

/** A sentence per step for the diagram's text alternative. */
export function describeFlow(steps: readonly DiagramStep[]): string {
  if (steps.length === 0) return 'No steps.';
  const start = startStep(steps);
  const parts = steps.map((s) => {
    const outs = Object.entries(s.Outputs ?? {});
    const name = s.DisplayName || s.UniqueName;
    const next = outs.length ? outs.map(([o, t]) => `on ${o} goes to ${steps.find((x) => x.UniqueName === t)?.DisplayName || t}`).join(', ') : 'ends the workflow';
    return `${name} (${s.ExtensionName}${s.Enabled ? '' : ', disabled'}) ${next}.`;
  });
  return `Starts at ${start?.DisplayName || start?.UniqueName}. ${parts.join(' ')}`;
}

// Import ---------------------------------------------------------------------------------------------

export interface ImportPlan {
  create: { DisplayName: string; Description: string | null; WorkflowType: string; Key: string | null; Enabled: boolean };
  steps: StepWire[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Property lookup in any case, as the API reads them. */
function prop(o: Record<string, unknown>, name: string): unknown {
  const k = Object.keys(o).find((x) => x.toLowerCase() === name.toLowerCase());
  return k === undefined ? undefined : o[k];
}

function signalsOf(raw: unknown, where: string): SignalWire[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new Error(`${where}.Signals must be a list.`);
  return raw.map((g, i) => {
    if (!isObject(g)) throw new Error(`${where}.Signals[${i}] must be an object.`);
    const roleIds = prop(g, 'RoleIds');
    const roles = prop(g, 'Roles');
    const ids = Array.isArray(roleIds) ? roleIds.map(Number) : Array.isArray(roles) ? roles.map((r) => Number(isObject(r) ? prop(r, 'RoleId') : r)) : [];
    const tokens = prop(g, 'RoleTokens');
    return { SignalName: String(prop(g, 'SignalName') ?? ''), RoleIds: ids.filter((n) => Number.isInteger(n)), RoleTokens: Array.isArray(tokens) ? tokens.map(String) : [] };
  });
}

/**
 * Reads an exported definition (Keyfactor's DefinitionResponse JSON) into the two calls that
 * recreate it: POST /Workflow/Definitions, then PUT .../Steps. Ids are dropped (new ones are made).
 */
export function planImport(text: string, rename?: string): ImportPlan {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`The file is not JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw new Error('Expected one exported definition (a JSON object with DisplayName, WorkflowType and Steps).');
  const name = rename?.trim() || prop(doc, 'DisplayName');
  const type = prop(doc, 'WorkflowType');
  const steps = prop(doc, 'Steps');
  if (typeof name !== 'string' || name.trim() === '') throw new Error('DisplayName is missing.');
  if (typeof type !== 'string' || type.trim() === '') throw new Error('WorkflowType is missing.');
  if (!Array.isArray(steps)) throw new Error('Steps is missing or is not a list.');
  const keys = prop(doc, 'Keys');
  const key = prop(doc, 'Key') ?? (Array.isArray(keys) && isObject(keys[0]) ? prop(keys[0], 'Value') : null);
  const description = prop(doc, 'Description');
  const enabled = prop(doc, 'Enabled');
  return {
    create: {
      DisplayName: name.trim(),
      Description: typeof description === 'string' ? description : null,
      WorkflowType: type,
      Key: key === null || key === undefined ? null : String(key),
      Enabled: typeof enabled === 'boolean' ? enabled : true,
    },
    steps: steps.map((s, i) => {
      const where = `Steps[${i}]`;
      if (!isObject(s)) throw new Error(`${where} must be an object.`);
      const conditions = prop(s, 'Conditions');
      const outputs = prop(s, 'Outputs');
      const config = prop(s, 'ConfigurationParameters');
      const enabledStep = prop(s, 'Enabled');
      return {
        DisplayName: (prop(s, 'DisplayName') as string | null) ?? null,
        UniqueName: String(prop(s, 'UniqueName') ?? ''),
        ExtensionName: String(prop(s, 'ExtensionName') ?? ''),
        Enabled: typeof enabledStep === 'boolean' ? enabledStep : true,
        ConfigurationParameters: (isObject(config) ? config : {}) as JsonObject,
        Signals: signalsOf(prop(s, 'Signals'), where),
        Conditions: Array.isArray(conditions) ? conditions.map((c) => ({ Value: String(isObject(c) ? (prop(c, 'Value') ?? '') : c) })) : [],
        Outputs: (isObject(outputs) ? outputs : {}) as Record<string, string>,
      };
    }),
  };
}

/** The steps as PUT Steps takes them (ids dropped: the server makes new ones). */
export function toPutSteps(steps: readonly StepWire[]): StepWire[] {
  return steps.map((s) => ({
    DisplayName: s.DisplayName,
    UniqueName: s.UniqueName,
    ExtensionName: s.ExtensionName,
    Enabled: s.Enabled,
    ConfigurationParameters: s.ConfigurationParameters,
    Signals: s.Signals.map((g) => ({ SignalName: g.SignalName, RoleIds: g.RoleIds, RoleTokens: g.RoleTokens })),
    Conditions: s.Conditions.map((c) => ({ Value: c.Value })),
    Outputs: s.Outputs,
  }));
}

/** A configuration value from a form field's text, by Keyfactor's parameter type numbering. */
export function parseParameter(type: number, text: string): Json {
  switch (type) {
    case 1: {
      const t = text.trim();
      if (!/^-?\d+$/.test(t)) throw new Error('must be a whole number');
      return Number(t);
    }
    case 2:
      return text === 'true';
    case 3:
      return text
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '');
    case 4:
    case 5:
    case 6: {
      try {
        return JSON.parse(text) as Json;
      } catch {
        throw new Error('must be JSON');
      }
    }
    default:
      return text;
  }
}

/** The form field's text for a configuration value. */
export function formatParameter(type: number, v: Json | undefined): string {
  if (v === undefined || v === null) return '';
  if (type === 3 && Array.isArray(v)) return v.map(String).join('\n');
  if (type === 4 || type === 5 || type === 6) return JSON.stringify(v, null, 2);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * A definition's versions in one phrase. DraftVersion is the newest version; when it is the
 * published one there is no separate draft (saving an edit starts the next version).
 */
export function versionSummary(d: { DraftVersion: number; PublishedVersion: number | null }): string {
  if (d.PublishedVersion === null) return `Version ${d.DraftVersion}, a draft (not yet published)`;
  if (d.DraftVersion === d.PublishedVersion) return `Version ${d.PublishedVersion} (published)`;
  return `Version ${d.PublishedVersion} published; version ${d.DraftVersion} is a draft with unpublished changes`;
}
