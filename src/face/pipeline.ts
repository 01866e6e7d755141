import { dlibFrame, frameToAffine, insideMask, moveFrame, warpAffine } from "./align.js";
import { type DecodedImage, type DecodeOptions, decodeImage, ImageError } from "./decode.js";
import { type DetectedFace, type DetectOptions, detectFaces } from "./detect.js";
import { getEncoder } from "./encoders.js";
import { DLIB_CROP_SIZE, type FaceEngine, turnedSize } from "./engine.js";
import type { EngineTurn } from "./engine-turn.js";
import { cutFacePatch } from "./face-patch.js";
import { measurePixels, shareInside } from "./image-measures.js";
import { textureLivenessScore } from "./liveness.js";
import { choosePrimaryFace, type PrimaryFaceOptions } from "./primary-face.js";
import { assessQuality, type QualityOptions, qualityScore } from "./quality.js";
import { findUprightFaces, type RotationOptions, unturnPoint } from "./rotation.js";
import { encodePng, renderThumbnail } from "./thumbnail.js";
import type { Box, FaceGeometry, FaceResult, ImageAnalysis, Point, RgbImage } from "./types.js";

/** Points of the face mesh proper; human appends 10 iris points, which follow the gaze. */
const MESH_POINTS = 468;

/** Every setting of the pipeline, defaults filled (see face-options.ts). */
export interface PipelineOptions {
  decode: Required<DecodeOptions>;
  detect: DetectOptions;
  rotation: RotationOptions;
  primaryFace: PrimaryFaceOptions;
  quality: QualityOptions;
}

/** What one call asks for. */
export interface AnalyzeRequest {
  /** Encoder version of the feature vector. */
  encoderVersion: number;
  /** Whether to render a PNG thumbnail of the face used for features. */
  thumbnails: boolean;
  /** Whether to cut the grey face patch active liveness tracks (`geometry.patch`). */
  patches: boolean;
}

/**
 * Milliseconds spent per stage for one image. Waiting for the engine's turn counts in no stage.
 * In the face pool, decode and the thumbnail's PNG run on the pool's thread (sharp's threads),
 * the rest in a worker.
 */
export interface StageTimings {
  decode: number;
  /** Detection, including the rotation stage's probes and re-detections. */
  detect: number;
  align: number;
  quality: number;
  embed: number;
  thumbnail: number;
}

/** The analysis of one image plus what the benchmark and calibration read. */
export interface PipelineResult {
  analysis: ImageAnalysis;
  timings: StageTimings;
  /** Raw measures behind the checks, for calibration; never sent to clients. */
  measures?: {
    eyeDistance: number;
    pose: DetectedFace["pose"];
    visible: number;
    sharpness: number;
    brightness: number;
    clipped: number;
  };
}

/** The models' part of an analysis: the thumbnail comes as pixels, not yet encoded as PNG. */
export interface ModelResult extends PipelineResult {
  /** Pixels of the thumbnail asked for, to be encoded by {@link encodeThumbnail}. */
  thumbnailPixels?: RgbImage;
}

/** What the decode stage gives: pixels to analyse, or the analysis of an unusable image. */
export type DecodeOutcome =
  | { decoded: DecodedImage; ms: number }
  | { unusable: PipelineResult; decoded?: undefined };

const noTimings = (): StageTimings => ({
  decode: 0,
  detect: 0,
  align: 0,
  quality: 0,
  embed: 0,
  thumbnail: 0,
});

/**
 * Stage 1, decode: bytes to RGB at analysis size, EXIF orientation applied. Runs on sharp's
 * threads; `ms` is its wall time. An undecodable or too large image gives the analysis that
 * says so; anything else thrown is a fault, not the image's.
 */
export async function decodeStage(
  bytes: Uint8Array,
  options: Required<DecodeOptions>,
): Promise<DecodeOutcome> {
  const started = performance.now();
  try {
    const decoded = await decodeImage(bytes, options);
    return { decoded, ms: performance.now() - started };
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
    return { unusable: { analysis: unusable(err), timings: noTimings() } };
  }
}

/**
 * The last stage: encodes the thumbnail's pixels as PNG into `analysis.thumbnail` (on sharp's
 * threads) and adds its time to `timings.thumbnail` (ms).
 */
export async function encodeThumbnail(result: ModelResult): Promise<PipelineResult> {
  const { thumbnailPixels, ...done } = result;
  if (thumbnailPixels) {
    const started = performance.now();
    done.analysis.thumbnail = await encodePng(thumbnailPixels);
    done.timings.thumbnail += performance.now() - started;
  }
  return done;
}

/**
 * Bytes to analysis, stage by stage:
 * decode → detect → rotation → primary face → eyes → align → quality → liveness → embed →
 * thumbnail. Align precedes quality because sharpness and exposure are measured on the crop the
 * encoder sees. Per-image problems (undecodable, too large) come back as `analysis.error`; anything
 * thrown is a fault of the engine, not of the image. For one caller on one thread; the face pool
 * runs {@link decodeStage} and {@link encodeThumbnail} on its own thread instead.
 */
export async function analyzeImage(
  engine: FaceEngine,
  bytes: Uint8Array,
  request: AnalyzeRequest,
  options: PipelineOptions,
): Promise<PipelineResult> {
  const outcome = await decodeStage(bytes, options.decode);
  if (outcome.decoded === undefined) return outcome.unusable;
  const result = await analyzeDecoded(engine, outcome.decoded, request, options);
  result.timings.decode = outcome.ms;
  return encodeThumbnail(result);
}

/**
 * Stages 2 to 10 of {@link analyzeImage} on decoded pixels; the thumbnail, when asked for, comes
 * as pixels (`thumbnailPixels`). `engineTurn` orders the models of images that share the engine.
 */
export async function analyzeDecoded(
  engine: FaceEngine,
  decoded: DecodedImage,
  request: AnalyzeRequest,
  options: PipelineOptions,
  engineTurn: EngineTurn = freeTurn,
): Promise<ModelResult> {
  const timings = noTimings();
  let mark = performance.now();
  const lap = (stage: keyof StageTimings): void => {
    const now = performance.now();
    timings[stage] += now - mark;
    mark = now;
  };
  const encoder = getEncoder(request.encoderVersion);

  // The engine runs one image's models at a time.
  const release = await engineTurn();
  mark = performance.now(); // waiting for the engine is no stage's time
  try {
    // 2. detect and 3. rotation: faces of the upright image
    const upright = await findUprightFaces(
      engine,
      decoded.image,
      (image) => detectFaces(engine, image, encoder.needsDetectorDescriptor, options.detect),
      options.rotation,
    );
    const { rotated } = upright;
    lap("detect");

    // 4. primary face: the one the photo is about, first; used only if it clearly dominates
    const { width, height } = decoded.image;
    const uprightSize = turnedSize(decoded.image, rotated);
    const choice = choosePrimaryFace(
      upright.faces,
      uprightSize.width,
      uprightSize.height,
      options.primaryFace,
    );
    const { faces } = choice;
    const primary = faces[0];

    // 5. eyes: detector pixels → the pixels of the decoded image (crops) and of the input (report)
    const toSource = (p: Point): Point => unturnPoint(p, rotated, width, height);
    const toInput = (p: Point): Point => ({ x: p.x / decoded.scale, y: p.y / decoded.scale });

    // 6. align: the primary face's dlib-style crop, upright, read from the decoded pixels
    const frame = primary
      ? moveFrame(
          dlibFrame(primary.landmarks.alignment, false),
          toSource,
          (-rotated * Math.PI) / 180,
        )
      : undefined;
    const cropMap = frame ? frameToAffine(frame, DLIB_CROP_SIZE) : undefined;
    const crop = cropMap
      ? warpAffine(decoded.image, cropMap, DLIB_CROP_SIZE, DLIB_CROP_SIZE)
      : undefined;
    lap("align");

    // 7. quality: sharpness and exposure over the crop's pixels that come from the image
    const pixels =
      crop && cropMap
        ? measurePixels(crop, insideMask(cropMap, DLIB_CROP_SIZE, DLIB_CROP_SIZE, width, height))
        : undefined;
    const visible = primary ? shareInside(primary.mesh, uprightSize.width, uprightSize.height) : 0;
    const verdict = assessQuality(
      {
        faces,
        primary: {
          runnerUpShare: choice.runnerUpShare,
          dominant: choice.dominant,
          maxRunnerUpShare: options.primaryFace.maxRunnerUpShare,
        },
        visible,
        pixels,
        inputWidth: decoded.inputWidth,
        inputHeight: decoded.inputHeight,
        analysisWidth: width,
        analysisHeight: height,
        scale: decoded.scale,
      },
      options.quality,
    );
    lap("quality");

    // 8. liveness, reported per face with its eyes
    const results: FaceResult[] = faces.map((f) => ({
      leftEye: toInput(f.landmarks.leftEye),
      rightEye: toInput(f.landmarks.rightEye),
      textureLivenessScore: textureLivenessScore(f.real, f.live),
      box: scaleBox(f.box, 1 / decoded.scale),
      confidence: f.confidence,
    }));

    // 9. embed: only a suitable face that dominates the image gives features
    const analysis: ImageAnalysis = {
      properties: { rotated, faces: results, qualityScore: 0, qualityAssessments: verdict.checks },
    };
    if (primary) {
      analysis.geometry = faceGeometry(primary, decoded.scale);
      if (request.patches) {
        analysis.geometry.patch = cutFacePatch(
          decoded.image,
          primary.mesh.slice(0, MESH_POINTS),
          primary.landmarks,
          toSource,
          rotated,
        );
      }
    }
    if (verdict.suitable && primary && crop) {
      const vector = await encoder.embed(engine, {
        face: primary,
        source: decoded.image,
        toSource,
        dlibCrop: crop,
      });
      analysis.features = { encoderVersion: encoder.version, vector };
    }
    verdict.checks.push({
      check: "FaceFeaturesAvailable",
      score: analysis.features ? 1 : 0,
      message: analysis.features
        ? `encoder ${encoder.version} features extracted`
        : "no features: the image needs one suitable face that clearly dominates it",
    });
    analysis.properties.qualityScore = qualityScore(verdict.checks);
    lap("embed");

    // 10. thumbnail of the face the features came from (its PNG: encodeThumbnail)
    const result: ModelResult = { analysis, timings };
    if (analysis.features && request.thumbnails && frame) {
      result.thumbnailPixels = renderThumbnail(decoded.image, frame);
    }
    lap("thumbnail");

    if (primary) {
      result.measures = {
        eyeDistance: primary.eyeDistance,
        pose: primary.pose,
        visible,
        sharpness: pixels?.sharpness ?? 0,
        brightness: pixels?.brightness ?? 0,
        clipped: pixels ? pixels.dark + pixels.bright : 0,
      };
    }
    return result;
  } finally {
    release();
  }
}

/** For a caller that runs one image at a time: the engine is always free. */
const freeTurn: EngineTurn = () => Promise.resolve(() => {});

/** The primary face's mesh (468 points, without the iris), pose and scale in input pixels. */
function faceGeometry(face: DetectedFace, scale: number): FaceGeometry {
  const points = face.mesh.slice(0, MESH_POINTS);
  const mesh = new Float32Array(points.length * 2);
  points.forEach((p, i) => {
    mesh[2 * i] = p.x / scale;
    mesh[2 * i + 1] = p.y / scale;
  });
  return { mesh, pose: { ...face.pose }, eyeDistance: face.eyeDistance / scale };
}

function unusable(err: ImageError): ImageAnalysis {
  return {
    properties: {
      rotated: 0,
      faces: [],
      qualityScore: 0,
      qualityAssessments: ["FaceFound", "SingleFaceOnImage", "FaceFeaturesAvailable"].map(
        (check) => ({ check, score: 0, message: `image not usable: ${err.message}` }),
      ),
    },
    error: { code: err.code, message: err.message },
  };
}

function scaleBox(b: Box, k: number): Box {
  return { x: b.x * k, y: b.y * k, width: b.width * k, height: b.height * k };
}
