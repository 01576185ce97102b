/*
 * Summarises a V8 .cpuprofile (as written by the server child during the measured window):
 * self time by function, self time by area (our code by directory, dependencies by package,
 * Node internals, GC), and inclusive time of named functions.
 *
 *   npx tsx bench/profile-summary.ts <file.cpuprofile> [--top 30]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  busyMs: number;
  topSelf: { fn: string; ms: number; pctBusy: number }[];
  areas: { area: string; ms: number; pctBusy: number }[];
  inclusive: { fn: string; ms: number; pctBusy: number }[];
}

const short = (url: string): string => {
  if (!url) return '';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) return u.slice(nm + 'node_modules/'.length);
  const src = u.search(/\/(src|bench)\//);
  return src >= 0 ? u.slice(src + 1) : u;
};

export function areaOf(f: CallFrame): string {
  const name = f.functionName;
  if (name === '(idle)') return '(idle)';
  if (name === '(garbage collector)') return '(garbage collector)';
  if (name === '(program)') return '(program: native, unattributed)';
  const u = f.url.replace(/^file:\/\//, '');
  if (!u) return name.startsWith('(') ? name : '(native / builtins)';
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + 'node_modules/'.length).split('/');
    return `dep: ${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (u.startsWith('node:')) return `node: ${u.slice(5).split('/')[0]}`;
  const m = /\/(src|bench)\/(.*)$/.exec(u);
  if (m) {
    const parts = m[2]!.split('/');
    return `${m[1]}/${parts.length > 1 ? `${parts.slice(0, -1).join('/')}/` : ''}${parts.at(-1)}`;
  }
  return u;
}

const key = (f: CallFrame) => `${f.functionName || '(anonymous)'} ${short(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;

export function summariseProfile(p: CpuProfile, top = 30, inclusiveOf: RegExp[] = DEFAULT_INCLUSIVE): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  let total = 0;
  let idle = 0;
  const fnSelf = new Map<string, number>();
  const areaSelf = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    total += us;
    if (n.callFrame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    fnSelf.set(key(n.callFrame), (fnSelf.get(key(n.callFrame)) ?? 0) + us);
    const a = areaOf(n.callFrame);
    areaSelf.set(a, (areaSelf.get(a) ?? 0) + us);
    // Inclusive: charge each distinct matching function on the stack once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      const label = inclusiveOf.find((re) => re.test(`${f.functionName} ${short(f.url)}`));
      if (!label) continue;
      const k = `${f.functionName} ${short(f.url)}`;
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + us);
    }
  }
  const busy = total - idle;
  const ms = (us: number) => Math.round(us / 100) / 10;
  const pct = (us: number) => Math.round((1000 * us) / busy) / 10;
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    totalMs: ms(total),
    idleMs: ms(idle),
    busyMs: ms(busy),
    topSelf: sorted(fnSelf)
      .slice(0, top)
      .map(([fn, us]) => ({ fn, ms: ms(us), pctBusy: pct(us) })),
    areas: sorted(areaSelf).map(([area, us]) => ({ area, ms: ms(us), pctBusy: pct(us) })),
    inclusive: sorted(incl).map(([fn, us]) => ({ fn, ms: ms(us), pctBusy: pct(us) })),
  };
}

/** Functions whose inclusive time explains where a signal request goes. */
export const DEFAULT_INCLUSIVE: RegExp[] = [
  /^authenticate src\/security\/basic-authenticator/,
  /^currentGeneration /,
  /^signal src\/service\/workflow/,
  /^getInstance src\/(service|store)/,
  /^mutateInstance /,
  /^applySignal /,
  /^toInstance /,
  /^instanceRow /,
  /^writeHistory /,
  /^readSignal /,
  /^sha256 /,
  /^(normaliseQuery|parse) src\/api\/app/,
  /^runPreParsingHook|^handleRequest |^routeHandler |^preHandlerCallback|^onSendEnd|^wrapThenable/,
  /^parserOnHeadersComplete |^parserOnIncomingClient|^onStreamRead /,
  /^writeGeneric|^writevGeneric|^_writeRaw|^processTicksAndRejections/,
  /^(run|get|all) $/,
  /^stringify $|^parse $/,
];

export function printProfileSummary(s: ProfileSummary, out: (line: string) => void = console.log): void {
  out(`  profiled window: ${s.totalMs} ms, main thread busy ${s.busyMs} ms (${Math.round((100 * s.busyMs) / s.totalMs)}%), idle ${s.idleMs} ms`);
  out('  self time by area (% of busy):');
  for (const a of s.areas.slice(0, 18)) out(`    ${a.pctBusy.toFixed(1).padStart(5)}%  ${a.area}`);
  out('  top functions by self time (% of busy):');
  for (const f of s.topSelf) out(`    ${f.pctBusy.toFixed(1).padStart(5)}%  ${f.fn}`);
  out('  inclusive time of selected functions (% of busy):');
  for (const f of s.inclusive) out(`    ${f.pctBusy.toFixed(1).padStart(5)}%  ${f.fn}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [--top N]');
    process.exit(2);
  }
  const topIdx = process.argv.indexOf('--top');
  const top = topIdx > 0 ? Number(process.argv[topIdx + 1]) : 30;
  printProfileSummary(summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, top));
}
