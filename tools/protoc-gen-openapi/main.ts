/**
 * protoc-gen-openapi: OpenAPI 3.1 for the REST bindings of the services in the input, run by
 * `buf generate` (buf.gen.yaml) through the project's own tsx.
 */
import { runNodeJs } from "@bufbuild/protoplugin";
import { createOpenApiPlugin } from "./openapi-plugin.js";

runNodeJs(createOpenApiPlugin());
