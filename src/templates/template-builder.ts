import type { VectorMetric } from "./search-index.js";
import type {
  CompactTemplate,
  EnhancedTemplate,
  FeatureEntry,
  ThumbnailEntry,
} from "./template-codec.js";

/** What one enrolled face adds to a template. */
export interface NewFace {
  vector: Float32Array;
  /** PNG, when the client keeps thumbnails. */
  thumbnail?: Uint8Array;
}

export interface MergeOptions {
  encoderVersion: number;
  /** Most feature vectors (and thumbnails) a template keeps; the oldest go first. */
  maxFeatureVectors: number;
  enrolledAt: Date;
}

/**
 * Adds newly enrolled faces to a template of the same encoder version. Beyond
 * `maxFeatureVectors` the oldest vectors and thumbnails are dropped: a template follows the
 * person's current look, and its size (and the cost of re-encoding on upgrade) stays bounded.
 */
export function addFaces(
  base: EnhancedTemplate | undefined,
  faces: readonly NewFace[],
  options: MergeOptions,
): EnhancedTemplate {
  const features: FeatureEntry[] = [
    ...(base?.features ?? []),
    ...faces.map((f) => ({ enrolledAt: options.enrolledAt, vector: f.vector })),
  ];
  const thumbnails: ThumbnailEntry[] = [
    ...(base?.thumbnails ?? []),
    ...faces.flatMap((f) =>
      f.thumbnail ? [{ enrolledAt: options.enrolledAt, png: f.thumbnail }] : [],
    ),
  ];
  const keep = options.maxFeatureVectors;
  return {
    encoderVersion: options.encoderVersion,
    features: features.slice(Math.max(0, features.length - keep)),
    thumbnails: thumbnails.slice(Math.max(0, thumbnails.length - keep)),
  };
}

/**
 * The compact template: the mean of the feature vectors (of unit-length vectors for cosine
 * encoders, where length carries no meaning). One vector per class keeps search a single
 * contiguous scan.
 */
export function compactOf(template: EnhancedTemplate, metric: VectorMetric): CompactTemplate {
  const first = template.features[0]?.vector;
  const dimension = first?.length ?? 0;
  const mean = new Float32Array(dimension);
  for (const { vector } of template.features) {
    let scale = 1;
    if (metric === "cosine") {
      let sum = 0;
      for (let i = 0; i < dimension; i++) sum += (vector[i] as number) ** 2;
      scale = 1 / (Math.sqrt(sum) || 1);
    }
    for (let i = 0; i < dimension; i++)
      mean[i] = (mean[i] as number) + (vector[i] as number) * scale;
  }
  const n = template.features.length || 1;
  for (let i = 0; i < dimension; i++) mean[i] = (mean[i] as number) / n;
  return {
    encoderVersion: template.encoderVersion,
    featureCount: template.features.length,
    vector: mean,
  };
}
