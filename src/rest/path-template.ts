import { FacevaultError } from "../errors.js";

/** A parsed `google.api.http` path template such as `/api/face/v1/enroll/{class_id}`. */
export interface PathTemplate {
  readonly template: string;
  /** Field paths bound by variables, in order. */
  readonly variables: readonly string[];
  /** Variable bindings when `pathname` matches, else undefined. Values are URL-decoded. */
  match(pathname: string): Record<string, string> | undefined;
}

type Segment = { literal: string } | { variable: string };

/**
 * Parses the subset of the http.proto template syntax this API uses: literal segments and
 * single-segment variables `{field}` or `{field=*}`.
 */
export function parsePathTemplate(template: string): PathTemplate {
  if (!template.startsWith("/")) {
    throw new FacevaultError("internal", `http rule path '${template}' must start with /`);
  }
  const segments: Segment[] = template
    .slice(1)
    .split("/")
    .map((part) => {
      const variable = /^\{([a-z_][a-z0-9_.]*)(=\*)?\}$/i.exec(part);
      if (variable?.[1]) return { variable: variable[1] };
      if (/[{}*]/.test(part)) {
        throw new FacevaultError("internal", `http rule path '${template}' is not supported`);
      }
      return { literal: part };
    });
  const variables = segments.flatMap((s) => ("variable" in s ? [s.variable] : []));

  return {
    template,
    variables,
    match(pathname) {
      const parts = pathname.slice(1).split("/");
      if (!pathname.startsWith("/") || parts.length !== segments.length) return undefined;
      const bound: Record<string, string> = {};
      for (let i = 0; i < segments.length; i++) {
        const segment = segments[i] as Segment;
        const part = parts[i] as string;
        if ("literal" in segment) {
          if (segment.literal !== part) return undefined;
        } else {
          if (part === "") return undefined;
          try {
            bound[segment.variable] = decodeURIComponent(part);
          } catch {
            return undefined;
          }
        }
      }
      return bound;
    },
  };
}
