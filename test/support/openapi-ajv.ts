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
 * Ajv (JSON Schema 2020-12, the OpenAPI 3.1 dialect) with the whole document loaded, so that
 * `$ref`s into its components resolve from any schema in it. Strict: unknown keywords and bad
 * schemas throw.
 */
export function createOpenApiAjv(doc: OpenApiDoc): OpenApiAjv {
  const ajv = new Ajv2020({ strict: true, strictTypes: false, allErrors: true });
  addFormats.default(ajv);
  // The document's own fields are containers, not keywords of any schema.
  for (const key of Object.keys(doc)) ajv.addKeyword(key);
  ajv.addSchema({ ...doc, $id: "doc" });
  return { compileAt: (pointer) => ajv.compile({ $ref: `doc${pointer}` }) };
}
