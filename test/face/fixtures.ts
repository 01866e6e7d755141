import { readFileSync } from "node:fs";

/** One row of test/fixtures/faces/labels.tsv. */
export interface FixturePhoto {
  file: string;
  /** Identity, empty for group photos. */
  identity: string;
  /** Faces a person sees: "1", "2", "2+", "5+". */
  faces: string;
}

const ROOT = new URL("../fixtures/faces/", import.meta.url);

/** All labelled fixture photos. */
export function fixturePhotos(): FixturePhoto[] {
  const rows = readFileSync(new URL("labels.tsv", ROOT), "utf8").trim().split("\n").slice(1);
  return rows.map((row) => {
    const [file = "", identity = "", faces = ""] = row.split("\t");
    return { file, identity, faces };
  });
}

/** The bytes of a fixture photo. */
export function fixtureBytes(file: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(file, ROOT)));
}

/** Genuine and impostor distances over all pairs of `items` (same identity = genuine). */
export function pairDistances<T>(
  items: { identity: string; value: T }[],
  distance: (a: T, b: T) => number,
): { genuine: number[]; impostor: number[] } {
  const genuine: number[] = [];
  const impostor: number[] = [];
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) {
      const a = items[i] as { identity: string; value: T };
      const b = items[j] as { identity: string; value: T };
      (a.identity === b.identity ? genuine : impostor).push(distance(a.value, b.value));
    }
  }
  return { genuine, impostor };
}

/**
 * Equal-error rate: where the false-reject rate (genuine d > t) and the false-accept rate
 * (impostor d <= t) meet, and the threshold t there. Also used by bench/face-calibrate.ts.
 */
export function equalErrorRate(
  genuine: number[],
  impostor: number[],
): { rate: number; threshold: number } {
  const g = [...genuine].sort((a, b) => a - b);
  const im = [...impostor].sort((a, b) => a - b);
  let best = { gap: Number.POSITIVE_INFINITY, rate: 1, threshold: 0 };
  let gi = 0;
  let ii = 0;
  for (const t of [...g, ...im].sort((a, b) => a - b)) {
    while (gi < g.length && (g[gi] as number) <= t) gi++;
    while (ii < im.length && (im[ii] as number) <= t) ii++;
    const frr = 1 - gi / g.length;
    const far = ii / im.length;
    if (Math.abs(frr - far) < best.gap) {
      best = { gap: Math.abs(frr - far), rate: (frr + far) / 2, threshold: t };
    }
  }
  return { rate: best.rate, threshold: best.threshold };
}
