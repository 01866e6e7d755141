import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { FaceRecognition } from "../../gen/bioid/services/v1/face_recognition_pb.js";
import {
  Health,
  type HealthCheckResponse,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../gen/grpc/health/v1/health_pb.js";
import type { Readiness } from "../service/readiness.js";

/**
 * The health service names answered, and what each reports: `liveness` is SERVING while the
 * process runs; `readiness`, `""` (the server as a whole) and the FaceRecognition service are
 * SERVING only when the service can take calls (models warm, not shutting down). `liveness`
 * and `readiness` are the names the vendor's command-line client asks for.
 */
const healthNames: Record<string, "live" | "ready"> = {
  "": "ready",
  liveness: "live",
  readiness: "ready",
  [FaceRecognition.typeName]: "ready",
  [Health.typeName]: "live",
};

/**
 * grpc.health.v1.Health: `Check` answers at once (NOT_FOUND for an unknown name); `Watch` sends
 * the status at once and again on every change until the client leaves, SERVICE_UNKNOWN for an
 * unknown name (as the health protocol says). When `stopping` aborts, a watch sends the status
 * it then has (NOT_SERVING) and ends, so that watchers do not hold up a graceful stop.
 */
export function healthImpl(
  readiness: Readiness,
  stopping: AbortSignal,
): ServiceImpl<typeof Health> {
  const statusOf = (service: string): ServingStatus | undefined => {
    const kind = healthNames[service];
    if (kind === undefined) return undefined;
    return kind === "live" || readiness.isReady()
      ? ServingStatus.SERVING
      : ServingStatus.NOT_SERVING;
  };
  const answer = (status: ServingStatus): HealthCheckResponse =>
    create(HealthCheckResponseSchema, { status });

  return {
    check(req) {
      const status = statusOf(req.service);
      if (status === undefined) {
        throw new ConnectError(`unknown service '${req.service}'`, Code.NotFound);
      }
      return answer(status);
    },
    async *watch(req, ctx) {
      let last: ServingStatus | undefined;
      const wake = AbortSignal.any([ctx.signal, stopping]);
      while (!ctx.signal.aborted) {
        const status = statusOf(req.service) ?? ServingStatus.SERVICE_UNKNOWN;
        if (status !== last) yield answer(status);
        last = status;
        if (stopping.aborted) return;
        await readiness.changed(wake);
      }
    },
  };
}
