import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type DeleteTemplateRequest,
  type DeleteTemplateResponse,
  DeleteTemplateResponseSchema,
  type FaceEnrollmentRequest,
  type FaceEnrollmentResponse,
  type FaceSearchRequest,
  type FaceSearchResponse,
  type FaceTemplateStatus,
  FaceTemplateStatus_ThumbnailSchema,
  type FaceTemplateStatusRequest,
  FaceTemplateStatusSchema,
  type FaceVerificationRequest,
  type FaceVerificationResponse,
  type SetTemplateTagsRequest,
  type SetTemplateTagsResponse,
  SetTemplateTagsResponseSchema,
} from "../../gen/bioid/services/v1/face_recognition_pb.js";
import type { CallContext } from "./call-context.js";
import { createEnrollment } from "./enrollment.js";
import { createMatching, type MatchingOptions } from "./matching.js";
import { requireTags } from "./request-validation.js";
import { bcidOf, noTemplate, templateStatus } from "./template-status.js";

export interface FaceRecognitionServiceOptions extends MatchingOptions {
  /** Feature vectors kept per template; the oldest are dropped beyond it. */
  maxFeatureVectors: number;
}

/** The six BWS FaceRecognition operations, independent of any transport. */
export interface FaceRecognitionService {
  enroll(req: FaceEnrollmentRequest, call: CallContext): Promise<FaceEnrollmentResponse>;
  verify(req: FaceVerificationRequest, call: CallContext): Promise<FaceVerificationResponse>;
  search(req: FaceSearchRequest, call: CallContext): Promise<FaceSearchResponse>;
  setTemplateTags(req: SetTemplateTagsRequest, call: CallContext): Promise<SetTemplateTagsResponse>;
  getTemplateStatus(req: FaceTemplateStatusRequest, call: CallContext): Promise<FaceTemplateStatus>;
  deleteTemplate(req: DeleteTemplateRequest, call: CallContext): Promise<DeleteTemplateResponse>;
}

/** Builds the service from its dependencies; see {@link FaceRecognitionService}. */
export function createFaceRecognitionService(
  options: FaceRecognitionServiceOptions,
): FaceRecognitionService {
  const { store, vault, limits } = options;
  const enroll = createEnrollment({
    store,
    vault,
    faces: options.faces,
    encoderVersion: options.encoderVersion,
    maxFeatureVectors: options.maxFeatureVectors,
    maxImagesPerRequest: limits.maxImagesPerRequest,
    minScore: options.minScore,
    ...(options.motion ? { motion: options.motion } : {}),
    ...(options.pixelParallax ? { pixelParallax: options.pixelParallax } : {}),
  });
  const matching = createMatching(options);

  return {
    enroll,
    verify: matching.verify,
    search: matching.search,

    async setTemplateTags(req, call) {
      const bcid = bcidOf(call.client, req.classId);
      const tags = requireTags(req.tags, limits);
      if (!(await store.setTags(bcid, tags))) throw noTemplate(bcid);
      return create(SetTemplateTagsResponseSchema);
    },

    async getTemplateStatus(req, call) {
      const bcid = bcidOf(call.client, req.classId);
      const stored = await store.get(bcid);
      if (!stored)
        return create(FaceTemplateStatusSchema, { classId: bcid.classId, available: false });
      const status = templateStatus(stored);
      if (req.downloadThumbnails) {
        status.thumbnails = vault.openEnhanced(bcid, stored.enhanced).thumbnails.map((t) =>
          create(FaceTemplateStatus_ThumbnailSchema, {
            enrolled: timestampFromDate(t.enrolledAt),
            image: t.png,
          }),
        );
      }
      return status;
    },

    async deleteTemplate(req, call) {
      const bcid = bcidOf(call.client, req.classId);
      if (!(await store.delete(bcid))) throw noTemplate(bcid);
      return create(DeleteTemplateResponseSchema);
    },
  };
}
