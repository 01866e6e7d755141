import { FacevaultError } from "../errors.js";
import type { DetectedFace } from "./detect.js";
import { DLIB_CROP_SIZE, type FaceEngine } from "./engine.js";
import type { RgbImage } from "./types.js";

/** How one encoder version computes its vector (the comparison side is in encoders.ts). */
export interface Embedder {
  readonly version: number;
  /** Whether the detect stage must run human's faceres for this encoder. */
  readonly needsDetectorDescriptor: boolean;
  /**
   * The feature vector of `face`. `dlibCrop` is the dlib-style crop ({@link DLIB_CROP_SIZE}
   * square) of the upright face.
   */
  embed(engine: FaceEngine, face: DetectedFace, dlibCrop: RgbImage): Promise<Float32Array>;
}

const EMBEDDERS: ReadonlyMap<number, Embedder> = new Map<number, Embedder>([
  [
    1,
    {
      version: 1,
      // faceres runs inside human's detect on its own upright face crop.
      needsDetectorDescriptor: true,
      embed: async (_engine, face) => {
        if (!face.descriptor) throw new FacevaultError("internal", "faceres descriptor missing");
        return face.descriptor;
      },
    },
  ],
  [
    2,
    {
      version: 2,
      needsDetectorDescriptor: false,
      embed: (engine, _face, dlibCrop) => engine.describeDlib(dlibCrop),
    },
  ],
]);

/** The embedder of an encoder version; throws FacevaultError('invalid_argument') if unknown. */
export function getEmbedder(version: number): Embedder {
  const embedder = EMBEDDERS.get(version);
  if (!embedder) {
    throw new FacevaultError("invalid_argument", `encoder version ${version} cannot be computed`);
  }
  return embedder;
}
