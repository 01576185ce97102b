import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestedExporters, startTracing, tracingSdkLoaded } from '../../src/observability/tracing.ts';
import { noop, publishedDefinition } from '../support/fixtures.ts';
import { startTestApp, type TestApp } from '../support/server.ts';
import { waitFor } from '../support/until.ts';

/*
 * OpenTelemetry tracing, end to end: a real OTLP/HTTP receiver (JSON encoding) on loopback, the
 * server configured only by the standard OTEL_* variables, spans for an HTTP request (with the
 * store calls inside it) and for a job whose Script step runs.
 */

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number };
}

const received: { service: string | undefined; span: OtlpSpan }[] = [];
const contentTypes = new Set<string>();
let receiver: Server;
let endpoint: string;

function attr(span: OtlpSpan, key: string): unknown {
  const v = span.attributes.find((a) => a.key === key)?.value;
  return v ? Object.values(v)[0] : undefined;
}

const OTEL_ENV = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_SERVICE_NAME', 'OTEL_BSP_SCHEDULE_DELAY', 'OTEL_TRACES_EXPORTER'];

describe('tracing off (no OTEL_* variables)', () => {
  it('loads no SDK and answers as usual', async () => {
    for (const k of OTEL_ENV) expect(process.env[k], k).toBeUndefined();
    const t = await startTestApp();
    try {
      expect((await t.call('GET', '/KeyfactorAPI/Workflow/Definitions')).status).toBe(200);
      expect(tracingSdkLoaded()).toBe(false);
    } finally {
      await t.close();
    }
  });

  it('only tracing-sdk.ts names the SDK, and only tracing.ts loads it, with import() (start-up stays as it was)', () => {
    const src = fileURLToPath(new URL('../../src', import.meta.url));
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : /\.tsx?$/.test(n) ? [join(dir, n)] : []));
    const sdk = /from\s+['"]@opentelemetry\/(?!api['"])|import\(\s*['"]@opentelemetry\/(?!api['"])/;
    const loaders: string[] = [];
    for (const f of files(src)) {
      const text = readFileSync(f, 'utf8');
      if (!f.endsWith('tracing-sdk.ts')) expect(sdk.test(text), f).toBe(false);
      if (/tracing-sdk/.test(text)) loaders.push(f);
      expect(/from\s+['"][^'"]*tracing-sdk/.test(text), f).toBe(false);
    }
    expect(loaders.map((f) => f.slice(src.length))).toEqual(['/observability/tracing.ts']);
  });

  it('reads the variables as the specification says', async () => {
    expect(requestedExporters({})).toEqual([]);
    expect(requestedExporters({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toEqual(['otlp']);
    expect(requestedExporters({ OTEL_TRACES_EXPORTER: 'console, otlp' })).toEqual(['console', 'otlp']);
    expect(requestedExporters({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x' })).toEqual([]);
    expect(requestedExporters({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).toEqual([]);
    await expect(startTracing({ OTEL_TRACES_EXPORTER: 'zipkin' }, 'x')).rejects.toThrow(/zipkin is not supported/);
    expect(tracingSdkLoaded()).toBe(false);
  });
});

describe('tracing on (OTEL_EXPORTER_OTLP_ENDPOINT, http/json)', () => {
  let t: TestApp;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        contentTypes.add(String(req.headers['content-type']));
        if (req.method === 'POST' && req.url === '/v1/traces') {
          const data = JSON.parse(body) as {
            resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
          };
          for (const rs of data.resourceSpans) {
            const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
            for (const ss of rs.scopeSpans) for (const span of ss.spans) received.push({ service, span });
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((ok) => receiver.listen(0, '127.0.0.1', ok));
    endpoint = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
    Object.assign(process.env, {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'countersign-under-test',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
    for (const k of OTEL_ENV) delete process.env[k];
    await new Promise((ok) => receiver.close(ok));
  });

  const spans = () => received.filter((r) => r.service === 'countersign-under-test').map((r) => r.span);

  it('loads the SDK and sends a server span per request, continuing the caller’s traceparent, with the store calls inside', async () => {
    expect(tracingSdkLoaded()).toBe(true);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await t.call('GET', '/KeyfactorAPI/Workflow/Definitions', { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    expect(res.status).toBe(200);
    const server = await waitFor('the request span', () => spans().find((s) => s.name === 'GET /KeyfactorAPI/Workflow/Definitions' && s.traceId === traceId), 30_000);
    expect(server.kind).toBe(2); // SERVER
    expect(server.parentSpanId).toBe('00f067aa0ba902b7');
    expect(attr(server, 'http.route')).toBe('/KeyfactorAPI/Workflow/Definitions');
    expect(attr(server, 'http.request.method')).toBe('GET');
    expect(Number(attr(server, 'http.response.status_code'))).toBe(200);
    const store = await waitFor('a store span in the request', () => spans().find((s) => s.parentSpanId === server.spanId && s.name.startsWith('store.')), 30_000);
    expect(store.kind).toBe(3); // CLIENT
    expect(attr(store, 'db.system.name')).toBe(process.env.COUNTERSIGN_TEST_STORE === 'postgres' ? 'postgresql' : 'sqlite');
    expect(contentTypes).toContain('application/json');
  });

  it('a URL’s path parameters never reach a span: the route pattern names it', async () => {
    const id = '6f1c2a4e-1111-4222-8333-944455556666';
    await t.call('GET', `/KeyfactorAPI/Workflow/Instances/${id}`);
    const span = await waitFor('the instance request span', () => spans().find((s) => s.name === 'GET /KeyfactorAPI/Workflow/Instances/:id'), 30_000);
    expect(JSON.stringify(span)).not.toContain(id);
    expect(Number(attr(span, 'http.response.status_code'))).toBe(404);
  });

  it('a job span with the step run inside it, named by the step type', async () => {
    const script = {
      ExtensionName: 'Script',
      UniqueName: 'Greet',
      DisplayName: 'Greet',
      Enabled: true,
      ConfigurationParameters: { ScriptContent: 'return { Greeting: "hello" }', ScriptParameters: {} },
      Signals: [],
      Conditions: [],
      Outputs: { continue: 'EndNOOP' },
    };
    const def = await publishedDefinition(t, [noop('StartNOOP', 'Greet'), script, noop('EndNOOP')], { type: 'Expiration' });
    const started = await t.call('POST', '/KeyfactorAPI/Workflow/Instances', { body: { DefinitionId: def } });
    expect(started.status, started.text).toBe(201);
    const instanceId = started.body.Id as string;
    const step = await waitFor('the step span', () => spans().find((s) => s.name === 'step Script' && attr(s, 'countersign.instance.id') === instanceId), 60_000);
    expect(attr(step, 'countersign.step.unique_name')).toBe('Greet');
    expect(step.status?.code ?? 0).not.toBe(2);
    // The step span ends first, so its parent may arrive in a later export batch.
    const job = await waitFor('the job span', () => spans().find((s) => s.spanId === step.parentSpanId), 30_000);
    expect(job?.name).toBe('job runStep');
    expect(attr(job!, 'countersign.instance.id')).toBe(instanceId);
    await waitFor('store calls inside the job', () => spans().some((s) => s.parentSpanId === job!.spanId && s.name.startsWith('store.')), 30_000);
  });
});
