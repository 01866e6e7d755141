import { create } from "@bufbuild/protobuf";
import {
  type FaceSearchRequest,
  type FaceSearchResponse,
  FaceSearchResponse_SearchResultSchema,
  FaceSearchResponse_TemplateMatchResultSchema,
  FaceSearchResponseSchema,
  type FaceVerificationRequest,
  type FaceVerificationResponse,
  FaceVerificationResponseSchema,
} from "../../gen/bioid/services/v1/face_recognition_pb.js";
import { FacevaultError, isFacevaultError } from "../errors.js";
import { getEncoder } from "../face/encoders.js";
import type { FacePool } from "../face/face-pool.js";
import { annotateMotion, type MotionOptions, type PixelMeasure } from "../face/motion.js";
import type { TemplateStore } from "../store/template-store.js";
import type { SearchIndexes } from "../templates/search-index.js";
import type { TemplateVault } from "../templates/template-vault.js";
import { type CallContext, untilCallEnds } from "./call-context.js";
import {
  imageErrorsOf,
  imagePropertiesOf,
  jobError,
  noFeaturesError,
  probeProblem,
} from "./image-results.js";
import { requireImageCount, requireTags, type TagLimits } from "./request-validation.js";
import { bcidOf, noTemplate } from "./template-status.js";

export interface MatchingOptions {
  store: TemplateStore;
  vault: TemplateVault;
  faces: Pick<FacePool, "analyze">;
  /** Indexes of the current encoder's compact templates. */
  searchIndexes: SearchIndexes;
  /** Encoder of new templates, the only one Search compares. */
  encoderVersion: number;
  /** Decision threshold on the score in ]0,1]: at or above it, a face matches. */
  minScore: number;
  limits: TagLimits & { maxImagesPerRequest: number; maxSearchResults: number };
  /** Motion liveness between consecutive images of one person. Default MOTION_DEFAULTS. */
  motion?: MotionOptions;
  /** Tracks pixels off the event loop's thread (parallax-thread.ts); undefined: on it. */
  pixelParallax?: PixelMeasure;
}

/** Matches returned per image with `topMatches`, whatever the threshold (the contract's 10). */
export const topMatchesCount = 10;

/** Verify (one image against one class) and Search (faces against a partition). */
export function createMatching(options: MatchingOptions) {
  const { store, vault, faces, minScore, limits } = options;
  const current = getEncoder(options.encoderVersion);

  async function verify(
    req: FaceVerificationRequest,
    call: CallContext,
  ): Promise<FaceVerificationResponse> {
    const bcid = bcidOf(call.client, req.classId);
    if (!req.image) {
      throw new FacevaultError("invalid_argument", "image: an image to verify is required", {
        field: "image",
      });
    }
    const stored = await store.get(bcid);
    if (!stored) throw noTemplate(bcid);
    // The probe is encoded like the template, so a template not yet upgraded still verifies.
    const encoder = getEncoder(stored.encoderVersion);
    const [analysis] = await faces.analyze([req.image.image], {
      signal: call.signal,
      encoderVersion: encoder.version,
    });
    if (!analysis) throw new FacevaultError("internal", "the image was not analysed");
    const response = create(FaceVerificationResponseSchema, {
      imageProperties: imagePropertiesOf(analysis),
      errors: imageErrorsOf([analysis], true),
    });
    if (!analysis.features) {
      if (!analysis.error) response.errors.push(noFeaturesError([analysis]));
      return response;
    }
    const compact = vault.openCompact(bcid, stored.compact);
    const score = encoder.score(encoder.distance(analysis.features.vector, compact.vector));
    response.score = score;
    response.verified = score >= minScore;
    return response;
  }

  async function search(req: FaceSearchRequest, call: CallContext): Promise<FaceSearchResponse> {
    requireImageCount(req.images.length, limits.maxImagesPerRequest, { allowEmpty: false });
    const tags = requireTags(req.tags, limits);
    const analyses = await faces.analyze(
      req.images.map((i) => i.image),
      // Two images or more: the answer's motion fields compare them.
      { signal: call.signal, encoderVersion: current.version, patches: req.images.length > 1 },
    );
    const problems = analyses.flatMap((a, i) => {
      const problem = probeProblem(a);
      return problem ? [`images[${i}] ${problem}`] : [];
    });
    if (problems.length > 0) {
      throw new FacevaultError(
        "invalid_argument",
        `every search image must show one usable face (the only one, or one that clearly dominates): ${problems.join("; ")}`,
        { field: "images" },
      );
    }
    const index = options.searchIndexes.partition(call.client.storage, call.client.partition);
    // A first load can take tens of seconds: the call's deadline is kept, the load goes on.
    await untilCallEnds(index.sync(), call.signal);
    const maxDistance = req.topMatches
      ? Number.POSITIVE_INFINITY
      : current.distanceForScore(minScore);
    const limit = req.topMatches ? topMatchesCount : limits.maxSearchResults;
    const result = [];
    let unauthentic = 0;
    for (const a of analyses) {
      // probeProblem() above guarantees features on every analysis.
      const probe = a.features?.vector ?? new Float32Array(current.dimension);
      let matches = await index.search({ probe, tags, maxDistance, limit });
      if (tags.length > 0) {
        const checked = await withAuthenticTags(call, matches, tags);
        unauthentic += checked.unauthentic;
        matches = checked.kept;
      }
      result.push(
        create(FaceSearchResponse_SearchResultSchema, {
          matches: matches.map((m) =>
            create(FaceSearchResponse_TemplateMatchResultSchema, {
              classId: m.classId,
              score: current.score(m.distance),
            }),
          ),
        }),
      );
    }
    // Consecutive images of one person: the motion between them (motion liveness).
    await annotateMotion(analyses, options.motion, options.pixelParallax, call.signal);
    // Never silently: classes another encoder made were not compared (until `reencode`).
    const skipped = index.notComparable;
    const errors = [];
    if (skipped > 0) {
      errors.push(
        jobError(
          "TemplatesNotCompared",
          `${skipped} template(s) of this partition were made by another encoder than ${current.version} and were not compared; they are compared again once re-encoded (facevault reencode) or enrolled again`,
        ),
      );
    }
    if (unauthentic > 0) {
      errors.push(
        jobError(
          "TemplateMetadataNotAuthentic",
          `${unauthentic} match(es) were left out: their stored tags failed authentication (changed in the database)`,
        ),
      );
    }
    return create(FaceSearchResponseSchema, {
      imageProperties: analyses.map(imagePropertiesOf),
      result,
      errors,
    });
  }

  /**
   * The matches of a tag-filtered search whose tags hold up: the index took them from the
   * database unchecked, so each match's metadata is read through the authenticated store (one
   * read per match, at most `maxSearchResults`) and kept only when it is authentic and carries
   * every asked tag (one changed or deleted since the index saw it is left out too, but not
   * counted as unauthentic).
   */
  async function withAuthenticTags<M extends { classId: bigint }>(
    call: CallContext,
    matches: readonly M[],
    tags: readonly string[],
  ): Promise<{ kept: M[]; unauthentic: number }> {
    const kept: M[] = [];
    let unauthentic = 0;
    for (const m of matches) {
      try {
        const stored = await store.get(bcidOf(call.client, m.classId));
        if (stored && tags.every((t) => stored.tags.includes(t))) kept.push(m);
      } catch (err) {
        if (!isFacevaultError(err, "data_loss")) throw err;
        unauthentic++;
      }
    }
    return { kept, unauthentic };
  }

  return { verify, search };
}
