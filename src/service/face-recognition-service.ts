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
import type { ClientConfig } from "../auth/client-registry.js";
import { FacevaultError } from "../errors.js";
import type { Bcid, StoredTemplate, TemplateStore } from "../store/template-store.js";
import type { TemplateVault } from "../templates/template-vault.js";
import { requireClassId, requireTags, type TagLimits } from "./request-validation.js";

/** Who is calling and until when: the transport builds it from its own call context. */
export interface CallContext {
  client: ClientConfig;
  /** Aborts when the client cancels or the deadline passes; work stops at the next check. */
  signal: AbortSignal;
}

export interface FaceRecognitionServiceOptions {
  store: TemplateStore;
  vault: TemplateVault;
  limits: TagLimits;
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

/** The BCID of a class of the calling client: the client's storage and partition, never another's. */
export function bcidOf(client: ClientConfig, classId: bigint): Bcid {
  return { storage: client.storage, partition: client.partition, classId: requireClassId(classId) };
}

/** Builds the service from its dependencies; see {@link FaceRecognitionService}. */
export function createFaceRecognitionService(
  options: FaceRecognitionServiceOptions,
): FaceRecognitionService {
  const { store, vault, limits } = options;

  function notImplemented(): never {
    throw new FacevaultError("unimplemented", "not implemented yet");
  }

  return {
    enroll: async () => notImplemented(),
    verify: async () => notImplemented(),
    search: async () => notImplemented(),

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

/** NOT_FOUND for a class without template, as SetTemplateTags, DeleteTemplate and Verify answer. */
export function noTemplate(bcid: Bcid): FacevaultError {
  return new FacevaultError("not_found", `no template is stored for class ${bcid.classId}`, {
    field: "classId",
  });
}

/** The status of a stored template, without thumbnails. */
export function templateStatus(stored: StoredTemplate): FaceTemplateStatus {
  return create(FaceTemplateStatusSchema, {
    classId: stored.bcid.classId,
    available: true,
    enrolled: timestampFromDate(stored.enrolledAt),
    tags: stored.tags,
    encoderVersion: stored.encoderVersion,
    featureVectors: stored.featureCount,
    thumbnailsStored: stored.thumbnailCount,
  });
}
