/**
 * `npm run eval:lfw -- <lfw-dir> [--encoder N] [--workers N] [--in-flight N]`: LFW measured as a
 * user meets it, through facevault's own JSON Web API. A real service is built by the
 * composition root (SQLite in a temp dir); for every pair of the protocol, image A is enrolled
 * into a class of its own (`POST /api/face/v1/enroll/{classId}`) and image B verified against it
 * (`POST /api/face/v1/verify/{classId}`). Every pair counts: a pair whose A was not enrolled, or
 * whose B gave no features, has score 0. Folds are those of the pairs file (`bench/lfw-support.ts`:
 * the development set's pairs.tsv, or the official pairs.txt).
 *
 * Tolerant of both JSON forms of int64 (`"classId": "7"` and `"classId": 7`).
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { createTokenSource } from "@facevault/client";
import { getEncoder } from "../src/face/encoders.js";
import { startBenchServer } from "./bench-support.js";
import { foldAccuracies, meanSd, pct, quantile, readLfwPairs } from "./lfw-support.js";

interface Args {
  lfw: string;
  encoder?: number;
  workers: number;
  inFlight: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { lfw: "", workers: availableParallelism(), inFlight: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = () => Number(argv[++i]);
    if (a === "--encoder") args.encoder = value();
    else if (a === "--workers") args.workers = value();
    else if (a === "--in-flight") args.inFlight = value();
    else args.lfw = a;
  }
  if (!args.lfw) {
    console.error(
      "usage: npm run eval:lfw -- <lfw-dir> [--encoder N] [--workers N] [--in-flight N]",
    );
    process.exit(2);
  }
  if (!args.inFlight) args.inFlight = 2 * args.workers;
  return args;
}

/** The parts of the REST answers this script reads (proto JSON names). */
interface ImagePropertiesJson {
  faces?: unknown[];
  qualityAssessments?: { check: string; score?: number; message: string }[];
}
interface EnrollJson {
  performedAction?: string;
  enrolledImages?: number;
  errors?: { errorCode: string; message: string }[];
  imageProperties?: ImagePropertiesJson[];
  templateStatus?: { classId?: string | number; encoderVersion?: number };
}
interface VerifyJson {
  verified?: boolean;
  score?: number;
  errors?: { errorCode: string; message: string }[];
  imageProperties?: ImagePropertiesJson;
}

/** What one pair gave. */
interface PairOutcome {
  same: boolean;
  fold: number;
  a: string;
  b: string;
  enrolled: boolean;
  /** Faces found on A and on B (B: undefined when A was not enrolled, so B was not analysed). */
  facesA: number;
  facesB: number | undefined;
  /** A was refused because none of its faces dominates. */
  ambiguousA: boolean;
  refusalA?: string;
  /** B gave features. */
  featuresB: boolean;
  score: number;
  verified: boolean;
}

const check = (p: ImagePropertiesJson | undefined, name: string) =>
  p?.qualityAssessments?.find((q) => q.check === name);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const pairs = readLfwPairs(args.lfw);
  const server = await startBenchServer(
    args.workers,
    args.encoder === undefined ? {} : { encoderVersion: args.encoder },
  );
  const token = createTokenSource({ clientId: server.clientId, key: server.key, minutes: 30 });
  const post = async <T>(path: string, body: unknown): Promise<{ status: number; json: T }> => {
    const res = await fetch(`${server.baseUrl}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${await token()}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as T };
  };
  const image = (file: string) => readFileSync(join(args.lfw, file)).toString("base64");

  const started = performance.now();
  const outcomes: PairOutcome[] = new Array(pairs.length);
  let next = 0;
  let done = 0;
  let encoderVersion: number | undefined;
  await Promise.all(
    Array.from({ length: args.inFlight }, async () => {
      while (next < pairs.length) {
        const index = next++;
        const pair = pairs[index] as (typeof pairs)[number];
        const classId = index + 1;
        const enroll = await post<EnrollJson>(`/api/face/v1/enroll/${classId}`, [
          { image: image(pair.a) },
        ]);
        if (enroll.status !== 200) throw new Error(`enroll ${pair.a}: HTTP ${enroll.status}`);
        const propsA = enroll.json.imageProperties?.[0];
        const enrolled = (enroll.json.enrolledImages ?? 0) > 0;
        if (enrolled) {
          // int64 as a JSON string (proto JSON) or number (after the transport rewrite)
          const echoed = enroll.json.templateStatus?.classId;
          if (String(echoed) !== String(classId)) {
            throw new Error(`enroll answered class ${String(echoed)} for class ${classId}`);
          }
          encoderVersion ??= enroll.json.templateStatus?.encoderVersion;
        }
        const single = check(propsA, "SingleFaceOnImage");
        const outcome: PairOutcome = {
          same: pair.same,
          fold: pair.fold,
          a: pair.a,
          b: pair.b,
          enrolled,
          facesA: propsA?.faces?.length ?? 0,
          facesB: undefined,
          ambiguousA: (propsA?.faces?.length ?? 0) > 1 && (single?.score ?? 0) === 0,
          featuresB: false,
          score: 0,
          verified: false,
        };
        if (!enrolled) {
          outcome.refusalA = enroll.json.errors?.map((e) => e.errorCode).join(",") ?? "unknown";
        } else {
          const verify = await post<VerifyJson>(`/api/face/v1/verify/${classId}`, {
            image: image(pair.b),
          });
          if (verify.status !== 200) throw new Error(`verify ${pair.b}: HTTP ${verify.status}`);
          outcome.facesB = verify.json.imageProperties?.faces?.length ?? 0;
          outcome.score = verify.json.score ?? 0;
          outcome.featuresB = outcome.score > 0;
          outcome.verified = verify.json.verified === true;
        }
        outcomes[index] = outcome;
        if (++done % 500 === 0) {
          const rate = done / ((performance.now() - started) / 1000);
          console.error(`  ${done}/${pairs.length} pairs (${rate.toFixed(1)} pairs/s)`);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await server.close();
  report(outcomes, { ...args, encoderVersion, seconds });
}

function report(
  outcomes: PairOutcome[],
  run: Args & { encoderVersion: number | undefined; seconds: number },
): void {
  const n = outcomes.length;
  const genuine = outcomes.filter((o) => o.same);
  const impostor = outcomes.filter((o) => !o.same);
  const notEnrolled = outcomes.filter((o) => !o.enrolled);
  const reasons = new Map<string, number>();
  for (const o of notEnrolled) {
    const key = o.ambiguousA ? "several faces, none dominates" : (o.refusalA ?? "?");
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
  }
  const withoutFeatures = outcomes.filter((o) => o.enrolled && !o.featuresB);
  // every image, once: usable if any call gave it features
  const usable = new Map<string, boolean>();
  for (const o of outcomes) {
    usable.set(o.a, (usable.get(o.a) ?? false) || o.enrolled);
    if (o.enrolled) usable.set(o.b, (usable.get(o.b) ?? false) || o.featuresB);
  }
  const usableCount = [...usable.values()].filter(Boolean).length;
  const scored = outcomes.map((o) => ({ score: o.score, same: o.same, fold: o.fold }));
  const acc = meanSd(foldAccuracies(scored));
  const folds = new Set(outcomes.map((o) => o.fold)).size;
  const far = impostor.filter((o) => o.verified).length / impostor.length;
  const frr = genuine.filter((o) => !o.verified).length / genuine.length;
  const oneFace = outcomes.filter((o) => o.facesA === 1 && o.facesB === 1);
  const oneAcc = meanSd(
    foldAccuracies(oneFace.map((o) => ({ score: o.score, same: o.same, fold: o.fold }))),
  );
  const oneGenuine = oneFace.filter((o) => o.same);
  const oneImpostor = oneFace
    .filter((o) => !o.same)
    .map((o) => o.score)
    .sort((a, b) => b - a);
  // the score above which 0.1% of these impostor pairs lie
  const at01 = quantile(oneImpostor, 0.001);
  const multiA = outcomes.filter((o) => o.facesA > 1);
  const multiEnrolled = multiA.filter((o) => o.enrolled);
  const multiGenuine = multiEnrolled.filter((o) => o.same);

  const rows: [string, string][] = [
    [
      "image A not enrolled (`ENROLLMENT_FAILED`)",
      `${notEnrolled.length} of ${n} (${pct(notEnrolled.length / n, 1)}): ${[...reasons]
        .map(([k, v]) => `${v} ${k}`)
        .join(", ")}`,
    ],
    [
      "image B verified without features (score 0)",
      `${withoutFeatures.filter((o) => o.same).length} genuine, ${withoutFeatures.filter((o) => !o.same).length} impostor pairs`,
    ],
    [
      "LFW photos that give a usable face (enrolled, or features at Verify)",
      `${usableCount} of ${usable.size} (${pct(usableCount / usable.size)})`,
    ],
    [
      "image A with several faces",
      `${multiA.length}: ${multiEnrolled.length} enrolled with the face that dominates, ${multiA.filter((o) => o.ambiguousA).length} refused as ambiguous; genuine pairs among them verified ${multiGenuine.filter((o) => o.verified).length} of ${multiGenuine.length}`,
    ],
    [`${folds}-fold accuracy, every pair counted`, `${pct(acc.mean)} ± ${pct(acc.sd)}`],
    [
      "at the default threshold (`matching.minScore` 0.5)",
      `FAR ${pct(far)} (${impostor.filter((o) => o.verified).length} of ${impostor.length}), **FRR ${pct(frr)}** (${genuine.filter((o) => !o.verified).length} of ${genuine.length})`,
    ],
    [
      "only pairs where both photos have one face",
      `${oneFace.length} pairs: ${pct(oneAcc.mean)} ± ${pct(oneAcc.sd)}; ${pct(oneGenuine.filter((o) => o.score > at01).length / oneGenuine.length, 1)} of genuine pairs accepted at FAR 0.1% of their impostor pairs; FRR ${pct(oneGenuine.filter((o) => !o.verified).length / oneGenuine.length, 1)} at 0.5`,
    ],
  ];
  console.log(
    `\nLFW through the REST API: ${n} pairs in ${folds} folds, encoder ${run.encoderVersion ?? "?"}, ${run.workers} workers, ${run.inFlight} pairs in flight, ${run.seconds.toFixed(0)} s (${((2 * n) / run.seconds).toFixed(1)} calls/s)\n`,
  );
  console.log("| | measured |\n|---|---|");
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
  // The decision at other distance thresholds, from the same scores (score -> distance is the
  // registry's inverse logistic): how the rates move around the default.
  if (run.encoderVersion !== undefined) {
    const encoder = getEncoder(run.encoderVersion);
    const distance = (o: PairOutcome) =>
      o.score > 0 ? encoder.distanceForScore(o.score) : Number.POSITIVE_INFINITY;
    const steps = [-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5].map((k) => encoder.threshold + k * 0.01);
    console.log(
      `\nat other distance thresholds (encoder ${encoder.version}, default ${encoder.threshold}):`,
    );
    for (const t of steps) {
      const fa = impostor.filter((o) => distance(o) < t).length;
      const fr = genuine.filter((o) => !(distance(o) < t)).length;
      console.log(
        `  d < ${t.toFixed(3)}: FAR ${pct(fa / impostor.length)} (${fa}), FRR ${pct(fr / genuine.length)} (${fr})`,
      );
    }
  }
  const wrong = outcomes.filter((o) => (o.same ? !o.verified : o.verified));
  console.log(
    `\ngenuine pairs rejected: ${genuine.filter((o) => !o.verified).length}; impostor pairs accepted: ${impostor.filter((o) => o.verified).length}`,
  );
  for (const o of wrong) {
    console.log(
      `  ${o.same ? "rejected" : "ACCEPTED"} ${o.a} ${o.b}: score ${o.score.toFixed(3)}, faces ${o.facesA}/${o.facesB ?? "-"}${o.enrolled ? "" : `, A not enrolled (${o.ambiguousA ? "ambiguous" : o.refusalA})`}${o.enrolled && !o.featuresB ? ", B without features" : ""}`,
    );
  }
}

await main();
