import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { NodeSDK } from "@opentelemetry/sdk-node";

export interface TracingOptions {
  /**
   * OTLP/HTTP (protobuf) base URL from the config file, e.g. http://collector:4318. Without it
   * the SDK follows the standard OTEL_* environment variables (endpoint, protocol, headers).
   */
  endpoint?: string;
  /** Default "facevault" (OTEL_SERVICE_NAME overrides it). */
  serviceName?: string;
}

/**
 * Starts the OpenTelemetry Node SDK: spans exported over OTLP, with the HTTP and PostgreSQL
 * instrumentations. Call it before the app's modules (pg among them) are imported, after the
 * ESM loader hook is registered (main.ts does both). Returns the SDK to shut down on exit.
 */
export function startTracing(options: TracingOptions): NodeSDK {
  const sdk = new NodeSDK({
    serviceName: options.serviceName ?? "facevault",
    ...(options.endpoint
      ? {
          traceExporter: new OTLPTraceExporter({
            url: `${options.endpoint.replace(/\/$/, "")}/v1/traces`,
          }),
        }
      : {}),
    // Only traces: metrics are Prometheus's (GET /metrics), logs are pino's.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      // Probes and scrapes are not worth a trace.
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => /^\/(livez|readyz|metrics)\b/.test(req.url ?? ""),
      }),
      new PgInstrumentation(),
    ],
  });
  sdk.start();
  return sdk;
}
