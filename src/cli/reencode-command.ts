import { availableParallelism } from "node:os";
import { create } from "@bufbuild/protobuf";
import {
  FaceEnrollmentResponse_EnrollmentAction as Action,
  FaceEnrollmentRequestSchema,
} from "../../gen/bioid/services/v1/face_recognition_pb.js";
import type { FacevaultConfig } from "../config.js";
import { FacevaultError } from "../errors.js";
import { getEncoder } from "../face/encoders.js";
import { createFacePool } from "../face/face-pool.js";
import { createEnrollment } from "../service/enrollment.js";
import { createTemplateSealer } from "../templates/template-sealer.js";
import { createTemplateVault } from "../templates/template-vault.js";
import { classIdsOf, countClasses, openTemplateStore, partitionsOf } from "./maintenance-store.js";
import { createProgress } from "./progress.js";

export interface ReencodeOptions {
  /** Stdout is JSON: progress goes to stderr. */
  json?: boolean;
  partition?: string;
}

export interface ReencodeSummary {
  encoderVersion: number;
  /** Templates of another encoder found. */
  found: number;
  upgraded: number;
  /** Class and reason of each template that could not be upgraded. */
  failed: string[];
}

/**
 * `facevault reencode [--partition storage/partition]`: upgrades every template made by another
 * encoder to the configured one (`face.encoderVersion`) from its stored thumbnails, through the
 * same upgrade Enroll performs (an Enroll without images), with the store's optimistic
 * concurrency: safe while servers run. Resumable by nature: templates already at the configured
 * encoder are skipped. Runs the face models in this process (`face.workers` threads).
 */
export async function reencodeCommand(
  config: FacevaultConfig,
  options: ReencodeOptions,
): Promise<ReencodeSummary> {
  const encoder = getEncoder(config.face.encoderVersion);
  const partitions = partitionsOf(config, options.partition);
  const vault = createTemplateVault({
    sealer: createTemplateSealer({ masterKeys: config.masterKeys }),
  });
  const store = await openTemplateStore(config, vault);
  const stale = (e: { encoderVersion: number }) => e.encoderVersion !== encoder.version;
  const summary: ReencodeSummary = {
    encoderVersion: encoder.version,
    found: 0,
    upgraded: 0,
    failed: [],
  };
  const faces = createFacePool({
    workers: config.face.workers ?? availableParallelism(),
    maxQueue: config.face.maxQueue,
    encoderVersion: encoder.version,
    maxInputPixels: config.face.maxInputPixels,
  });
  try {
    const total = await countClasses(store, partitions, stale);
    if (total === 0) return summary;
    await faces.ready();
    const enroll = createEnrollment({
      store,
      vault,
      faces,
      encoderVersion: encoder.version,
      maxFeatureVectors: config.templates.maxFeatureVectors,
      maxImagesPerRequest: config.limits.maxImagesPerRequest,
      minScore: config.matching.minScore,
    });
    const progress = createProgress({
      json: Boolean(options.json),
      label: "reencode",
      unit: "templates",
      total,
      start: 0,
    });
    for (const at of partitions) {
      const client = config.clients.find(
        (c) => c.storage === at.storage && c.partition === at.partition,
      );
      if (!client) {
        throw new FacevaultError(
          "invalid_argument",
          `no configured client uses partition ${at.storage}/${at.partition}`,
        );
      }
      for await (const entry of classIdsOf(store, at)) {
        if (!stale(entry)) continue;
        summary.found++;
        const answer = await enroll(
          create(FaceEnrollmentRequestSchema, { classId: entry.classId }),
          { client, signal: new AbortController().signal },
        );
        const ok = answer.performedAction === Action.TEMPLATE_UPGRADED;
        if (ok) summary.upgraded++;
        else if (answer.performedAction !== Action.NONE) {
          const why = answer.errors.map((e) => e.message).join("; ");
          summary.failed.push(`${at.storage}/${at.partition} class ${entry.classId}: ${why}`);
        }
        progress.tick(!ok);
      }
    }
    progress.stop();
  } finally {
    await faces.close();
    await store.close();
  }
  return summary;
}
