import type { ServiceImpl } from "@connectrpc/connect";
import type { BioIDWebService } from "../../gen/bioid/services/v1/bws_pb.js";
import type { WebService } from "../service/web-service.js";
import { type CallOptions, callContextOf } from "./face-recognition-routes.js";

/**
 * The three BioIDWebService RPCs as a Connect service implementation, served like FaceRecognition
 * (gRPC, Connect and gRPC-Web through the router, REST through the transcoder) with the same
 * authentication and deadline.
 */
export function webServiceImpl(
  service: WebService,
  options: CallOptions,
): ServiceImpl<typeof BioIDWebService> {
  const call = callContextOf(options);
  return {
    livenessDetection: (req, ctx) => service.livenessDetection(req, call(ctx)),
    videoLivenessDetection: (req, ctx) => service.videoLivenessDetection(req, call(ctx)),
    photoVerify: (req, ctx) => service.photoVerify(req, call(ctx)),
  };
}
