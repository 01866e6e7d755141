/**
 * Spans of facevault's own work, on the OpenTelemetry API only: without a started SDK (the
 * default) the tracer is a no-op. The SDK itself lives in tracing-sdk.ts, loaded only when
 * tracing is configured.
 */
import {
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import type { FacePool } from "../face/face-pool.js";
import type { StageTimings } from "../face/pipeline.js";

/** The gRPC codes a server counts as its own failure (OpenTelemetry's RPC conventions). */
const serverFaults = new Set([2, 4, 12, 13, 14, 15]);

/** Ends a call span with its gRPC code (and an error status for the server's faults). */
export function endCallSpan(span: Span, code: number, message?: string): void {
  span.setAttribute("rpc.grpc.status_code", code);
  if (serverFaults.has(code)) {
    span.setStatus({ code: SpanStatusCode.ERROR, ...(message ? { message } : {}) });
  }
  span.end();
}

/** Starts the server span of one RPC, as the active span for what the call does. */
export function startCallSpan<T>(
  tracer: Tracer,
  call: { service: string; method: string; protocol: string; jobId: string },
  run: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(
    `${call.service}/${call.method}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        "rpc.system": call.protocol === "connect" ? "connect_rpc" : "grpc",
        "rpc.service": call.service,
        "rpc.method": call.method,
        "facevault.protocol": call.protocol,
        "facevault.job_id": call.jobId,
      },
    },
    run,
  );
}

/** The pipeline's stages in the order they run, for laying their spans out in time. */
const stageOrder: (keyof StageTimings)[] = [
  "decode",
  "detect",
  "align",
  "quality",
  "embed",
  "thumbnail",
];

/**
 * The face pool with a span per `analyze` call and, under it, a span per image with one child
 * span per pipeline stage. The stages ran in a worker thread; their spans are laid out from the
 * timings the worker measured, ending when the image's result arrived.
 */
export function tracedFacePool(pool: FacePool, tracer: Tracer): FacePool {
  return {
    ...pool,
    analyze(images, options = {}) {
      return tracer.startActiveSpan(
        "face.analyze",
        { attributes: { "facevault.images": images.length } },
        async (span) => {
          const parent = context.active();
          try {
            return await pool.analyze(images, {
              ...options,
              onTimings(index, timings) {
                options.onTimings?.(index, timings);
                const end = Date.now();
                const total = stageOrder.reduce((sum, stage) => sum + timings[stage], 0);
                const image = tracer.startSpan(
                  "face.image",
                  { startTime: end - total, attributes: { "facevault.image_index": index } },
                  parent,
                );
                const inImage = trace.setSpan(parent, image);
                let at = end - total;
                for (const stage of stageOrder) {
                  if (timings[stage] <= 0) continue;
                  tracer
                    .startSpan(`face.${stage}`, { startTime: at }, inImage)
                    .end(at + timings[stage]);
                  at += timings[stage];
                }
                image.end(end);
              },
            });
          } catch (err) {
            span.setStatus({ code: SpanStatusCode.ERROR });
            throw err;
          } finally {
            span.end();
          }
        },
      );
    },
  };
}
