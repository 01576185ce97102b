import { type Context, context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/*
 * OpenTelemetry tracing (docs/operations.md "Tracing"). The code speaks only to
 * @opentelemetry/api, which does nothing until an SDK is registered; the SDK (tracing-sdk.ts) is
 * loaded by startTracing only when the standard OTEL_* variables ask for traces. Spans: one per
 * HTTP request (app.ts), the store calls made inside a traced request or job (tracedStore), and
 * each job the runner runs with its step run inside (job-runner.ts).
 */

export const tracer: Tracer = trace.getTracer('countersign');

let sdkLoaded = false;

/** Whether the SDK was ever loaded in this process (the test that, without OTEL_*, it is not). */
export const tracingSdkLoaded = (): boolean => sdkLoaded;

export interface Tracing {
  exporters: string[];
  shutdown(): Promise<void>;
}

/**
 * Which exporters the environment asks for, as the OpenTelemetry specification reads it:
 * OTEL_TRACES_EXPORTER (otlp, console, none; comma-separated), or otlp when only an OTLP endpoint
 * is set. Nothing set, or OTEL_SDK_DISABLED=true: none (tracing off).
 */
export function requestedExporters(env: NodeJS.ProcessEnv): string[] {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return [];
  const named = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (named.length) return named.includes('none') ? [] : [...new Set(named)];
  return env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? ['otlp'] : [];
}

/**
 * Starts the SDK when the environment asks for traces; null (nothing loaded) otherwise. An
 * exporter it cannot make is refused at start (a typo must not silently turn tracing off).
 */
export async function startTracing(env: NodeJS.ProcessEnv, version: string, warn: (message: string) => void = () => {}): Promise<Tracing | null> {
  const exporters = requestedExporters(env);
  const unknown = exporters.filter((e) => e !== 'otlp' && e !== 'console');
  if (unknown.length) throw new Error(`OTEL_TRACES_EXPORTER: ${unknown.join(', ')} is not supported (use otlp, console or none).`);
  if (!exporters.length) return null;
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL;
  if (exporters.includes('otlp') && protocol && !['http/json', 'http/protobuf'].includes(protocol.trim()))
    warn(`OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not supported; traces are sent as http/protobuf (send them to the collector's HTTP port, 4318).`);
  sdkLoaded = true;
  const { startSdk } = await import('./tracing-sdk.ts');
  return startSdk(env, exporters, version);
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's span and the context the handler runs in (traceRequests). */
    traceContext: Context | null;
  }
}

/**
 * A server span per request, named "<METHOD> <route pattern>" (never the URL: one-click action
 * tokens are path parameters), continuing the caller's W3C traceparent; the handler runs inside
 * it, so the store calls it makes are its children. Routes `skip` names are not traced (probes).
 */
export function traceRequests(app: FastifyInstance, skip: string[] = []): void {
  app.decorateRequest('traceContext', null);
  const spans = new WeakMap<FastifyRequest, Span>();
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    route.handler = function (this: FastifyInstance, req, reply) {
      return req.traceContext ? context.with(req.traceContext, () => handler.call(this, req, reply)) : handler.call(this, req, reply);
    };
  });
  app.addHook('onRequest', async (req) => {
    const route = req.routeOptions.url;
    if (!route || skip.includes(route)) return;
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan(
      `${req.method} ${route}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method, 'http.route': route, 'url.scheme': req.protocol, 'client.address': req.ip } },
      parent,
    );
    spans.set(req, span);
    req.traceContext = trace.setSpan(parent, span);
  });
  const end = (req: FastifyRequest, status: number | null) => {
    const span = spans.get(req);
    if (!span) return;
    spans.delete(req);
    if (status !== null) span.setAttribute('http.response.status_code', status);
    if (status === null || status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  };
  app.addHook('onResponse', async (req, reply) => end(req, reply.statusCode));
  app.addHook('onRequestAbort', async (req) => end(req, null));
}

/** Runs fn inside a span that ends with it (error status and the exception recorded when it throws). */
export async function inSpan<T>(name: string, attributes: Record<string, string | number | boolean>, fn: (span: Span) => Promise<T>, kind = SpanKind.INTERNAL): Promise<T> {
  return tracer.startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * The store with a client span around each call made while a span is active (a request, a job):
 * store.<method>. Calls outside any trace (the runner's polling) make none.
 */
export function tracedStore<S extends object>(store: S, system: string): S {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return function (this: unknown, ...args: unknown[]) {
        if (!trace.getSpan(context.active())) return Reflect.apply(value, target, args);
        const span = tracer.startSpan(`store.${prop}`, { kind: SpanKind.CLIENT, attributes: { 'db.system.name': system, 'db.operation.name': prop } });
        const ctx = trace.setSpan(context.active(), span);
        const end = (err?: unknown) => {
          if (err !== undefined) {
            span.recordException(err as Error);
            span.setStatus({ code: SpanStatusCode.ERROR });
          }
          span.end();
        };
        try {
          const out = context.with(ctx, () => Reflect.apply(value, target, args));
          if (out instanceof Promise)
            return out.then(
              (v) => {
                end();
                return v;
              },
              (e) => {
                end(e);
                throw e;
              },
            );
          end();
          return out;
        } catch (e) {
          end(e);
          throw e;
        }
      };
    },
  });
}

export { context, propagation, SpanKind, SpanStatusCode, trace };
