import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { FaceRecognition } from "../../gen/bioid/services/v1/face_recognition_pb.js";
import {
  Health,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "../../gen/grpc/health/v1/health_pb.js";

/**
 * Registers grpc.health.v1.Health/Check: SERVING once `isReady()` (models warmed up, store
 * open), NOT_SERVING before and while shutting down. Watch is not offered (UNIMPLEMENTED).
 */
export function registerHealth(router: ConnectRouter, isReady: () => boolean): void {
  const known = new Set(["", FaceRecognition.typeName, Health.typeName]);
  router.service(Health, {
    check(req) {
      if (!known.has(req.service)) {
        throw new ConnectError(`unknown service '${req.service}'`, Code.NotFound);
      }
      return create(HealthCheckResponseSchema, {
        status: isReady()
          ? HealthCheckResponse_ServingStatus.SERVING
          : HealthCheckResponse_ServingStatus.NOT_SERVING,
      });
    },
  });
}
