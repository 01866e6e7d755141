import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { Admin } from "../../gen/facevault/admin/v1/admin_pb.js";
import type { AdminKeyRegistry } from "../auth/admin-keys.js";
import type { AdminCall, AdminService } from "../service/admin-service.js";
import type { CallAuthenticator } from "./call-interceptor.js";
import { adminKey } from "./context-values.js";

/**
 * Admin keys instead of client JWTs for the admin service. Its calls are recorded in the call
 * log like any other, as client `admin:<id>`, so that deletes and prunes leave a trace.
 */
export function adminAuthenticator(registry: AdminKeyRegistry): CallAuthenticator {
  return (authorization, values) => {
    const admin = registry.authenticate(authorization);
    values.set(adminKey, admin);
    return `admin:${admin.id}`;
  };
}

/** The admin RPCs as a Connect service implementation, all served by `service`. */
export function adminImpl(service: AdminService): ServiceImpl<typeof Admin> {
  const call = (ctx: HandlerContext): AdminCall => {
    const admin = ctx.values.get(adminKey);
    // The call interceptor authenticates first; a missing admin means it was bypassed.
    if (!admin) throw new ConnectError("not authenticated", Code.Unauthenticated);
    return { admin };
  };
  return {
    listPartitions: (_req, ctx) => service.listPartitions(call(ctx)),
    listTemplates: (req, ctx) => service.listTemplates(req, call(ctx)),
    getTemplate: (req, ctx) => service.getTemplate(req, call(ctx)),
    deleteTemplatesByTag: (req, ctx) => service.deleteTemplatesByTag(req, call(ctx)),
    listJobs: (req, ctx) => service.listJobs(req, call(ctx)),
    pruneJobs: (req, ctx) => service.pruneJobs(req, call(ctx)),
  };
}
