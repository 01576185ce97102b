import type { StepRegistry } from './step-registry.ts';
import type { ParamDecl, RunEnvironment, StepType } from './step-type.ts';
import type { Json, JsonObject, StepDef } from './types.ts';

/**
 * Validates a step list: the graph (one NOOP start, NOOP ends, no cycles, no dangling outputs,
 * everything reachable) and every step's configuration against its type's declarations.
 * Returns problems as "Step 'Name': Field: reason"; empty means valid.
 */
export function validateSteps(steps: StepDef[], registry: StepRegistry, workflowType: string, roleExists: (id: number) => boolean): string[] {
  if (steps.length === 0) return ['Steps: a definition needs at least a start and an end NOOPStep'];
  const problems: string[] = [];
  const byName = new Map<string, StepDef>();
  for (const s of steps) {
    if (!s.uniqueName) problems.push(`Step '${s.displayName}': UniqueName: must not be empty`);
    else if ([...byName.keys()].some((n) => n.toLowerCase() === s.uniqueName.toLowerCase())) problems.push(`Step '${s.uniqueName}': UniqueName: is used by more than one step`);
    else byName.set(s.uniqueName, s);
  }
  for (const s of steps) problems.push(...validateStep(s, registry, workflowType, byName, roleExists));
  for (const t of registry.all()) {
    const n = steps.filter((s) => s.extensionName === t.extensionName).length;
    if (t.maxPerDefinition !== undefined && n > t.maxPerDefinition) problems.push(`Steps: at most ${t.maxPerDefinition} ${t.extensionName} per definition; there are ${n}`);
  }
  if (problems.length === 0) problems.push(...validateGraph(steps, byName));
  return problems;
}

function validateStep(s: StepDef, registry: StepRegistry, workflowType: string, byName: Map<string, StepDef>, roleExists: (id: number) => boolean): string[] {
  const at = `Step '${s.uniqueName}'`;
  const type = registry.get(s.extensionName);
  if (!type) {
    const known = registry
      .all()
      .map((t) => t.extensionName)
      .join(', ');
    return [`${at}: ExtensionName: unknown step type '${s.extensionName}'; known: ${known}`];
  }
  const problems: string[] = [];
  if (type.workflowTypes !== 'all' && !type.workflowTypes.some((w) => w.toLowerCase() === workflowType.toLowerCase()))
    problems.push(`${at}: ExtensionName: ${s.extensionName} is only allowed in ${type.workflowTypes.join(', ')} workflows`);
  for (const [output, target] of Object.entries(s.outputs)) {
    if (!type.outputs.includes(output)) problems.push(`${at}: Outputs: '${output}' is not an output of ${s.extensionName} (${type.outputs.join(', ')})`);
    if (!byName.has(target)) problems.push(`${at}: Outputs.${output}: no step has UniqueName '${target}'`);
  }
  problems.push(...validateConfig(type, s.config, registry.env).map((p) => `${at}: ConfigurationParameters.${p}`));
  problems.push(...validateSignals(type, s, roleExists).map((p) => `${at}: ${p}`));
  if (type.conditionsAllowed === false && s.conditions.length > 0) problems.push(`${at}: Conditions: ${s.extensionName} takes no conditions`);
  s.conditions.forEach((c, i) => {
    if (typeof c.value !== 'string' || c.value.trim() === '') problems.push(`${at}: Conditions[${i}].Value: must be a non-empty string`);
  });
  return problems;
}

function validateSignals(type: StepType, s: StepDef, roleExists: (id: number) => boolean): string[] {
  const problems: string[] = [];
  for (const sig of s.signals) {
    if (!Object.hasOwn(type.signals, sig.name)) {
      problems.push(`Signals: '${sig.name}' is not a signal of ${type.extensionName}`);
      continue;
    }
    for (const id of sig.roleIds) if (!roleExists(id)) problems.push(`Signals.${sig.name}.RoleIds: role ${id} does not exist`);
  }
  for (const name of Object.keys(type.signals)) {
    const sig = s.signals.find((x) => x.name === name);
    if (!sig || sig.roleIds.length + sig.roleTokens.length === 0)
      problems.push(`Signals: ${type.extensionName} needs signal '${name}' with at least one RoleId (or RoleToken), or nobody could act on it`);
  }
  return problems;
}

/** Checks each declared parameter's type and requiredness; rejects undeclared keys (typos). */
export function validateConfig(type: StepType, config: JsonObject, env?: RunEnvironment): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(config)) {
    if (!Object.hasOwn(type.parameters, key)) {
      const known = Object.keys(type.parameters);
      problems.push(`${key}: unknown parameter for ${type.extensionName}${known.length ? ` (known: ${known.join(', ')})` : ''}`);
    }
  }
  for (const [name, decl] of Object.entries(type.parameters)) {
    const v = config[name];
    if (v === undefined || v === null) {
      if (decl.required) problems.push(`${name}: is required`);
      continue;
    }
    const p = checkParam(decl, v);
    if (p) problems.push(`${name}: ${p}`);
  }
  if (problems.length === 0 && type.validate) problems.push(...type.validate(config, env));
  return problems;
}

const isStringArray = (v: Json): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isObject = (v: Json): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v);
const isSecretReference = (v: Json): boolean => isObject(v) && Object.keys(v).some((k) => k.toLowerCase() === 'provider');

function checkParam(decl: ParamDecl, v: Json): string | null {
  if (decl.allowSecretReference && isSecretReference(v)) return null;
  switch (decl.type) {
    case 'string':
    case 'html':
      if (typeof v !== 'string') return 'must be a string';
      return decl.maxLength !== undefined && v.length > decl.maxLength ? `must be at most ${decl.maxLength} characters` : null;
    case 'integer': {
      const n = typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n)) return 'must be a whole number';
      return decl.minimum !== undefined && n < decl.minimum ? `must be at least ${decl.minimum}` : null;
    }
    case 'boolean':
      return typeof v === 'boolean' || (typeof v === 'string' && /^(true|false)$/i.test(v)) ? null : 'must be true or false';
    case 'stringList':
      return isStringArray(v) ? null : 'must be a list of strings';
    case 'stringMap':
      return isObject(v) && Object.values(v).every((x) => typeof x === 'string') ? null : 'must be an object of string values';
    case 'stringListMap':
      return isObject(v) && Object.values(v).every(isStringArray) ? null : 'must be an object whose values are lists of strings';
    case 'object':
      return isObject(v) ? null : 'must be an object';
  }
}

/** The start step: the one no output points at. */
export function findStart(steps: StepDef[]): StepDef | undefined {
  const targets = new Set(steps.flatMap((s) => Object.values(s.outputs)));
  return steps.find((s) => !targets.has(s.uniqueName));
}

function validateGraph(steps: StepDef[], byName: Map<string, StepDef>): string[] {
  const targets = new Set(steps.flatMap((s) => Object.values(s.outputs)));
  const roots = steps.filter((s) => !targets.has(s.uniqueName));
  if (roots.length !== 1) {
    return roots.length === 0
      ? ['Steps: no start step (every step is the target of an output, so the steps form a cycle)']
      : [`Steps: more than one start step (${roots.map((r) => r.uniqueName).join(', ')}); exactly one step may have no incoming output`];
  }
  const problems: string[] = [];
  const start = roots[0];
  if (start.extensionName !== 'NOOPStep') problems.push(`Step '${start.uniqueName}': ExtensionName: the start step must be a NOOPStep`);
  for (const s of steps) {
    if (Object.keys(s.outputs).length === 0 && s.extensionName !== 'NOOPStep')
      problems.push(`Step '${s.uniqueName}': Outputs: a step without outputs ends the workflow and must be a NOOPStep`);
  }
  const cycle = findCycle(start, byName);
  if (cycle) problems.push(`Steps: the outputs form a cycle (${cycle.join(' -> ')})`);
  else {
    const reached = reachable(start, byName);
    for (const s of steps) if (!reached.has(s.uniqueName)) problems.push(`Step '${s.uniqueName}': is not reachable from the start step '${start.uniqueName}'`);
  }
  return problems;
}

function reachable(start: StepDef, byName: Map<string, StepDef>): Set<string> {
  const seen = new Set<string>();
  const stack = [start.uniqueName];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    stack.push(...Object.values(byName.get(n)?.outputs ?? {}));
  }
  return seen;
}

function findCycle(start: StepDef, byName: Map<string, StepDef>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === 'open') return [...path.slice(path.indexOf(n)), n];
    if (state.get(n) === 'done') return null;
    state.set(n, 'open');
    path.push(n);
    for (const t of Object.values(byName.get(n)?.outputs ?? {})) {
      const c = visit(t);
      if (c) return c;
    }
    path.pop();
    state.set(n, 'done');
    return null;
  };
  // Cycles unreachable from the start also leave a step unreachable, which is reported instead.
  return visit(start.uniqueName);
}
