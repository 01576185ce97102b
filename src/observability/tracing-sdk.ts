import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type Sampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';

/*
 * The OpenTelemetry SDK, loaded by tracing.ts with import() only when the OTEL_* variables ask
 * for traces: a server without them never loads this file nor the SDK (start-up is measured).
 */

export interface TracingSdk {
  exporters: string[];
  shutdown(): Promise<void>;
}

export async function startSdk(env: NodeJS.ProcessEnv, exporters: string[], version: string): Promise<TracingSdk> {
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim();
  const made: SpanExporter[] = [];
  for (const name of exporters) {
    if (name === 'console') made.push(new ConsoleSpanExporter());
    else if (protocol === 'http/json') made.push(new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter());
    // grpc is not bundled: protobuf over HTTP is what collectors take on 4318.
    else made.push(new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter());
  }
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (envDetector) win over these defaults.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': 'countersign', 'service.version': version }))
    .merge(detectResources({ detectors: [envDetector] }));
  const batch = {
    scheduledDelayMillis: number(env.OTEL_BSP_SCHEDULE_DELAY),
    exportTimeoutMillis: number(env.OTEL_BSP_EXPORT_TIMEOUT),
    maxQueueSize: number(env.OTEL_BSP_MAX_QUEUE_SIZE),
    maxExportBatchSize: number(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE),
  };
  const provider = new TracerProvider({ resource, sampler: sampler(env), spanProcessors: made.map((exporter) => new BatchSpanProcessor({ exporter, ...batch })) });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    exporters,
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

const number = (v: string | undefined): number | undefined => (v && /^\d+$/.test(v.trim()) ? Number(v) : undefined);

/** OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, as the specification names them (default parentbased_always_on). */
function sampler(env: NodeJS.ProcessEnv): Sampler {
  const arg = Number.parseFloat(env.OTEL_TRACES_SAMPLER_ARG ?? '');
  const ratio = Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
  switch ((env.OTEL_TRACES_SAMPLER ?? '').trim().toLowerCase()) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}
