import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import sharp from "sharp";

const fixtures = new URL("../fixtures/faces/", import.meta.url);

/** A fixture photo's bytes, e.g. `people/person-01/01.jpg`. */
export function photo(path: string): Uint8Array {
  return new Uint8Array(readFileSync(fileURLToPath(new URL(path, fixtures))));
}

export interface LabelledPhoto {
  file: string;
  identity: string;
  /** "1", "2+", "5+" ... as labels.tsv says */
  faces: string;
}

/** Every row of labels.tsv. */
export function labelledPhotos(): LabelledPhoto[] {
  const text = readFileSync(fileURLToPath(new URL("labels.tsv", fixtures)), "utf8");
  return text
    .trim()
    .split("\n")
    .slice(1)
    .map((line) => {
      const [file = "", identity = "", faces = ""] = line.split("\t");
      return { file, identity, faces };
    });
}

/** Single-face photos grouped by identity. */
export function photosByIdentity(): Map<string, string[]> {
  const byId = new Map<string, string[]>();
  for (const p of labelledPhotos()) {
    if (p.faces !== "1" || !p.identity) continue;
    byId.set(p.identity, [...(byId.get(p.identity) ?? []), p.file]);
  }
  return byId;
}

/** A real JPEG with no face in it: a smooth colour gradient with some noise. */
export async function noFacePhoto(): Promise<Uint8Array> {
  const width = 480;
  const height = 360;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      pixels[i] = (x * 255) / width;
      pixels[i + 1] = (y * 255) / height;
      pixels[i + 2] = ((x * 7 + y * 13) % 64) + 96;
    }
  }
  const jpeg = await sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg()
    .toBuffer();
  return new Uint8Array(jpeg);
}

/**
 * A fixture photo with a second, smaller person in it: `passerBy` scaled to `share` of the
 * subject photo's width and set into its top right corner, as someone walking past behind.
 * JPEG bytes.
 */
export async function withPasserBy(
  subject: string,
  passerBy: string,
  share = 0.3,
): Promise<Uint8Array> {
  const base = sharp(photo(subject));
  const { width = 0 } = await base.metadata();
  const small = await sharp(photo(passerBy))
    .resize({ width: Math.round(width * share) })
    .toBuffer();
  const out = await base
    .composite([{ input: small, top: 0, left: width - Math.round(width * share) }])
    .jpeg({ quality: 92 })
    .toBuffer();
  return new Uint8Array(out);
}
