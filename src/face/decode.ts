import sharp, { type Metadata } from "sharp";
import type { ImageErrorCode, RgbImage } from "./types.js";

/** Limits of the decode stage. */
export interface DecodeOptions {
  /**
   * Largest accepted input, in pixels (width x height as the file's header states them). Checked
   * from the header before any pixel is decoded, and again by sharp's `limitInputPixels`, so a
   * decompression bomb never allocates its pixels. Default 50,000,000 (a 50 MP camera frame).
   */
  maxInputPixels?: number;
  /**
   * Images larger than this box are scaled down for analysis, orientation-agnostic: the long side
   * to at most `maxAnalysisLongSide`, the short side to at most `maxAnalysisShortSide` (pixels).
   * Defaults 1600 and 1200: the contract's 1200x1600.
   */
  maxAnalysisLongSide?: number;
  maxAnalysisShortSide?: number;
}

/** An image ready for analysis. */
export interface DecodedImage {
  /** RGB pixels at analysis size. */
  image: RgbImage;
  /** Width and height of the input after EXIF orientation, in pixels. */
  inputWidth: number;
  inputHeight: number;
  /** `image.width / inputWidth`: 1 when not scaled down. */
  scale: number;
  /** Detected container format, e.g. `jpeg`. */
  format: string;
}

/** Why an image could not be used; a per-image result, never a failed call. */
export class ImageError extends Error {
  override readonly name = "ImageError";
  constructor(
    readonly code: ImageErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Formats accepted; sharp also reads SVG, PDF and raw pixels, which are no photos. */
const ACCEPTED_FORMATS = new Set(["jpeg", "png", "webp", "gif", "tiff", "heif"]);
const FORMAT_LIST = "JPEG, PNG, WebP, GIF, TIFF, AVIF/HEIF";

/** Fills the defaults of {@link DecodeOptions}. */
export function decodeDefaults(options: DecodeOptions = {}): Required<DecodeOptions> {
  return {
    maxInputPixels: options.maxInputPixels ?? 50_000_000,
    maxAnalysisLongSide: options.maxAnalysisLongSide ?? 1600,
    maxAnalysisShortSide: options.maxAnalysisShortSide ?? 1200,
  };
}

/**
 * Decodes image bytes to RGB at analysis size, EXIF orientation applied first, transparency
 * flattened onto white, first frame only for animations. Throws {@link ImageError} for anything
 * that is not a usable photo; the messages never quote the bytes.
 */
export async function decodeImage(
  bytes: Uint8Array,
  options: Required<DecodeOptions>,
): Promise<DecodedImage> {
  if (bytes.length === 0) throw new ImageError("InvalidImage", "the image is empty (0 bytes)");
  let metadata: Metadata;
  try {
    // Only the header is read here; without lifting sharp's own pixel limit (268 MP) a larger
    // header would be reported as an unreadable image instead of ImageTooLarge below.
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw new ImageError(
      "InvalidImage",
      `the data is not an image in a supported format (${FORMAT_LIST})`,
    );
  }
  if (!ACCEPTED_FORMATS.has(metadata.format)) {
    throw new ImageError(
      "UnsupportedImageFormat",
      `${metadata.format} images are not supported; use ${FORMAT_LIST}`,
    );
  }
  const pixels = metadata.width * metadata.height;
  if (pixels > options.maxInputPixels) {
    throw new ImageError(
      "ImageTooLarge",
      `the image has ${metadata.width}x${metadata.height} pixels, more than the limit of ${options.maxInputPixels}`,
    );
  }
  const inputWidth = metadata.autoOrient.width;
  const inputHeight = metadata.autoOrient.height;
  const landscape = inputWidth >= inputHeight;
  const maxWidth = landscape ? options.maxAnalysisLongSide : options.maxAnalysisShortSide;
  const maxHeight = landscape ? options.maxAnalysisShortSide : options.maxAnalysisLongSide;
  try {
    const pipeline = sharp(bytes, {
      autoOrient: true,
      limitInputPixels: options.maxInputPixels,
      // 'error' also rejects truncated files; the default 'warning' would refuse the many camera
      // JPEGs that carry harmless extraneous bytes.
      failOn: "error",
      pages: 1,
      sequentialRead: true,
    }).resize({ width: maxWidth, height: maxHeight, fit: "inside", withoutEnlargement: true });
    // Only images with alpha need flattening; on others it still costs ~4 ms at 1080p.
    if (metadata.hasAlpha) pipeline.flatten({ background: "#ffffff" });
    const { data, info } = await pipeline
      .toColourspace("srgb")
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw new ImageError(
        "InvalidImage",
        `the image decodes to ${info.channels} channels, not RGB`,
      );
    }
    return {
      image: {
        data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
        width: info.width,
        height: info.height,
      },
      inputWidth,
      inputHeight,
      scale: info.width / inputWidth,
      format: metadata.format,
    };
  } catch (err) {
    if (err instanceof ImageError) throw err;
    throw new ImageError("InvalidImage", `the ${metadata.format} image is corrupt or truncated`);
  }
}
