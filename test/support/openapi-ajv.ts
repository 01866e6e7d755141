import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

/** An OpenAPI document as parsed JSON. */
// biome-ignore lint/suspicious/noExplicitAny: a document is walked by JSON pointers in tests.
export type OpenApiDoc = Record<string, any>;

export interface OpenApiAjv {
  /** Compiles the schema at a JSON pointer into the document (`#/components/schemas/X`). */
  compileAt(pointer: string): ValidateFunction;
}

/**
 * Ajv (JSON Schema 2020-12, the OpenAPI 3.1 dialect) with the document's components loaded, so
 * that `$ref`s between them resolve. Strict: unknown keywords and bad schemas throw.
 */
export function createOpenApiAjv(doc: OpenApiDoc): OpenApiAjv {
  const ajv = new Ajv2020({ strict: true, strictTypes: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addKeyword("components"); // the container, not a keyword of any schema
  ajv.addSchema({ $id: "doc", components: doc.components });
  return { compileAt: (pointer) => ajv.compile({ $ref: `doc${pointer}` }) };
}
