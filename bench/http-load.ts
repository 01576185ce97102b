import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { Samples, concat, summarise, type LatencySummary } from './stats.ts';

export interface HttpLoadOptions {
  /** Base URLs of the server node(s); client c talks to urls[c % urls.length]. */
  urls: string[];
  /** One Authorization header per client: each client is its own approver. */
  auths: string[];
  instanceIds: string[];
  body: string;
  warmupMs: number;
  durationMs: number;
  /** Hard stop for the whole phase, whatever happens. */
  hardStopMs: number;
  onMeasureStart?: () => void;
  onMeasureEnd?: () => void;
}

export interface HttpLoadResult {
  clients: number;
  /** Signals started inside the measured window (after warm-up). */
  signals: number;
  warmupSignals: number;
  /** The log-in round (one signal per client, scrypt-verified) before the warm-up. */
  loginMs: number;
  /** Signals per second over the measured window. */
  rate: number;
  windowMs: number;
  latencyMs: LatencySummary;
  statuses: Record<string, number>;
  /** Responses other than 204 (and transport errors), warm-up included. */
  errors: number;
  errorSamples: string[];
  /** A client ran out of instances it had not yet signalled before the time was up. */
  exhausted: boolean;
  timedOut: boolean;
  /** Mean signals per instance at the end (each signal grows the instance's signals array). */
  meanDepth: number;
}

/**
 * N concurrent clients, one request in flight each, over keep-alive connections. Client c starts
 * at instance floor(c*M/N) and walks forward, so no client signals an instance twice and each
 * instance gets at most one signal per approver.
 */
export async function runHttpLoad(o: HttpLoadOptions): Promise<HttpLoadResult> {
  const n = o.auths.length;
  const m = o.instanceIds.length;
  const agents = new Map(o.urls.map((u) => [u, new http.Agent({ keepAlive: true, maxSockets: n })]));
  const statuses: Record<string, number> = {};
  const errorSamples: string[] = [];
  let errors = 0;
  let sent = 0;

  const post = (base: URL, agent: http.Agent, path: string, auth: string) =>
    new Promise<{ status: number; body: string }>((resolve) => {
      const req = http.request(
        {
          host: base.hostname,
          port: base.port,
          path,
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(o.body),
            'x-keyfactor-requested-with': 'APIClient',
            authorization: auth,
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          res.on('error', (e) => resolve({ status: 0, body: String(e) }));
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error('request timed out after 30 s')));
      req.on('error', (e) => resolve({ status: 0, body: String(e) }));
      req.end(o.body);
    });
  const check = (r: { status: number; body: string }) => {
    sent++;
    if (r.status !== 204) {
      errors++;
      if (errorSamples.length < 10) errorSamples.push(`${r.status} ${r.body.slice(0, 300)}`);
    }
  };
  const nodeOf = (c: number) => ({ base: new URL(o.urls[c % o.urls.length]!), agent: agents.get(o.urls[c % o.urls.length]!)! });
  const offsetOf = (c: number) => Math.floor((c * m) / n);

  // Log-in round: every client's first signal, together. The first request of an identity pays
  // for one scrypt verification (then the credential is cached), which must not fall in the window.
  const loginStart = performance.now();
  await Promise.all(
    Array.from({ length: n }, async (_, c) => {
      const { base, agent } = nodeOf(c);
      check(await post(base, agent, `/KeyfactorAPI/Workflow/Instances/${o.instanceIds[offsetOf(c) % m]!}/Signals`, o.auths[c]!));
    }),
  );
  const loginMs = performance.now() - loginStart;

  const t0 = performance.now();
  const measureStart = t0 + o.warmupMs;
  const measureEnd = measureStart + o.durationMs;
  const hardStop = loginStart + o.hardStopMs;
  let measured = 0;
  let warmup = 0;
  let lastEnd = measureStart;
  let exhausted = false;
  let stop = false;
  const samples: Samples[] = [];

  const startTimer = setTimeout(() => o.onMeasureStart?.(), Math.max(0, o.warmupMs));
  const endTimer = setTimeout(() => o.onMeasureEnd?.(), Math.max(0, o.warmupMs + o.durationMs));

  const client = async (c: number) => {
    const { base, agent } = nodeOf(c);
    const auth = o.auths[c]!;
    const mine = new Samples(2_000_000);
    samples.push(mine);
    const offset = offsetOf(c);
    for (let i = 1; ; i++) {
      const start = performance.now();
      if (stop || start >= measureEnd || start >= hardStop) break;
      if (i >= m) {
        exhausted = true;
        break;
      }
      const id = o.instanceIds[(offset + i) % m]!;
      const r = await post(base, agent, `/KeyfactorAPI/Workflow/Instances/${id}/Signals`, auth);
      const end = performance.now();
      check(r);
      if (start >= measureStart) {
        measured++;
        mine.push(end - start);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (end > lastEnd) lastEnd = end;
      } else warmup++;
    }
  };

  let hardTimer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    Promise.all(Array.from({ length: n }, (_, c) => client(c))).then(() => false),
    new Promise<boolean>((resolve) => (hardTimer = setTimeout(() => resolve(true), o.hardStopMs + 5_000))),
  ]);
  stop = true;
  clearTimeout(hardTimer);
  clearTimeout(startTimer);
  clearTimeout(endTimer);
  for (const a of agents.values()) a.destroy();
  const windowMs = lastEnd - measureStart;
  return {
    clients: n,
    signals: measured,
    warmupSignals: warmup + n,
    loginMs,
    rate: windowMs > 0 ? measured / (windowMs / 1000) : 0,
    windowMs,
    latencyMs: summarise(concat(samples.map((s) => s.values()))),
    statuses,
    errors,
    errorSamples,
    exhausted,
    timedOut,
    meanDepth: sent / m,
  };
}
