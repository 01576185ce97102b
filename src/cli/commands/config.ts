import type { Command } from 'commander';
import { loadConfig, type Config } from '../../config.ts';
import { maskUrl, output } from '../support.ts';

const MASK = '***';

/** The effective configuration with every secret replaced: safe to paste into a support ticket. */
export function maskedConfig(c: Config): Record<string, unknown> {
  const smtp = c.steps?.smtp;
  return {
    ...c,
    databaseUrl: maskUrl(c.databaseUrl),
    adminPassword: c.adminPassword === undefined ? undefined : MASK,
    linkSecret: c.linkSecret === undefined ? '(generated, kept in the store)' : MASK,
    auditKey: c.auditKey === undefined ? '(generated, kept in the store)' : MASK,
    metrics: c.metrics?.mode === 'token' ? { mode: 'token', token: MASK } : c.metrics,
    steps: c.steps && { ...c.steps, smtp: smtp ? { ...smtp, password: smtp.password === null ? null : MASK } : smtp },
  };
}

export function configCommand(program: Command): void {
  program
    .command('config')
    .description('configuration')
    .command('print')
    .description('print the effective configuration from the environment and defaults, secrets masked (exit 1 when a setting is invalid)')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const masked = maskedConfig(loadConfig());
      output(opts.json, masked, () => flatten(masked).map(([k, v]) => `${k} = ${v}`));
    });
}

function flatten(o: Record<string, unknown>, prefix = ''): [string, string][] {
  return Object.entries(o).flatMap(([k, v]): [string, string][] =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? flatten(v as Record<string, unknown>, `${prefix}${k}.`)
      : [[`${prefix}${k}`, v === undefined ? '(not set)' : JSON.stringify(v)]],
  );
}
