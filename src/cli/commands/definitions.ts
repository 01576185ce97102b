import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { definitionV1, readSteps } from '../../api/workflow-wire.ts';
import { WorkflowService } from '../../service/workflow.ts';
import type { Definition } from '../../domain/types.ts';
import type { Services } from '../../service/services.ts';
import { CliFailure, describeError, output, withStore } from '../support.ts';

/**
 * Definitions in Keyfactor's export format: the v1 DefinitionResponse JSON that Command's export
 * writes (the files under Keyfactor's exports/). Role ids are kept (they restore into the same
 * system); --exportable removes them as the API's `?exportable=true` does, for another system,
 * where approval steps then need roles before they validate. Import creates each as a new
 * definition, the way Keyfactor re-imports: create, PUT Steps, then Publish when it was published.
 */
export function definitionsCommand(program: Command): void {
  const defs = program.command('definitions').description("workflow definitions, in Keyfactor's export format");

  defs
    .command('export')
    .description('write definitions as Keyfactor export JSON: one object with --id, else an array of all of them')
    .option('--id <definitionId>', 'only this definition')
    .option('--exportable', 'remove role ids (as GET ?exportable=true does), for another system')
    .option('-o, --out <file>', 'write to this file instead of standard output')
    .action(async (opts: { id?: string; out?: string; exportable?: boolean }) =>
      withStore(async (store, services) => {
        const wf = new WorkflowService(services);
        const list = opts.id
          ? [(await wf.getDefinition(opts.id)).definition]
          : await store.listDefinitions({ filter: null, limit: 100_000, offset: 0, sortColumn: 'display_name', ascending: true });
        const exported = await Promise.all(list.map((d) => exported1(services, d, opts.exportable === true)));
        const text = `${JSON.stringify(opts.id ? exported[0] : exported, null, 2)}\n`;
        if (opts.out) {
          writeFileSync(opts.out, text, { flag: 'wx' });
          console.error(`Wrote ${exported.length} definition${exported.length === 1 ? '' : 's'} to ${opts.out}.`);
        } else process.stdout.write(text);
      }),
    );

  defs
    .command('import')
    .description('create definitions from Keyfactor export JSON files (an object or an array each); each becomes a new definition')
    .argument('<files...>', 'export files')
    .option('--no-publish', 'leave imported definitions as drafts even when the export was published')
    .option('--json', 'print JSON')
    .action(async (files: string[], opts: { publish: boolean; json?: boolean }) => {
      const docs = files.flatMap((f) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(readFileSync(f, 'utf8'));
        } catch (e) {
          throw new CliFailure(`${f}: not a readable JSON file: ${(e as Error).message}`);
        }
        const items = Array.isArray(parsed) ? parsed : [parsed];
        return items.map((item, i) => ({ where: Array.isArray(parsed) ? `${f}[${i}]` : f, item }));
      });
      await withStore(async (_store, services) => {
        const results: { source: string; id?: string; displayName?: string; published?: boolean; error?: string }[] = [];
        for (const { where, item } of docs) {
          try {
            results.push({ source: where, ...(await importOne(services, item, opts.publish)) });
          } catch (e) {
            results.push({ source: where, error: describeError(e) });
          }
        }
        output(opts.json, results, () =>
          results.map((r) =>
            r.error ? `${r.source}: not imported: ${r.error}` : `${r.source}: imported as ${r.id} '${r.displayName}'${r.published ? ', published' : ' (draft)'}`,
          ),
        );
        if (results.some((r) => r.error)) process.exitCode = 1;
      });
    });
}

/** The published version when there is one (what runs), else the draft. */
async function exported1(services: Services, d: Definition, withoutRoles: boolean) {
  const { version } = await new WorkflowService(services).getDefinition(d.id, d.publishedVersion ?? d.draftVersion);
  const steps = withoutRoles ? version.steps.map((st) => ({ ...st, signals: st.signals.map((g) => ({ ...g, roleIds: [] })) })) : version.steps;
  return definitionV1(d, { ...version, steps }, services.registry);
}

/** One export object -> a new definition; on a validation failure nothing is left behind. */
async function importOne(services: Services, item: unknown, publish: boolean): Promise<{ id: string; displayName: string; published: boolean }> {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new CliFailure('not a definition object');
  const o = item as Record<string, unknown>;
  const text = (name: string): string | null => (typeof o[name] === 'string' ? (o[name] as string) : null);
  const displayName = text('DisplayName');
  const workflowType = text('WorkflowType');
  if (!displayName || !workflowType) throw new CliFailure('DisplayName and WorkflowType are required');
  const wf = new WorkflowService(services);
  const key = text('Key');
  const steps = readSteps(o.Steps ?? [], services.newId);
  const def = await wf.createDefinition({
    displayName,
    description: text('Description'),
    workflowType,
    keys: key ? [{ value: key, displayName: text('KeyDisplayName') ?? key }] : [],
    enabled: typeof o.Enabled === 'boolean' ? o.Enabled : true,
  });
  try {
    if (steps.length) await wf.putSteps(def.id, steps);
    const published = publish && o.IsPublished === true && steps.length > 0;
    if (published) await wf.publish(def.id);
    return { id: def.id, displayName, published };
  } catch (e) {
    await wf.deleteDefinition(def.id).catch(() => {});
    throw e;
  }
}
