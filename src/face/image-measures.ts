import type { Point, RgbImage } from "./types.js";

/** Measurements of a face crop's pixels that the quality checks grade. */
export interface PixelMeasures {
  /**
   * Detail at the encoder's scale: standard deviation of the 4-neighbour Laplacian of the grey
   * inner face divided by the standard deviation of its grey levels (contrast-free), x100.
   */
  sharpness: number;
  /** Mean grey level of the inner face, 0..255. */
  brightness: number;
  /** Share of inner-face pixels at 0..15 (crushed shadows) and 240..255 (blown highlights). */
  dark: number;
  bright: number;
}

/** The inner face: the middle 60% of the face square (eyes, nose, mouth; little hair). */
const INNER_FROM = 0.2;
const INNER_TO = 0.8;

/**
 * Measures sharpness and exposure on the inner face of a square face crop, over the pixels that
 * `inside` marks (1) as taken from the image: the black padding of a face at the border would
 * read as crushed shadows and hard edges.
 */
export function measurePixels(crop: RgbImage, inside?: Uint8Array): PixelMeasures {
  const { width, height, data } = crop;
  const grey = new Float32Array(width * height);
  for (let i = 0; i < grey.length; i++) {
    grey[i] =
      0.299 * (data[i * 3] as number) +
      0.587 * (data[i * 3 + 1] as number) +
      0.114 * (data[i * 3 + 2] as number);
  }
  const x0 = Math.max(1, Math.round(width * INNER_FROM));
  const x1 = Math.min(width - 1, Math.round(width * INNER_TO));
  const y0 = Math.max(1, Math.round(height * INNER_FROM));
  const y1 = Math.min(height - 1, Math.round(height * INNER_TO));
  let n = 0;
  let sum = 0;
  let sum2 = 0;
  let lapSum = 0;
  let lapSum2 = 0;
  let dark = 0;
  let bright = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = y * width + x;
      if (
        inside &&
        !(inside[i] && inside[i - 1] && inside[i + 1] && inside[i - width] && inside[i + width])
      ) {
        continue;
      }
      const v = grey[i] as number;
      const lap =
        4 * v -
        (grey[i - 1] as number) -
        (grey[i + 1] as number) -
        (grey[i - width] as number) -
        (grey[i + width] as number);
      n++;
      sum += v;
      sum2 += v * v;
      lapSum += lap;
      lapSum2 += lap * lap;
      if (v < 16) dark++;
      else if (v >= 240) bright++;
    }
  }
  if (n === 0) return { sharpness: 0, brightness: 0, dark: 0, bright: 0 };
  const mean = sum / n;
  const std = Math.sqrt(Math.max(0, sum2 / n - mean * mean));
  const lapStd = Math.sqrt(Math.max(0, lapSum2 / n - (lapSum / n) ** 2));
  return {
    sharpness: std > 0 ? (100 * lapStd) / std : 0,
    brightness: mean,
    dark: dark / n,
    bright: bright / n,
  };
}

/** Share of `points` inside a `width` x `height` image. */
export function shareInside(points: readonly Point[], width: number, height: number): number {
  if (points.length === 0) return 0;
  let inside = 0;
  for (const p of points) if (p.x >= 0 && p.y >= 0 && p.x < width && p.y < height) inside++;
  return inside / points.length;
}
