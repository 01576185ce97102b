import type { StepRegistry } from './step-registry.ts';
import type { StepType } from './step-type.ts';
import type { Json, StepDef } from './types.ts';

/**
 * Secrets are write-only: responses show them as null, so a client that GETs, edits and PUTs the
 * steps back sends null for a secret, which keeps the value stored for the same step. A kept
 * secret stays bound to where it was entered for: when the step's type or one of its destination
 * parameters (URL, TokenEndpoint) changes, null does not carry the secret along; the secret must
 * be entered again (or "" sent to remove it). Pure: returns the steps with kept secrets filled in
 * and the problems, as "Step 'Name': ConfigurationParameters.Param: reason".
 */
export function keepSecrets(steps: StepDef[], previous: StepDef[], registry: StepRegistry): { steps: StepDef[]; problems: string[] } {
  const problems: string[] = [];
  const out = steps.map((step) => {
    const type = registry.get(step.extensionName);
    const before = previous.find((p) => p.uniqueName === step.uniqueName);
    if (!type || !before) return step;
    const config = { ...step.config };
    for (const [name, decl] of Object.entries(type.parameters)) {
      if (!decl.secret || (config[name] !== null && config[name] !== undefined) || before.config[name] == null) continue;
      const at = `Step '${step.uniqueName}': ConfigurationParameters.${name}`;
      if (before.extensionName !== step.extensionName) {
        problems.push(
          `${at}: the stored secret was entered for a ${before.extensionName} step and is not carried over to a ${step.extensionName} step; enter it again, or send "" to leave it empty`,
        );
        continue;
      }
      const moved = destinationChanges(type, before.config, config);
      if (moved.length) {
        const what = moved.map((m) => `${m.parameter} (from ${m.from} to ${m.to})`).join(', ');
        problems.push(`${at}: the stored secret is bound to its destination and ${what} changed; enter the secret again to send it there, or send "" to leave it empty`);
        continue;
      }
      config[name] = before.config[name];
    }
    return { ...step, config };
  });
  return { steps: out, problems };
}

export interface DestinationChange {
  parameter: string;
  from: string;
  to: string;
}

/** The destination parameters of a step type whose destination differs between two configurations. */
export function destinationChanges(type: StepType, before: Record<string, Json | undefined>, after: Record<string, Json | undefined>): DestinationChange[] {
  const changes: DestinationChange[] = [];
  for (const [name, decl] of Object.entries(type.parameters)) {
    if (!decl.destination) continue;
    const from = destinationOf(before[name] ?? decl.default ?? null, decl.destination);
    const to = destinationOf(after[name] ?? decl.default ?? null, decl.destination);
    if (from !== to) changes.push({ parameter: name, from: from || '(none)', to: to || '(none)' });
  }
  return changes;
}

/**
 * What a destination value points at: the origin (scheme, host, port; default ports and case
 * normalized) or the whole URL. A value that is no URL (tokens in the host) is compared as written.
 */
export function destinationOf(value: Json, mode: 'origin' | 'url'): string {
  const text = typeof value === 'string' ? value.trim() : value === null ? '' : JSON.stringify(value);
  if (text === '') return '';
  try {
    const url = new URL(text);
    if (!/\$\(/.test(url.host) && !/%24\(/i.test(url.host)) return mode === 'origin' ? `${url.protocol}//${url.host}` : url.href;
  } catch {
    /* compared as written */
  }
  return mode === 'origin' ? (/^[^:/?#]*:\/\/[^/?#]*/.exec(text)?.[0] ?? text) : text;
}
