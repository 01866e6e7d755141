import { create } from "@bufbuild/protobuf";
import {
  AccuracyLevel,
  type LivenessDetectionRequest,
  type LivenessDetectionResponse,
  LivenessDetectionResponseSchema,
  type PhotoVerifyRequest,
  type PhotoVerifyResponse,
  PhotoVerifyResponseSchema,
  type VideoLivenessDetectionRequest,
} from "../../gen/bioid/services/v1/bws_pb.js";
import { FacevaultError } from "../errors.js";
import { getEncoder } from "../face/encoders.js";
import type { FacePool } from "../face/face-pool.js";
import {
  assessLiveness,
  type LivenessOptions,
  type LivenessVerdict,
  type PassiveOptions,
} from "../face/liveness.js";
import {
  type Direction,
  type MotionOptions,
  measurePixelsWith,
  type PixelMeasure,
} from "../face/motion.js";
import {
  PHOTO_VERIFY_ENCODER,
  photoVerifyCompare,
  photoVerifyLevel,
} from "../face/photo-verify-levels.js";
import type { PixelParallax } from "../face/pixel-parallax.js";
import type { ImageAnalysis } from "../face/types.js";
import type { CallContext } from "./call-context.js";
import { imageErrorsOf, imagePropertiesOf, jobError, probeProblem } from "./image-results.js";
import { requireImageCount } from "./request-validation.js";

export interface WebServiceOptions {
  faces: Pick<FacePool, "analyze">;
  passive: PassiveOptions;
  motion: MotionOptions;
  /**
   * Turns a video into still frames (encoded images), at most `frames`; undefined when no video
   * decoder is available, and VideoLivenessDetection answers UNIMPLEMENTED.
   */
  videoFrames?: (video: Uint8Array, frames: number, signal: AbortSignal) => Promise<Uint8Array[]>;
  /** Frames sampled from a video. */
  maxVideoFrames: number;
  /**
   * Pixel parallax of two face patches measured off the event loop's thread (parallax-thread.ts);
   * undefined: measured on the calling thread.
   */
  pixelParallax?: PixelMeasure;
}

/** The BWS BioIDWebService operations, independent of any transport. */
export interface WebService {
  livenessDetection(
    req: LivenessDetectionRequest,
    call: CallContext,
  ): Promise<LivenessDetectionResponse>;
  videoLivenessDetection(
    req: VideoLivenessDetectionRequest,
    call: CallContext,
  ): Promise<LivenessDetectionResponse>;
  photoVerify(req: PhotoVerifyRequest, call: CallContext): Promise<PhotoVerifyResponse>;
}

const DIRECTIONS: readonly Direction[] = ["up", "down", "left", "right"];
const encoder = getEncoder(PHOTO_VERIFY_ENCODER);

/**
 * The direction the second image's tags ask for, if any.
 * @throws FacevaultError `invalid_argument` for several directions, or a direction on the only
 *   image.
 */
function challengeOf(req: LivenessDetectionRequest | PhotoVerifyRequest): Direction | undefined {
  const asked = (i: number): Direction[] =>
    (req.liveImages[i]?.tags ?? [])
      .map((t) => t.trim().toLowerCase())
      .filter((t): t is Direction => (DIRECTIONS as readonly string[]).includes(t));
  if (req.liveImages.length < 2) {
    if (asked(0).length > 0) {
      throw new FacevaultError(
        "invalid_argument",
        "liveImages[0]: a direction tag needs a second image, taken after the head turned; put the tag on liveImages[1]",
        { field: "liveImages[0].tags" },
      );
    }
    return undefined;
  }
  const directions = [...new Set(asked(1))];
  if (directions.length > 1) {
    throw new FacevaultError(
      "invalid_argument",
      `liveImages[1].tags: one direction at most, got ${directions.join(", ")}`,
      { field: "liveImages[1].tags" },
    );
  }
  return directions[0];
}

/** Builds the service from its dependencies; see {@link WebService}. */
export function createWebService(options: WebServiceOptions): WebService {
  const { faces } = options;
  const liveness: LivenessOptions = {
    passive: options.passive,
    motion: options.motion,
    samePersonMaxDistance: encoder.threshold,
    distance: encoder.distance,
  };

  /** The pair's pixel parallax from the thread, when active liveness will track pixels. */
  const pixelsOf = async (
    pair: readonly (ImageAnalysis | undefined)[],
    signal: AbortSignal,
  ): Promise<PixelParallax | undefined> => {
    if (!options.pixelParallax || pair.length !== 2) return undefined;
    const [a, b] = pair;
    return measurePixelsWith(
      options.pixelParallax,
      a?.geometry,
      b?.geometry,
      options.motion,
      signal,
    );
  };

  const livenessResponse = (
    analyses: readonly ImageAnalysis[],
    verdict: LivenessVerdict,
    field: string,
  ): LivenessDetectionResponse =>
    create(LivenessDetectionResponseSchema, {
      imageProperties: analyses.map((a, i) => {
        const properties = imagePropertiesOf(a);
        properties.frameNumber = i;
        return properties;
      }),
      errors: [
        ...imageErrorsOf(analyses, false, field),
        ...verdict.rejections.map((r) => jobError(r.code, r.message)),
      ],
      live: verdict.live,
      livenessScore: verdict.score,
    });

  async function livenessDetection(
    req: LivenessDetectionRequest,
    call: CallContext,
  ): Promise<LivenessDetectionResponse> {
    requireImageCount(req.liveImages.length, 2, { allowEmpty: false }, "liveImages");
    const challenge = challengeOf(req);
    const analyses = await faces.analyze(
      req.liveImages.map((i) => i.image),
      { signal: call.signal, encoderVersion: encoder.version, patches: true },
    );
    const pixels = await pixelsOf(analyses, call.signal);
    const verdict = assessLiveness(analyses, liveness, challenge, "liveImages", pixels);
    return livenessResponse(analyses, verdict, "liveImages");
  }

  async function videoLivenessDetection(
    req: VideoLivenessDetectionRequest,
    call: CallContext,
  ): Promise<LivenessDetectionResponse> {
    if (req.video.length === 0) {
      throw new FacevaultError("invalid_argument", "video: a video is required", {
        field: "video",
      });
    }
    if (!options.videoFrames) {
      throw new FacevaultError(
        "unimplemented",
        "VideoLivenessDetection: no video decoder is available in this build",
      );
    }
    const frames = await options.videoFrames(req.video, options.maxVideoFrames, call.signal);
    if (frames.length < 2) {
      throw new FacevaultError(
        "invalid_argument",
        `video: ${frames.length} frame(s) could be decoded; at least 2 are needed`,
        { field: "video" },
      );
    }
    const analyses = await faces.analyze(frames, {
      signal: call.signal,
      encoderVersion: encoder.version,
      patches: true,
    });
    // Active liveness between the first frame and each later one: a real head shows parallax in
    // its largest turn, so the pair with the highest motion score carries the decision (the
    // score, not the residual: pixel and mesh residuals have different bars).
    let best: LivenessVerdict | undefined;
    for (let k = 1; k < analyses.length; k++) {
      const pair = [analyses[0], analyses[k]] as ImageAnalysis[];
      const pixels = await pixelsOf(pair, call.signal);
      const verdict = assessLiveness(pair, liveness, undefined, "frames", pixels);
      if (!best || (verdict.motion?.score ?? 0) > (best.motion?.score ?? 0)) best = verdict;
    }
    return livenessResponse(analyses, best as LivenessVerdict, "frames");
  }

  async function photoVerify(
    req: PhotoVerifyRequest,
    call: CallContext,
  ): Promise<PhotoVerifyResponse> {
    requireImageCount(req.liveImages.length, 2, { allowEmpty: false }, "liveImages");
    if (req.photo.length === 0) {
      throw new FacevaultError("invalid_argument", "photo: an ID photo is required", {
        field: "photo",
      });
    }
    const challenge = challengeOf(req);
    const [photo, ...live] = await faces.analyze(
      [req.photo, ...req.liveImages.map((i) => i.image)],
      {
        signal: call.signal,
        encoderVersion: encoder.version,
        patches: true,
      },
    );
    if (!photo) throw new FacevaultError("internal", "the photo was not analysed");
    const response = create(PhotoVerifyResponseSchema, {
      photoProperties: imagePropertiesOf(photo),
      verificationLevel: AccuracyLevel.NOT_RECOGNIZED,
    });
    const photoProblem = probeProblem(photo);
    if (photoProblem)
      response.errors.push(jobError(photo.error?.code ?? "NoFaceFound", `photo: ${photoProblem}`));
    live.forEach((a, i) => {
      const problem = probeProblem(a);
      if (problem)
        response.errors.push(
          jobError(a.error?.code ?? "NoFaceFound", `liveImages[${i}]: ${problem}`),
        );
    });
    if (!req.disableLivenessDetection) {
      const pixels = await pixelsOf(live, call.signal);
      const verdict = assessLiveness(live, liveness, challenge, "liveImages", pixels);
      response.live = verdict.live;
      response.livenessScore = verdict.score;
      for (const r of verdict.rejections) {
        // A missing face is already reported above, by image.
        if (r.code !== "NoFaceFound" && r.code !== "MultipleFacesFound") {
          response.errors.push(jobError(r.code, r.message));
        }
      }
    }
    response.imageProperties = live.map(imagePropertiesOf);
    if (photo.features && live.every((a) => a.features)) {
      // The weakest of the live images decides: every one must show the photo's person.
      const compared = live.map((a) =>
        photoVerifyCompare(
          photo.features?.vector as Float32Array,
          a.features?.vector as Float32Array,
        ),
      );
      const worst = compared.reduce((w, c) => (c.distance > w.distance ? c : w));
      response.verificationScore = worst.score;
      response.verificationLevel = photoVerifyLevel(worst.distance) as AccuracyLevel;
    }
    return response;
  }

  return { livenessDetection, videoLivenessDetection, photoVerify };
}
