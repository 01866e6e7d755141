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

/** Equal-error rate: where the false-reject and false-accept rates meet (accept at d <= t). */
export function equalErrorRate(genuine: number[], impostor: number[]): number {
  let best = { gap: Number.POSITIVE_INFINITY, rate: 1 };
  for (const t of [...genuine, ...impostor].sort((a, b) => a - b)) {
    const frr = genuine.filter((d) => d > t).length / genuine.length;
    const far = impostor.filter((d) => d <= t).length / impostor.length;
    const gap = Math.abs(frr - far);
    if (gap < best.gap) best = { gap, rate: (frr + far) / 2 };
  }
  return best.rate;
}
