import { create } from "@bufbuild/protobuf";
import {
  FaceSchema,
  type ImageProperties,
  ImagePropertiesSchema,
  type JobError,
  JobErrorSchema,
  PointDSchema,
  QualityAssessmentSchema,
} from "../../gen/bioid/services/v1/bws_common_pb.js";
import type { ImageAnalysis } from "../face/types.js";

/** The contract's ImageProperties of one analysed image. */
export function imagePropertiesOf(analysis: ImageAnalysis): ImageProperties {
  const p = analysis.properties;
  return create(ImagePropertiesSchema, {
    rotated: p.rotated,
    faces: p.faces.map((f) =>
      create(FaceSchema, {
        leftEye: create(PointDSchema, f.leftEye),
        rightEye: create(PointDSchema, f.rightEye),
        textureLivenessScore: f.textureLivenessScore,
        motionLivenessScore: f.motionLivenessScore ?? 0,
        movementDirection: f.movementDirection ?? 0,
      }),
    ),
    qualityScore: p.qualityScore,
    qualityAssessments: p.qualityAssessments.map((q) => create(QualityAssessmentSchema, q)),
    frameNumber: 0,
  });
}

/**
 * Errors of images that could not be analysed at all, each naming its image: `images[i]` (or
 * `field[i]`), or `image` for the single image of Verify.
 */
export function imageErrorsOf(
  analyses: readonly ImageAnalysis[],
  single = false,
  field = "images",
): JobError[] {
  return analyses.flatMap((a, i) =>
    a.error
      ? [jobError(a.error.code, `${single ? "image" : `${field}[${i}]`}: ${a.error.message}`)]
      : [],
  );
}

/** A JobError of the response's `errors` list. */
export function jobError(errorCode: string, message: string): JobError {
  return create(JobErrorSchema, { errorCode, message });
}

/**
 * Whether the image shows one face the service can use: the only face, or one that clearly
 * dominates the others (its `SingleFaceOnImage` check scores above 0).
 */
function hasPrimaryFace(analysis: ImageAnalysis): boolean {
  return (
    !analysis.error &&
    analysis.properties.qualityAssessments.some(
      (q) => q.check === "SingleFaceOnImage" && q.score > 0,
    )
  );
}

/** Why none of the images gave features, as the Enroll specification names it. */
export function noFeaturesError(analyses: readonly ImageAnalysis[]): JobError {
  return analyses.some(hasPrimaryFace)
    ? jobError(
        "NoFeatureVectors",
        "no feature vector could be extracted from any image; see the quality assessments (FaceFeaturesAvailable, SuitableFace) of each image",
      )
    : jobError(
        "NoSuitableFaceImage",
        "no image shows one face clearly: none, or several without one that dominates; see the quality assessments (FaceFound, SingleFaceOnImage) of each image",
      );
}

/** Why one image cannot serve as a probe, or undefined when it can. */
export function probeProblem(analysis: ImageAnalysis): string | undefined {
  if (analysis.error) return analysis.error.message;
  if (analysis.features) return undefined;
  const faces = analysis.properties.faces.length;
  if (faces === 0) return "shows no face";
  if (!hasPrimaryFace(analysis)) {
    return `shows ${faces} faces; exactly one is needed, or one that clearly dominates the others, and none does`;
  }
  const failed = analysis.properties.qualityAssessments.find(
    (q) => q.check === "SuitableFace" && q.score < 0.5,
  );
  return `no features could be extracted${failed ? ` (${failed.message})` : ""}`;
}
