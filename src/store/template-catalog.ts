import type { StoredTemplate } from "./template-store.js";

/**
 * What operators read about stored templates (the admin API): partitions with their counts and
 * pages of template metadata. Nothing here returns biometric data: a summary carries only the
 * header of the enhanced blob (its wrapped data key), enough to check the metadata MAC.
 */
export interface TemplateCatalog {
  /** Every partition that holds or held templates, by storage then partition. */
  listPartitions(): Promise<PartitionSummary[]>;
  /**
   * Templates of one partition with class id > `afterClassId`, ascending, at most `limit`
   * (1 to 1000), only those carrying `tag` when given; with the number of all that match.
   */
  listTemplates(
    storage: string,
    partition: number,
    options: { afterClassId: bigint; limit: number; tag?: string },
  ): Promise<{ templates: TemplateSummary[]; total: number }>;
}

export interface PartitionSummary {
  storage: string;
  partition: number;
  templates: number;
  featureVectors: number;
  thumbnails: number;
  /** The partition's change counter (one step per write). */
  revision: number;
}

/** A template's metadata, without its blobs; `enhancedHeader` authenticates it. */
export type TemplateSummary = Omit<StoredTemplate, "compact" | "enhanced"> & {
  /** The first bytes of the enhanced blob (no biometric data: the wrapped data key). */
  enhancedHeader: Uint8Array;
};

/** Most summaries one `listTemplates` call returns. */
export const MAX_TEMPLATE_PAGE = 1000;
