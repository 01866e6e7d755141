import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { FaceRecognition } from "../../gen/bioid/services/v1/face_recognition_pb.js";
import type { CallContext } from "../service/call-context.js";
import type { FaceRecognitionService } from "../service/face-recognition-service.js";
import { clientKey } from "./context-values.js";

export interface FaceRecognitionRoutesOptions {
  /** Server-side deadline of one call, in milliseconds. */
  requestTimeoutMs: number;
}

/** Registers the six FaceRecognition RPCs on a Connect router, all served by `service`. */
export function registerFaceRecognition(
  router: ConnectRouter,
  service: FaceRecognitionService,
  options: FaceRecognitionRoutesOptions,
): void {
  const call = (ctx: HandlerContext): CallContext => {
    const client = ctx.values.get(clientKey);
    // The call interceptor authenticates first; a missing client means it was bypassed.
    if (!client) throw new ConnectError("not authenticated", Code.Unauthenticated);
    return {
      client,
      signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(options.requestTimeoutMs)]),
    };
  };
  router.service(FaceRecognition, {
    enroll: (req, ctx) => service.enroll(req, call(ctx)),
    verify: (req, ctx) => service.verify(req, call(ctx)),
    search: (req, ctx) => service.search(req, call(ctx)),
    setTemplateTags: (req, ctx) => service.setTemplateTags(req, call(ctx)),
    getTemplateStatus: (req, ctx) => service.getTemplateStatus(req, call(ctx)),
    deleteTemplate: (req, ctx) => service.deleteTemplate(req, call(ctx)),
  });
}
