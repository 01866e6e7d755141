import {
  create,
  createFileRegistry,
  type DescExtension,
  type DescMethod,
  type DescService,
  protoInt64,
} from "@bufbuild/protobuf";
import {
  type CodeGeneratorRequest,
  CodeGeneratorResponse_Feature,
  CodeGeneratorResponseSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import type { Plugin } from "@bufbuild/protoplugin";
import { type HttpBinding, httpBindings } from "./http-rules.js";
import { buildOpenApiDocument } from "./openapi-document.js";

/** Plugin options (`opt:` in buf.gen.yaml). */
export interface OpenApiPluginOptions {
  /** Name of the generated file. Default `openapi.json`. */
  file: string;
  /** `info.title`. Default `REST API`. */
  title: string;
  /** `info.version`. Default: the last component of the first service's package (`v1`). */
  version: string | undefined;
}

export const pluginName = "protoc-gen-openapi";
export const pluginVersion = "1.0.0";

/** Parses `key=value,key=value`; unknown keys are refused so a typo does not pass unnoticed. */
export function parseOptions(parameter: string): OpenApiPluginOptions {
  const options: OpenApiPluginOptions = {
    file: "openapi.json",
    title: "REST API",
    version: undefined,
  };
  for (const pair of parameter.split(",").filter(Boolean)) {
    const eq = pair.indexOf("=");
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? "" : pair.slice(eq + 1);
    if (key !== "file" && key !== "title" && key !== "version") {
      throw new Error(`${pluginName}: unknown option '${key}' (known: file, title, version)`);
    }
    if (!value) throw new Error(`${pluginName}: option '${key}' needs a value`);
    options[key] = value;
  }
  return options;
}

/**
 * A protoc plugin that writes one OpenAPI 3.1 document for every `google.api.http` binding of
 * the services in the files to generate (run it with `strategy: all` so that every service lands
 * in one document). It writes JSON, not ECMAScript, so it implements protoplugin's `Plugin`
 * directly rather than through `createEcmaScriptPlugin`, whose targets (ts, js, dts) do not fit.
 */
export function createOpenApiPlugin(): Plugin {
  return {
    name: pluginName,
    version: pluginVersion,
    run(request: CodeGeneratorRequest) {
      const options = parseOptions(request.parameter);
      const registry = createFileRegistry(
        create(FileDescriptorSetSchema, { file: request.protoFile }),
      );
      const http = registry.getExtension("google.api.http") as DescExtension | undefined;
      const services: { service: DescService; bindings: Map<DescMethod, HttpBinding[]> }[] = [];
      for (const name of request.fileToGenerate) {
        const file = registry.getFile(name);
        if (!file || !http) continue;
        for (const service of file.services) {
          const bindings = new Map<DescMethod, HttpBinding[]>();
          for (const method of service.methods) {
            // REST transcoding serves unary calls only.
            if (method.methodKind !== "unary") continue;
            const list = httpBindings(method, http);
            if (list.length) bindings.set(method, list);
          }
          if (bindings.size) services.push({ service, bindings });
        }
      }
      const files = [];
      const first = services[0]?.service;
      if (first) {
        const version = options.version ?? first.file.proto.package.split(".").pop() ?? "1";
        const document = buildOpenApiDocument({ title: options.title, version, services });
        files.push({ name: options.file, content: `${JSON.stringify(document, null, 2)}\n` });
      }
      return create(CodeGeneratorResponseSchema, {
        supportedFeatures: protoInt64.parse(CodeGeneratorResponse_Feature.PROTO3_OPTIONAL),
        file: files,
      });
    },
  };
}
