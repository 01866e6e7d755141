/**
 * Presentation attacks made from one photo, for the liveness evaluation and tests: the photo as a
 * print or a screen held up to the camera and moved between two shots (random perspective
 * warps), farther away (scaling), out of focus (blur), recompressed (JPEG) or shown on a screen
 * (moiré). Deterministic for a given seed.
 */
import sharp from "sharp";
import { fitHomography } from "../src/face/homography.js";
import { mulberry32 } from "../test/support/search-reference.js";

export type AttackMode = "perspective" | "scale" | "blur" | "jpeg" | "moire";
export const ATTACK_MODES: readonly AttackMode[] = [
  "perspective",
  "scale",
  "blur",
  "jpeg",
  "moire",
];

interface Rgb {
  data: Buffer;
  width: number;
  height: number;
}

async function rgbOf(photo: Uint8Array): Promise<Rgb> {
  const { data, info } = await sharp(photo)
    .rotate()
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/**
 * The photo seen as a plane tilted and moved: each corner displaced by up to `strength` of the
 * image side, the rest filled with grey (the room behind the print), bilinear.
 */
function perspective(src: Rgb, random: () => number, strength: number): Rgb {
  const { width: w, height: h } = src;
  const corners = [0, 0, w, 0, w, h, 0, h];
  const moved = corners.map((c, i) => c + (random() * 2 - 1) * strength * (i % 2 ? h : w));
  // Output pixel -> source pixel: fit moved corners onto the original ones.
  const hm = fitHomography(Float32Array.from(moved), Float32Array.from(corners));
  if (!hm) return src;
  const out = Buffer.alloc(w * h * 3, 128);
  const [a, b, c, d, e, f, g, k] = hm as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const z = g * x + k * y + 1;
      const sx = (a * x + b * y + c) / z;
      const sy = (d * x + e * y + f) / z;
      if (sx < 0 || sy < 0 || sx >= w - 1 || sy >= h - 1) continue;
      sampleBilinear(src, sx, sy, out, (y * w + x) * 3);
    }
  }
  return { data: out, width: w, height: h };
}

/**
 * Writes the bilinear sample of `src` at (sx, sy) (pixel-index coordinates, within the image
 * less its last row and column) as three bytes at `out[o]`.
 */
export function sampleBilinear(
  src: { data: Uint8Array | Buffer; width: number },
  sx: number,
  sy: number,
  out: Uint8Array | Buffer,
  o: number,
): void {
  const w = src.width;
  const x0 = Math.floor(sx);
  const y0 = Math.floor(sy);
  const fx = sx - x0;
  const fy = sy - y0;
  for (let ch = 0; ch < 3; ch++) {
    const p = (yy: number, xx: number) => src.data[(yy * w + xx) * 3 + ch] as number;
    const top = p(y0, x0) * (1 - fx) + p(y0, x0 + 1) * fx;
    const bottom = p(y0 + 1, x0) * (1 - fx) + p(y0 + 1, x0 + 1) * fx;
    out[o + ch] = Math.round(top * (1 - fy) + bottom * fy);
  }
}

/** A screen's interference pattern: a slanted sinusoid of a few pixels' period, multiplied in. */
function moire(src: Rgb, random: () => number): Rgb {
  const period = 3 + random() * 4;
  const angle = random() * Math.PI;
  const depth = 0.12 + random() * 0.12;
  const out = Buffer.from(src.data);
  const [cx, cy] = [Math.cos(angle), Math.sin(angle)];
  for (let y = 0; y < src.height; y++) {
    for (let x = 0; x < src.width; x++) {
      const m = 1 - depth * (0.5 + 0.5 * Math.sin(((x * cx + y * cy) * 2 * Math.PI) / period));
      for (let ch = 0; ch < 3; ch++) {
        const i = (y * src.width + x) * 3 + ch;
        out[i] = Math.round((out[i] as number) * m);
      }
    }
  }
  return { data: out, width: src.width, height: src.height };
}

/** One shot of the attack: the photo warped, then degraded as `mode` says, as a JPEG. */
async function shot(src: Rgb, mode: AttackMode, random: () => number): Promise<Buffer> {
  let img = perspective(src, random, 0.04 + random() * 0.1);
  if (mode === "moire") img = moire(img, random);
  let pipeline = sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
  if (mode === "scale") {
    const k = 0.45 + random() * 0.4;
    pipeline = pipeline.resize(Math.round(img.width * k), Math.round(img.height * k));
  }
  if (mode === "blur") pipeline = pipeline.blur(1 + random() * 2);
  const quality = mode === "jpeg" ? 15 + Math.floor(random() * 25) : 90;
  return pipeline.jpeg({ quality }).toBuffer();
}

/** Two shots of one photo presented to the camera in `mode`. */
export async function attackPair(
  photo: Uint8Array,
  mode: AttackMode,
  seed: number,
): Promise<[Buffer, Buffer]> {
  const random = mulberry32(seed);
  const src = await rgbOf(photo);
  return [await shot(src, mode, random), await shot(src, mode, random)];
}
