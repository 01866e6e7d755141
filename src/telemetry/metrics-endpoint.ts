import type { NodeRequest, NodeResponse } from "../http/node-types.js";
import type { Metrics } from "./metrics.js";

/**
 * Serves GET (and HEAD) /metrics in the Prometheus text format; false for every other request.
 * Unauthenticated, as scrapers expect: it holds counts and timings, never client data. Put it on
 * a port of its own (`metrics.port`) where the API port is public.
 */
export function metricsEndpoint(
  metrics: Metrics,
): (req: NodeRequest, res: NodeResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (path !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) return false;
    metrics.scrape().then(
      ({ contentType, text }) => {
        res.writeHead(200, {
          "content-type": contentType,
          "content-length": Buffer.byteLength(text),
        });
        if (req.method === "HEAD") res.end();
        else res.end(text);
      },
      () => {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end("metrics could not be collected\n");
      },
    );
    return true;
  };
}
