// The request log: one JSON line per request.
import type { Plugin } from "graphql-yoga";
import type { Logger } from "../logger.js";
import { factsOf } from "./request-facts.js";

/**
 * One JSON line per request: id, operation, viewer, status, duration and error codes. Never the
 * headers, the document's variables or the response body: that is where secrets travel.
 */
export function requestLogging(logger: Logger): Plugin {
  return {
    onResponse({ request, response }) {
      const url = new URL(request.url);
      if (url.pathname === "/healthz" || url.pathname === "/readyz" || url.pathname === "/metrics") return;
      const facts = factsOf(request);
      logger.info(
        {
          requestId: facts.requestId,
          method: request.method,
          path: url.pathname,
          operationName: facts.operationName,
          operationType: facts.operationType,
          viewerId: facts.viewerId,
          status: response.status,
          durationMs: Math.round((performance.now() - facts.startedAt) * 10) / 10,
          ...(facts.errorCodes.length > 0 ? { errorCodes: facts.errorCodes } : {}),
        },
        "request",
      );
    },
  };
}
