import sharp from "sharp";
import { type FaceFrame, frameToAffine, warpAffine } from "./align.js";
import type { RgbImage } from "./types.js";

/** Side of every thumbnail, pixels. */
export const THUMBNAIL_SIZE = 256;

/**
 * Side of the thumbnail relative to the dlib face square. 2.5 frames the face as LFW does
 * (the eye-to-mouth square about 40% of the side), where the detector found 7,696 of 7,701 faces:
 * room for any later encoder to detect and re-encode the face.
 */
export const THUMBNAIL_MARGIN = 2.5;

/**
 * The thumbnail's frame: concentric with the dlib face square, `THUMBNAIL_MARGIN` times its side,
 * turned like it (eyes level).
 */
export function thumbnailFrame(face: FaceFrame): FaceFrame {
  // Centre of the face square: `face.center` sits at anchorY of the side, the middle at 0.5.
  const down = (0.5 - face.anchorY) * face.size;
  const across = (0.5 - face.anchorX) * face.size;
  const cos = Math.cos(face.angle);
  const sin = Math.sin(face.angle);
  return {
    center: {
      x: face.center.x + cos * across - sin * down,
      y: face.center.y + sin * across + cos * down,
    },
    size: face.size * THUMBNAIL_MARGIN,
    angle: face.angle,
    anchorX: 0.5,
    anchorY: 0.5,
  };
}

/** Renders the upright thumbnail of `face` from `source` (RGB, `THUMBNAIL_SIZE` square). */
export function renderThumbnail(source: RgbImage, face: FaceFrame): RgbImage {
  return warpAffine(
    source,
    frameToAffine(thumbnailFrame(face), THUMBNAIL_SIZE),
    THUMBNAIL_SIZE,
    THUMBNAIL_SIZE,
  );
}

/** Encodes RGB pixels as PNG. */
export async function encodePng(image: RgbImage): Promise<Uint8Array> {
  const png = await sharp(image.data, {
    raw: { width: image.width, height: image.height, channels: 3 },
  })
    .png()
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
