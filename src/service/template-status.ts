import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type FaceTemplateStatus,
  FaceTemplateStatusSchema,
} from "../../gen/bioid/services/v1/face_recognition_pb.js";
import type { ClientConfig } from "../auth/client-registry.js";
import { FacevaultError } from "../errors.js";
import type { Bcid, StoredTemplate } from "../store/template-store.js";
import { requireClassId } from "./request-validation.js";

/** The BCID of a class of the calling client: the client's storage and partition, never another's. */
export function bcidOf(client: ClientConfig, classId: bigint): Bcid {
  return { storage: client.storage, partition: client.partition, classId: requireClassId(classId) };
}

/** NOT_FOUND for a class without template, as SetTemplateTags, DeleteTemplate and Verify answer. */
export function noTemplate(bcid: Bcid): FacevaultError {
  return new FacevaultError("not_found", `no template is stored for class ${bcid.classId}`, {
    field: "classId",
  });
}

/** The status of a stored template, without thumbnails. */
export function templateStatus(
  stored: Omit<StoredTemplate, "compact" | "enhanced">,
): FaceTemplateStatus {
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
