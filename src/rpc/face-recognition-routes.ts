import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { FaceRecognition } from "../../gen/bioid/services/v1/face_recognition_pb.js";
import type { CallContext } from "../service/call-context.js";
import type { FaceRecognitionService } from "../service/face-recognition-service.js";
import { clientKey, jobElapsedMs, jobKey } from "./context-values.js";
import { deadlineSignal } from "./deadline-signal.js";

export interface CallOptions {
  /** Server-side deadline of one call in milliseconds, counted from the request's arrival. */
  requestTimeoutMs: number;
}

export type FaceRecognitionImplOptions = CallOptions;

/**
 * The service's view of a Connect call: the authenticated client and a signal that aborts when
 * the client goes or the deadline passes. A client deadline longer than `requestTimeoutMs` is
 * cut to it, never refused.
 */
export function callContextOf(options: CallOptions): (ctx: HandlerContext) => CallContext {
  return (ctx) => {
    const client = ctx.values.get(clientKey);
    // The call interceptor authenticates first; a missing client means it was bypassed.
    if (!client) throw new ConnectError("not authenticated", Code.Unauthenticated);
    const job = ctx.values.get(jobKey);
    const remainingMs = options.requestTimeoutMs - (job ? jobElapsedMs(job) : 0);
    return {
      client,
      signal: AbortSignal.any([ctx.signal, deadlineSignal(Math.ceil(remainingMs), ctx.signal)]),
    };
  };
}

/**
 * The six FaceRecognition RPCs as a Connect service implementation, all served by `service`.
 * The same object serves gRPC, Connect and gRPC-Web (through the router) and REST (through the
 * transcoder). A client deadline longer than `requestTimeoutMs` is cut to it, never refused:
 * the call's signal aborts at whichever comes first.
 */
export function faceRecognitionImpl(
  service: FaceRecognitionService,
  options: FaceRecognitionImplOptions,
): ServiceImpl<typeof FaceRecognition> {
  const call = callContextOf(options);
  return {
    enroll: (req, ctx) => service.enroll(req, call(ctx)),
    verify: (req, ctx) => service.verify(req, call(ctx)),
    search: (req, ctx) => service.search(req, call(ctx)),
    setTemplateTags: (req, ctx) => service.setTemplateTags(req, call(ctx)),
    getTemplateStatus: (req, ctx) => service.getTemplateStatus(req, call(ctx)),
    deleteTemplate: (req, ctx) => service.deleteTemplate(req, call(ctx)),
  };
}
