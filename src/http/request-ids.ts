// Every request has an id: the caller's X-Request-Id when well-formed, else a new one. It is
// echoed back, logged with the request, and put on masked INTERNAL_SERVER_ERRORs, so an answer
// finds its log entry.
import { randomUUID } from "node:crypto";
import type { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Logger } from "../logger.js";
import { factsOf } from "../observability/request-facts.js";

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Gives every request an id (the caller's X-Request-Id when well-formed) and echoes it back. */
export function requestIds(): Plugin {
  return {
    onRequest({ request, serverContext }) {
      const given = request.headers.get("x-request-id");
      const id = given && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
      factsOf(request).requestId = id;
      (serverContext as { requestId?: string }).requestId = id;
    },
    onResponse({ request, response }) {
      const id = factsOf(request).requestId;
      if (id) response.headers.set("x-request-id", id);
    },
  };
}

/**
 * A masked INTERNAL_SERVER_ERROR carries the request id, which finds the full error in the log
 * (the "unexpected error" entry and the request's own line both have it).
 */
export function requestIdOnInternalErrors(logger: Logger): Plugin {
  return {
    onResultProcess({ result, serverContext }) {
      const requestId = (serverContext as { requestId?: string } | undefined)?.requestId;
      for (const each of Array.isArray(result) ? result : [result]) {
        for (const error of (each as { errors?: readonly GraphQLError[] }).errors ?? []) {
          if (error.extensions?.code !== "INTERNAL_SERVER_ERROR" || !requestId) continue;
          (error.extensions as Record<string, unknown>).requestId = requestId;
          logger.error({ requestId, path: error.path }, "request answered with INTERNAL_SERVER_ERROR (the unexpected error is logged just before)");
        }
      }
    },
  };
}
