import {
  type DescExtension,
  type DescField,
  type DescMessage,
  type DescMethod,
  getOption,
  hasOption,
  type Message,
} from "@bufbuild/protobuf";
import type { GenExtension } from "@bufbuild/protobuf/codegenv2";
import type { MethodOptions } from "@bufbuild/protobuf/wkt";

/** The fields of a `google.api.HttpRule` this generator reads (protobuf-es local names). */
interface HttpRuleShape {
  pattern: { case: string | undefined; value?: unknown };
  body: string;
  responseBody: string;
  additionalBindings: HttpRuleShape[];
}

/** One HTTP binding of an RPC. */
export interface HttpBinding {
  /** Lower-case HTTP method: get, put, post, delete, patch. */
  method: "get" | "put" | "post" | "delete" | "patch";
  /** The OpenAPI path: variables named by their JSON field paths, `/v1/things/{thingId}`. */
  path: string;
  /** Fields bound by path variables, each as its chain of fields from the request message. */
  pathFields: DescField[][];
  /** `*` (the whole request), a top-level field (the body is its JSON value), or undefined. */
  body: "*" | DescField | undefined;
  /** The answer field whose JSON value is the whole answer body, or undefined for all of it. */
  responseBody: DescField | undefined;
}

/** Thrown for rules the REST layer cannot serve; names the RPC and the rule. */
export class HttpRuleError extends Error {
  override readonly name = "HttpRuleError";
}

/**
 * The HTTP bindings of a method: its `google.api.http` rule and the rule's additional bindings.
 * `http` is the `google.api.http` extension as found in the request's files, so the generator
 * needs no generated code of its own. Custom verbs are skipped (OpenAPI has no place for them).
 * Path templates are limited to what facevault's transcoder serves (src/rest/path-template.ts):
 * literal segments and single-segment variables `{field}` or `{field=*}`.
 */
export function httpBindings(method: DescMethod, http: DescExtension): HttpBinding[] {
  // The extension comes from the request's files, so its value type is not known statically.
  const option = http as unknown as GenExtension<MethodOptions, Message>;
  if (!hasOption(method, option)) return [];
  const rule = getOption(method, option) as unknown as HttpRuleShape;
  return [rule, ...rule.additionalBindings].flatMap((r) => {
    const verb = r.pattern.case;
    if (
      verb !== "get" &&
      verb !== "put" &&
      verb !== "post" &&
      verb !== "delete" &&
      verb !== "patch"
    ) {
      return [];
    }
    return [binding(method, verb, String(r.pattern.value), r)];
  });
}

function binding(
  method: DescMethod,
  verb: HttpBinding["method"],
  template: string,
  rule: HttpRuleShape,
): HttpBinding {
  const where = `${method.parent.typeName}.${method.name} (${verb} ${template})`;
  if (!template.startsWith("/")) throw new HttpRuleError(`${where}: the path must start with /`);
  const pathFields: DescField[][] = [];
  const path = template
    .split("/")
    .map((segment) => {
      const variable = /^\{([A-Za-z_][A-Za-z0-9_.]*)(=\*)?\}$/.exec(segment);
      if (variable?.[1]) {
        const chain = fieldChain(method.input, variable[1], where);
        pathFields.push(chain);
        return `{${chain.map((f) => f.jsonName).join(".")}}`;
      }
      if (/[{}*]/.test(segment)) {
        throw new HttpRuleError(`${where}: only {field} and {field=*} variables are supported`);
      }
      return segment;
    })
    .join("/");

  for (const [name, value] of [
    ["body", rule.body],
    ["response_body", rule.responseBody],
  ]) {
    if (value?.includes("."))
      throw new HttpRuleError(`${where}: ${name} must be a top-level field`);
  }
  let body: HttpBinding["body"];
  if (rule.body === "*") body = "*";
  else if (rule.body) body = fieldChain(method.input, rule.body, where)[0];
  if (body && body !== "*" && pathFields.some((chain) => chain[0] === body)) {
    throw new HttpRuleError(`${where}: the body field is also a path variable`);
  }
  const responseBody = rule.responseBody
    ? fieldChain(method.output, rule.responseBody, where)[0]
    : undefined;
  return { method: verb, path, pathFields, body, responseBody };
}

/** Resolves a dotted field path (`a.b`) from a message, through message fields. */
function fieldChain(message: DescMessage, dotted: string, where: string): DescField[] {
  const chain: DescField[] = [];
  let current: DescMessage | undefined = message;
  for (const name of dotted.split(".")) {
    const field: DescField | undefined = current?.fields.find((f) => f.name === name);
    if (!field) throw new HttpRuleError(`${where}: '${dotted}' is not a field of ${message.name}`);
    chain.push(field);
    current = field.fieldKind === "message" ? field.message : undefined;
  }
  return chain;
}
