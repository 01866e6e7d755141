import { create } from "@bufbuild/protobuf";
import type { JobError } from "../../gen/bioid/services/v1/bws_common_pb.js";
import {
  FaceEnrollmentResponse_EnrollmentAction as Action,
  type FaceEnrollmentRequest,
  type FaceEnrollmentResponse,
  FaceEnrollmentResponseSchema,
  FaceTemplateStatusSchema,
} from "../../gen/bioid/services/v1/face_recognition_pb.js";
import { getEncoder } from "../face/encoders.js";
import type { FacePool } from "../face/face-pool.js";
import { annotateMotion, type MotionOptions, type PixelMeasure } from "../face/motion.js";
import type { ImageAnalysis } from "../face/types.js";
import { retryOnConflict } from "../store/retry-on-conflict.js";
import type { Bcid, StoredTemplate, TemplateStore } from "../store/template-store.js";
import { addFaces, compactOf, type NewFace } from "../templates/template-builder.js";
import type { EnhancedTemplate, FeatureEntry } from "../templates/template-codec.js";
import type { TemplateVault } from "../templates/template-vault.js";
import type { CallContext } from "./call-context.js";
import { imageErrorsOf, imagePropertiesOf, jobError, noFeaturesError } from "./image-results.js";
import { requireImageCount } from "./request-validation.js";
import { bcidOf, templateStatus } from "./template-status.js";

export interface EnrollmentOptions {
  store: TemplateStore;
  vault: TemplateVault;
  faces: Pick<FacePool, "analyze">;
  /** Encoder of new templates; older templates are upgraded to it. */
  encoderVersion: number;
  /** Feature vectors kept per template; the oldest are dropped beyond it. */
  maxFeatureVectors: number;
  /** Images accepted per call. */
  maxImagesPerRequest: number;
  /**
   * Score in ]0,1] a face chosen among several on its photo must reach against the person's
   * other faces (the template's, and the call's single-face photos) to be added; see `screen`.
   */
  minScore: number;
  /** Motion liveness between consecutive images of one person. Default MOTION_DEFAULTS. */
  motion?: MotionOptions;
  /** Tracks pixels off the event loop's thread (parallax-thread.ts); undefined: on it. */
  pixelParallax?: PixelMeasure;
  /** Read-merge-write attempts when concurrent enrollments of one class collide. Default 50. */
  maxWriteAttempts?: number;
  now?: () => Date;
}

/** The outcome of one merge, before it is written. */
interface Plan {
  action: Action;
  template: EnhancedTemplate;
  errors: JobError[];
  /** Images whose face was added. */
  enrolled: number;
}

/** A face with features from one image of the call. */
interface Candidate extends NewFace {
  /** Index of its image in the call. */
  image: number;
  /** Faces on that image: above 1, this one was chosen as the one that dominates the photo. */
  facesOnImage: number;
}

/**
 * Enroll as specified: analyse the images, then create, update or upgrade the class's template
 * (read, merge, write with an expected version; on a concurrent write, read and merge again),
 * so that every acknowledged image is in the final template.
 */
export function createEnrollment(options: EnrollmentOptions) {
  const { store, vault, faces } = options;
  const maxAttempts = options.maxWriteAttempts ?? 50;
  const now = options.now ?? (() => new Date());
  const current = getEncoder(options.encoderVersion);

  /**
   * The candidates that may be added to a template holding `existing` vectors of the current
   * encoder. A face chosen among several on its photo is added only when it matches the person's
   * other faces (the template's vectors and the call's single-face photos) at `minScore`: the
   * dominance rule is measured, not infallible, and a stranger's face must never slip into a
   * template unnoticed. With nothing to compare it with, it is added; the image's
   * `SingleFaceOnImage` check says which face was used.
   */
  function screen(candidates: readonly Candidate[], existing: readonly Float32Array[]) {
    const references = [
      ...existing,
      ...candidates.filter((c) => c.facesOnImage === 1).map((c) => c.vector),
    ];
    const faces: NewFace[] = [];
    const errors: JobError[] = [];
    for (const c of candidates) {
      const best =
        c.facesOnImage === 1 || references.length === 0
          ? 1
          : Math.max(...references.map((r) => current.score(current.distance(c.vector, r))));
      if (best >= options.minScore) {
        faces.push(
          c.thumbnail ? { vector: c.vector, thumbnail: c.thumbnail } : { vector: c.vector },
        );
      } else {
        errors.push(
          jobError(
            "FaceDoesNotMatch",
            `images[${c.image}]: of the ${c.facesOnImage} faces on this photo, the one that dominates does not match the other faces of this class (best score ${best.toFixed(3)}, at least ${options.minScore} needed); it was not enrolled`,
          ),
        );
      }
    }
    return { faces, errors };
  }

  /** Re-encodes stored thumbnails with the current encoder (for upgrades). */
  async function reencode(template: EnhancedTemplate, signal: AbortSignal) {
    const analyses = await faces.analyze(
      template.thumbnails.map((t) => t.png),
      { signal, encoderVersion: current.version },
    );
    const features: FeatureEntry[] = [];
    analyses.forEach((a, i) => {
      const thumb = template.thumbnails[i];
      if (a.features && thumb)
        features.push({ enrolledAt: thumb.enrolledAt, vector: a.features.vector });
    });
    return { features, failed: analyses.length - features.length };
  }

  async function plan(
    bcid: Bcid,
    stored: StoredTemplate | undefined,
    candidates: Candidate[],
    analyses: ImageAnalysis[],
    enrolledAt: Date,
    signal: AbortSignal,
  ): Promise<Plan | { failed: JobError[] } | undefined> {
    // No usable face in a call that had images is a failure; a call without images is no-op.
    const nothingNew = (refused: JobError[] = []) =>
      refused.length > 0
        ? { failed: refused }
        : analyses.length > 0
          ? { failed: [noFeaturesError(analyses)] }
          : undefined;
    const merge = {
      encoderVersion: current.version,
      maxFeatureVectors: options.maxFeatureVectors,
      enrolledAt,
    };
    if (!stored) {
      const { faces: newFaces, errors } = screen(candidates, []);
      if (newFaces.length === 0) return nothingNew(errors);
      return {
        action: Action.NEW_TEMPLATE_CREATED,
        template: addFaces(undefined, newFaces, merge),
        errors,
        enrolled: newFaces.length,
      };
    }
    const existing = vault.openEnhanced(bcid, stored.enhanced);
    if (existing.encoderVersion === current.version) {
      const { faces: newFaces, errors } = screen(
        candidates,
        existing.features.map((f) => f.vector),
      );
      if (newFaces.length === 0) return nothingNew(errors);
      return {
        action: Action.TEMPLATE_UPDATED,
        template: addFaces(existing, newFaces, merge),
        errors,
        enrolled: newFaces.length,
      };
    }
    // An older encoder made this template: vectors of two versions never mix, so the stored
    // thumbnails are re-encoded and the template rebuilt, new faces included.
    if (existing.thumbnails.length === 0) {
      const error = jobError(
        "TemplateUpgradeNotPossible",
        `the template of class ${bcid.classId} was made by encoder ${existing.encoderVersion} and keeps no thumbnails to re-encode with encoder ${current.version}; it was left unchanged (delete it and enroll again)`,
      );
      return {
        failed: candidates.length === 0 ? [error, ...(nothingNew()?.failed ?? [])] : [error],
      };
    }
    const { features, failed } = await reencode(existing, signal);
    const { faces: newFaces, errors } = screen(
      candidates,
      features.map((f) => f.vector),
    );
    if (failed > 0) {
      errors.unshift(
        jobError(
          "ThumbnailNotReencoded",
          `${failed} stored thumbnail(s) gave no features with encoder ${current.version} and were dropped`,
        ),
      );
    }
    if (features.length + newFaces.length === 0) {
      return {
        failed: [
          jobError(
            "TemplateUpgradeNotPossible",
            `no stored thumbnail of class ${bcid.classId} gave features with encoder ${current.version}; the template was left unchanged`,
          ),
        ],
      };
    }
    const upgraded: EnhancedTemplate = {
      encoderVersion: current.version,
      features,
      thumbnails: existing.thumbnails,
    };
    return {
      action: Action.TEMPLATE_UPGRADED,
      template: addFaces(upgraded, newFaces, merge),
      errors,
      enrolled: newFaces.length,
    };
  }

  return async function enroll(
    req: FaceEnrollmentRequest,
    call: CallContext,
  ): Promise<FaceEnrollmentResponse> {
    const bcid = bcidOf(call.client, req.classId);
    requireImageCount(req.images.length, options.maxImagesPerRequest, { allowEmpty: true });
    // Read first: an unreachable database fails the call before any face analysis is spent.
    let stored = await store.get(bcid);
    const analyses =
      req.images.length === 0
        ? []
        : await faces.analyze(
            req.images.map((i) => i.image),
            {
              signal: call.signal,
              encoderVersion: current.version,
              thumbnails: call.client.storeThumbnails,
              // Two images or more: the answer's motion fields compare them.
              patches: req.images.length > 1,
            },
          );
    const candidates: Candidate[] = analyses.flatMap((a, image) =>
      a.features
        ? [
            {
              vector: a.features.vector,
              ...(a.thumbnail ? { thumbnail: a.thumbnail } : {}),
              image,
              facesOnImage: a.properties.faces.length,
            },
          ]
        : [],
    );
    // Consecutive images of one person: the motion between them (motion liveness).
    await annotateMotion(analyses, options.motion, options.pixelParallax, call.signal);
    const response = create(FaceEnrollmentResponseSchema, {
      imageProperties: analyses.map(imagePropertiesOf),
      errors: imageErrorsOf(analyses),
    });

    const tooOften = `class ${bcid.classId} is being enrolled concurrently too often; retry`;
    // Another call wrote this class meanwhile: read it again and merge again.
    return retryOnConflict(
      { attempts: maxAttempts, tooOften, signal: call.signal },
      async (attempt) => {
        if (attempt > 1) stored = await store.get(bcid);
        // One time for the template and the vectors and thumbnails this attempt adds.
        const enrolledAt = now();
        const outcome = await plan(bcid, stored, candidates, analyses, enrolledAt, call.signal);
        if (!outcome || "failed" in outcome) {
          // Nothing to do (empty call, current template) or nothing usable: nothing is written.
          response.performedAction = outcome ? Action.ENROLLMENT_FAILED : Action.NONE;
          response.errors.push(...(outcome?.failed ?? []));
          response.templateStatus = stored
            ? templateStatus(stored)
            : create(FaceTemplateStatusSchema, { classId: bcid.classId, available: false });
          return response;
        }
        const write = {
          bcid,
          encoderVersion: current.version,
          tags: stored?.tags ?? [],
          createdAt: stored?.createdAt ?? enrolledAt,
          enrolledAt,
          featureCount: outcome.template.features.length,
          thumbnailCount: outcome.template.thumbnails.length,
          compact: vault.sealCompact(
            bcid,
            compactOf(outcome.template, current.metric),
            call.client.encryptCompactTemplate,
          ),
          enhanced: vault.sealEnhanced(bcid, outcome.template),
        };
        const version = await store.put(write, stored?.version ?? 0);
        response.performedAction = outcome.action;
        response.enrolledImages = outcome.enrolled;
        response.errors.push(...outcome.errors);
        response.templateStatus = templateStatus({ ...write, version });
        return response;
      },
    );
  };
}
