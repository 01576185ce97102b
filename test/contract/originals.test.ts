import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FILES, reduceDocument } from '../../scripts/contract-facts.ts';
import { findStart, validateSteps } from '../../src/domain/definition.ts';
import type { JsonObject, StepDef } from '../../src/domain/types.ts';
import { planImport } from '../../src/portal/app/src/definition.ts';
import { defaultRegistry } from '../../src/steps/index.ts';
import { EXPORTS_DIR, sharedKeyfactorDir } from '../fixtures/paths.ts';
import { contractDir, expectValidResponse } from '../support/openapi.ts';

/*
 * Optional: when the project's shared Keyfactor folder is beside the repository (or named by
 * KEYFACTOR_CONTRACT_DIR), the real Command 25.1 exports and the full OpenAPI documents are checked
 * too. A clone without it skips these tests and says why; everything else reads only the copies
 * committed in test/contract and test/fixtures.
 */

const shared = sharedKeyfactorDir();
const SKIP_NOTE = 'no ../shared/keyfactor beside the repository (set KEYFACTOR_CONTRACT_DIR to the folder to run these)';
// The default reporter shows no skip notes: say it once, so the skip is never silent.
if (!shared) console.info(`Skipping the checks of the real Keyfactor exports and documents: ${SKIP_NOTE}.`);

interface WireStep {
  ExtensionName: string;
  UniqueName: string;
  DisplayName: string;
  Enabled?: boolean;
  ConfigurationParameters?: JsonObject;
  Signals?: { SignalName: string; RoleIds?: number[] }[];
  Conditions?: { Id?: string; Value: string }[];
  Outputs?: Record<string, string>;
}
interface Exported {
  Id: string;
  DisplayName: string;
  WorkflowType: string;
  Steps: WireStep[];
}

const readExports = (dir: string): Exported[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as Exported);

const toStepDef = (s: WireStep, i: number): StepDef => ({
  id: `step-${i}`,
  extensionName: s.ExtensionName,
  uniqueName: s.UniqueName,
  displayName: s.DisplayName,
  enabled: s.Enabled ?? true,
  config: s.ConfigurationParameters ?? {},
  signals: (s.Signals ?? []).map((g) => ({ name: g.SignalName, roleIds: g.RoleIds ?? [], roleTokens: [] })),
  conditions: (s.Conditions ?? []).map((c, k) => ({ id: c.Id ?? `cond-${k}`, value: c.Value })),
  outputs: s.Outputs ?? {},
});

/** The kinds of $(...) token an export uses: plain, dotted path, metadata:. */
function tokenKinds(exports: Exported[]): string[] {
  const kinds = new Set<string>();
  for (const m of JSON.stringify(exports).matchAll(/\$\(([^)]+)\)/g)) {
    const token = m[1]!;
    kinds.add(token.startsWith('metadata:') ? 'metadata' : token.includes('.') ? 'path' : 'plain');
  }
  return [...kinds].sort();
}

const extensionNames = (exports: Exported[]): string[] => [...new Set(exports.flatMap((e) => e.Steps.map((s) => s.ExtensionName)))].sort();

describe('the real Keyfactor exports and OpenAPI documents (optional)', () => {
  it('the real exports validate against the contract, as Expiration workflows, and import as they are', (ctx) => {
    ctx.skip(!shared, SKIP_NOTE);
    const originals = readExports(path.join(shared!, 'exports'));
    expect(originals).toHaveLength(6);
    const roleExists = () => true;
    for (const exported of originals) {
      expectValidResponse({ doc: 'workflow-v1', method: 'GET', url: `/KeyfactorAPI/Workflow/Definitions/${exported.Id}`, status: 200, body: exported });
      const steps = exported.Steps.map(toStepDef);
      expect(validateSteps(steps, defaultRegistry(), 'Expiration', roleExists), exported.DisplayName).toEqual([]);
      expect(findStart(steps)?.extensionName).toBe('NOOPStep');
      const plan = planImport(JSON.stringify(exported));
      expect(plan.steps.map((s) => s.Outputs)).toEqual(exported.Steps.map((s) => s.Outputs));
    }
  });

  it('the fixtures cover the real exports: the same step types and token kinds', (ctx) => {
    ctx.skip(!shared, SKIP_NOTE);
    const originals = readExports(path.join(shared!, 'exports'));
    const fixtures = readExports(EXPORTS_DIR);
    expect(extensionNames(fixtures)).toEqual(extensionNames(originals));
    expect(tokenKinds(fixtures)).toEqual(tokenKinds(originals));
  });

  it('the committed contract facts are up to date (else run npm run contract:update)', (ctx) => {
    ctx.skip(!shared, SKIP_NOTE);
    for (const [source, target] of Object.entries(FILES)) {
      const full = JSON.parse(readFileSync(path.join(shared!, source), 'utf8')) as { documents: Record<string, JsonObject> };
      const committed = JSON.parse(readFileSync(path.join(contractDir(), target), 'utf8')) as { documents: Record<string, JsonObject> };
      expect(Object.keys(committed.documents), target).toEqual(Object.keys(full.documents));
      for (const [key, document] of Object.entries(full.documents)) {
        expect(committed.documents[key], `${target} ${key}`).toEqual(reduceDocument(document));
      }
    }
  });
});
