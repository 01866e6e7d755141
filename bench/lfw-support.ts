/**
 * Reading an LFW copy and the statistics of its protocol, shared by the calibration
 * (`bench/face-calibrate.ts`) and the evaluation through the service (`bench/eval-lfw.ts`).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** One pair of the protocol: two image paths relative to the LFW folder. */
export interface LfwPair {
  a: string;
  b: string;
  same: boolean;
  /** 0-based fold. */
  fold: number;
}

/**
 * The pairs of an LFW folder: `pairs.tsv` (fileA, fileB, same; rows in the official order, 600
 * per fold, as in the development set of folds 1-5), or the official `pairs.txt` (first line
 * "folds pairs-per-half", then per fold the same-person lines "name n1 n2" and the
 * different-person lines "name1 n1 name2 n2") with the images in `<name>/<name>_NNNN.jpg` or
 * `images/<name>/...`.
 */
export function readLfwPairs(dir: string): LfwPair[] {
  const tsv = join(dir, "pairs.tsv");
  if (existsSync(tsv)) {
    return readFileSync(tsv, "utf8")
      .trim()
      .split("\n")
      .slice(1)
      .map((line, i) => {
        const [a = "", b = "", same = ""] = line.split("\t");
        return { a, b, same: same === "1", fold: Math.floor(i / 600) };
      });
  }
  const lines = readFileSync(join(dir, "pairs.txt"), "utf8").trim().split(/\r?\n/);
  const [, perHalf = 300] = (lines[0] ?? "").trim().split(/\s+/).map(Number);
  const root = existsSync(join(dir, "images")) ? "images/" : "";
  const file = (name: string, n: string) => `${root}${name}/${name}_${n.padStart(4, "0")}.jpg`;
  return lines.slice(1).map((line, i) => {
    const f = line.trim().split(/\s+/);
    const fold = Math.floor(i / (2 * perHalf));
    if (f.length === 3) {
      const [name = "", n1 = "", n2 = ""] = f;
      return { a: file(name, n1), b: file(name, n2), same: true, fold };
    }
    const [name1 = "", n1 = "", name2 = "", n2 = ""] = f;
    return { a: file(name1, n1), b: file(name2, n2), same: false, fold };
  });
}

/** The person an LFW image shows: its folder's name. */
export function identityOf(file: string): string {
  return file.split("/").at(-2) ?? file;
}

/**
 * Accuracy of each fold with the threshold chosen on the other folds (the LFW protocol).
 * `score`: larger means more alike; a pair is called "same" when score >= threshold.
 */
export function foldAccuracies(scored: { score: number; same: boolean; fold: number }[]): number[] {
  const folds = [...new Set(scored.map((x) => x.fold))].sort((a, b) => a - b);
  return folds.map((fold) => {
    const train = scored.filter((x) => x.fold !== fold).sort((x, y) => x.score - y.score);
    const test = scored.filter((x) => x.fold === fold);
    // sweep thresholds over the sorted training scores: at threshold t, pairs below are "not same"
    let correct = train.filter((x) => x.same).length; // t below every score: all called same
    let best = { t: Number.NEGATIVE_INFINITY, correct };
    for (let i = 0; i < train.length; i++) {
      const x = train[i] as { score: number; same: boolean };
      correct += x.same ? -1 : 1;
      const next = train[i + 1]?.score;
      if (next !== undefined && next === x.score) continue;
      if (correct > best.correct) {
        best = { t: next === undefined ? x.score + 1e-9 : (x.score + next) / 2, correct };
      }
    }
    return test.filter((x) => x.score >= best.t === x.same).length / test.length;
  });
}

/** Mean and (population) standard deviation. */
export function meanSd(values: number[]): { mean: number; sd: number } {
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
  return { mean, sd };
}

/** The value at quantile q of an ascending array. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

export const pct = (x: number, digits = 2): string => `${(100 * x).toFixed(digits)}%`;
