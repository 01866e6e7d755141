import { create } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type DeleteTemplatesByTagRequest,
  type DeleteTemplatesByTagResponse,
  DeleteTemplatesByTagResponseSchema,
  type GetTemplateRequest,
  type GetTemplateResponse,
  GetTemplateResponseSchema,
  JobSchema,
  type ListJobsRequest,
  type ListJobsResponse,
  ListJobsResponseSchema,
  type ListPartitionsResponse,
  ListPartitionsResponseSchema,
  type ListTemplatesRequest,
  type ListTemplatesResponse,
  ListTemplatesResponseSchema,
  PartitionStatsSchema,
  type PruneJobsRequest,
  type PruneJobsResponse,
  PruneJobsResponseSchema,
  type TemplateInfo,
  TemplateInfoSchema,
  ThumbnailSchema,
} from "../../gen/facevault/admin/v1/admin_pb.js";
import type { AdminIdentity } from "../auth/admin-keys.js";
import type { ClientConfig } from "../auth/client-registry.js";
import { FacevaultError } from "../errors.js";
import type { JobLog, JobRecord } from "../store/job-log.js";
import type { TemplateCatalog, TemplateSummary } from "../store/template-catalog.js";
import type { Bcid, StoredTemplate, TemplateStore } from "../store/template-store.js";
import type { TemplateVault } from "../templates/template-vault.js";

export interface AdminServiceOptions {
  /** The request path's store (metadata checked on every read). */
  store: Pick<TemplateStore, "get" | "delete">;
  catalog: TemplateCatalog;
  jobLog: Pick<JobLog, "queryJobs" | "pruneJobs">;
  vault: Pick<TemplateVault, "checkMetadata" | "openEnhanced">;
  /** The configured clients: a partition's call log is that of its clients. */
  clients: readonly ClientConfig[];
}

export interface AdminCall {
  admin: AdminIdentity;
}

export interface AdminService {
  listPartitions(call: AdminCall): Promise<ListPartitionsResponse>;
  listTemplates(req: ListTemplatesRequest, call: AdminCall): Promise<ListTemplatesResponse>;
  getTemplate(req: GetTemplateRequest, call: AdminCall): Promise<GetTemplateResponse>;
  deleteTemplatesByTag(
    req: DeleteTemplatesByTagRequest,
    call: AdminCall,
  ): Promise<DeleteTemplatesByTagResponse>;
  listJobs(req: ListJobsRequest, call: AdminCall): Promise<ListJobsResponse>;
  pruneJobs(req: PruneJobsRequest, call: AdminCall): Promise<PruneJobsResponse>;
}

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

/**
 * The admin API: what operators may see and do, each call confined to the admin key's scopes
 * (PERMISSION_DENIED outside them). Template metadata is checked like on the request path
 * (DATA_LOSS when tampered); no answer carries feature vectors.
 */
export function createAdminService(options: AdminServiceOptions): AdminService {
  const { store, catalog, jobLog, vault } = options;

  function requirePartition(call: AdminCall, storage: string, partition: number): void {
    if (storage === "") throw invalid("storage", "storage is required");
    if (!call.admin.allows(storage, partition)) {
      throw new FacevaultError(
        "permission_denied",
        `admin '${call.admin.id}' may not access partition ${storage}/${partition}`,
        { field: "partition" },
      );
    }
  }

  function checked(summary: TemplateSummary): TemplateSummary {
    vault.checkMetadata({ ...summary, enhanced: summary.enhancedHeader });
    return summary;
  }

  return {
    async listPartitions(call) {
      const partitions = (await catalog.listPartitions()).filter((p) =>
        call.admin.allows(p.storage, p.partition),
      );
      return create(ListPartitionsResponseSchema, {
        partitions: partitions.map((p) =>
          create(PartitionStatsSchema, {
            storage: p.storage,
            partition: p.partition,
            templates: BigInt(p.templates),
            featureVectors: BigInt(p.featureVectors),
            thumbnails: BigInt(p.thumbnails),
            revision: BigInt(p.revision),
          }),
        ),
      });
    },

    async listTemplates(req, call) {
      requirePartition(call, req.storage, req.partition);
      const limit = pageSize(req.pageSize);
      const afterClassId = classIdToken(req.pageToken);
      const { templates, total } = await catalog.listTemplates(req.storage, req.partition, {
        afterClassId,
        limit,
        ...(req.tag === "" ? {} : { tag: req.tag }),
      });
      const last = templates[templates.length - 1];
      return create(ListTemplatesResponseSchema, {
        templates: templates.map((t) => infoOf(checked(t))),
        nextPageToken:
          templates.length === limit && last !== undefined ? last.bcid.classId.toString() : "",
        totalCount: BigInt(total),
      });
    },

    async getTemplate(req, call) {
      requirePartition(call, req.storage, req.partition);
      const bcid: Bcid = { storage: req.storage, partition: req.partition, classId: req.classId };
      const stored = await store.get(bcid);
      if (!stored) {
        throw new FacevaultError("not_found", `no template is stored for class ${req.classId}`, {
          field: "classId",
        });
      }
      return create(GetTemplateResponseSchema, {
        template: infoOf(stored),
        thumbnails: req.includeThumbnails
          ? vault.openEnhanced(bcid, stored.enhanced).thumbnails.map((t) =>
              create(ThumbnailSchema, {
                enrolled: timestampFromDate(t.enrolledAt),
                image: t.png,
              }),
            )
          : [],
      });
    },

    async deleteTemplatesByTag(req, call) {
      requirePartition(call, req.storage, req.partition);
      if (req.tag === "") throw invalid("tag", "tag is required");
      let deleted = 0;
      // Deleting empties the first page: read it again until nothing carries the tag.
      for (;;) {
        const { templates } = await catalog.listTemplates(req.storage, req.partition, {
          afterClassId: 0n,
          limit: MAX_PAGE,
          tag: req.tag,
        });
        for (const t of templates) if (await store.delete(t.bcid)) deleted++;
        if (templates.length < MAX_PAGE) break;
      }
      return create(DeleteTemplatesByTagResponseSchema, { deletedCount: BigInt(deleted) });
    },

    async listJobs(req, call) {
      const clientIds = visibleClients(call.admin, options.clients);
      if (req.clientId !== "" && clientIds && !clientIds.includes(req.clientId)) {
        throw new FacevaultError(
          "permission_denied",
          `admin '${call.admin.id}' may not read the calls of client '${req.clientId}'`,
          { field: "clientId" },
        );
      }
      const page = await jobLog.queryJobs({
        ...(req.clientId !== "" ? { clientIds: [req.clientId] } : clientIds ? { clientIds } : {}),
        ...(req.receivedAfter ? { from: dateOf(req.receivedAfter) } : {}),
        ...(req.receivedBefore ? { to: dateOf(req.receivedBefore) } : {}),
        ...(req.referenceNumber === "" ? {} : { referenceNumber: req.referenceNumber }),
        ...(req.method === "" ? {} : { method: req.method }),
        ...(req.outcome === undefined ? {} : { outcome: req.outcome }),
        limit: pageSize(req.pageSize),
        ...(req.pageToken === "" ? {} : { after: req.pageToken }),
      });
      return create(ListJobsResponseSchema, {
        jobs: page.jobs.map(jobOf),
        nextPageToken: page.next ?? "",
      });
    },

    async pruneJobs(req, call) {
      if (!call.admin.all) {
        throw new FacevaultError(
          "permission_denied",
          `admin '${call.admin.id}' may not prune the call log: that needs the scope '*'`,
        );
      }
      if (!req.olderThan) throw invalid("olderThan", "olderThan is required");
      const deleted = await jobLog.pruneJobs(dateOf(req.olderThan));
      return create(PruneJobsResponseSchema, { deletedCount: BigInt(deleted) });
    },
  };
}

/** The client ids whose calls the admin may read; undefined: all, anonymous calls included. */
function visibleClients(
  admin: AdminIdentity,
  clients: readonly ClientConfig[],
): string[] | undefined {
  if (admin.all) return undefined;
  return clients.filter((c) => admin.allows(c.storage, c.partition)).map((c) => c.clientId);
}

function infoOf(t: Omit<StoredTemplate, "compact" | "enhanced">): TemplateInfo {
  return create(TemplateInfoSchema, {
    classId: t.bcid.classId,
    tags: t.tags,
    encoderVersion: t.encoderVersion,
    created: timestampFromDate(t.createdAt),
    enrolled: timestampFromDate(t.enrolledAt),
    featureVectors: t.featureCount,
    thumbnailsStored: t.thumbnailCount,
    version: t.version,
  });
}

function jobOf(job: JobRecord) {
  return create(JobSchema, {
    jobId: job.jobId,
    clientId: job.clientId,
    referenceNumber: job.referenceNumber ?? "",
    method: job.method,
    received: timestampFromDate(job.receivedAt),
    durationMs: job.durationMs,
    outcome: job.outcome,
    imageCount: job.imageCount,
    performedAction: job.performedAction ?? "",
  });
}

function pageSize(requested: number): number {
  if (requested === 0) return DEFAULT_PAGE;
  if (!Number.isInteger(requested) || requested < 1 || requested > MAX_PAGE) {
    throw invalid("pageSize", `pageSize must be 0 (for ${DEFAULT_PAGE}) or 1 to ${MAX_PAGE}`);
  }
  return requested;
}

function classIdToken(token: string): bigint {
  if (token === "") return 0n;
  if (!/^\d{1,19}$/.test(token))
    throw invalid("pageToken", "pageToken is not a token of this list");
  return BigInt(token);
}

function dateOf(timestamp: Timestamp): Date {
  return timestampDate(timestamp);
}

function invalid(field: string, message: string): FacevaultError {
  return new FacevaultError("invalid_argument", message, { field });
}
