// Limits every request meets before any resolver runs: document depth, aliases, tokens,
// directives and cost (graphql-armor, as validation rules, so a refused document runs no SQL),
// body size (HTTP 413 before parsing), batching, and an overall execution timeout. Each refusal
// has its own stable extensions.code (README, Security).
import { costLimitPlugin } from "@escape.tech/graphql-armor-cost-limit";
import { maxAliasesPlugin } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthPlugin } from "@escape.tech/graphql-armor-max-depth";
import { maxDirectivesPlugin } from "@escape.tech/graphql-armor-max-directives";
import { maxTokensPlugin } from "@escape.tech/graphql-armor-max-tokens";
import { GraphQLError, visit, type ExecutionResult } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { RequestLimits } from "../config.js";

/** Gives armor's refusal its own code (armor leaves the generic one of the phase). */
function coded(code: string) {
  return {
    propagateOnRejection: true,
    onReject: [
      (_context: unknown, error: GraphQLError) => {
        (error.extensions as Record<string, unknown>).code = code;
      },
    ],
  };
}

export function documentLimits(limits: RequestLimits): Plugin[] {
  return [
    maxTokensPlugin({ n: limits.maxTokens, ...coded("TOKEN_LIMIT_EXCEEDED") }) as Plugin,
    maxDepthPlugin({ n: limits.maxDepth, flattenFragments: true, ...coded("DEPTH_LIMIT_EXCEEDED") }) as Plugin,
    maxAliasesPlugin({ n: limits.maxAliases, ...coded("ALIAS_LIMIT_EXCEEDED") }) as Plugin,
    maxDirectivesPlugin({ n: limits.maxDirectives, ...coded("DIRECTIVE_LIMIT_EXCEEDED") }) as Plugin,
    // Cost: 2 per object field and 1 per scalar, multiplied by a list's literal first/last, down
    // the tree (so it approximates rows × fields). No extra factor per level: armor's default
    // grows exponentially with depth and would refuse ordinary nested pages.
    costLimitPlugin({ maxCost: limits.maxCost, objectCost: 2, scalarCost: 1, depthCostFactor: 1, flattenFragments: true, ...coded("COST_LIMIT_EXCEEDED") }) as Plugin,
  ];
}

function tooLarge(maxBodyBytes: number): Response {
  return new Response(
    JSON.stringify({ errors: [{ message: `The request body is larger than ${maxBodyBytes} bytes`, extensions: { code: "PAYLOAD_TOO_LARGE" } }] }),
    { status: 413, headers: { "content-type": "application/json; charset=utf-8" } },
  );
}

/** HTTP 413 for bodies over the limit, judged by Content-Length, or by reading a chunked body up to the limit. */
export function bodySizeLimit(maxBodyBytes: number): Plugin {
  return {
    async onRequest({ request, endResponse }) {
      if (request.method !== "POST") return;
      const declared = request.headers.get("content-length");
      if (declared !== null) {
        if (Number(declared) > maxBodyBytes) endResponse(tooLarge(maxBodyBytes));
        return;
      }
      // No length given (chunked): count while reading a copy, and stop at the limit.
      const reader = request.clone().body?.getReader();
      if (!reader) return;
      let total = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        total += value.byteLength;
        if (total > maxBodyBytes) {
          await reader.cancel();
          return endResponse(tooLarge(maxBodyBytes));
        }
      }
    },
  };
}

/** The path of the first string holding a NUL character in a JSON-ish value, or null. */
function nulPath(value: unknown, path: string): string | null {
  if (typeof value === "string") return value.includes("\u0000") ? path : null;
  if (value && typeof value === "object") {
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const found = nulPath(child, path ? `${path}.${key}` : key);
      if (found) return found;
    }
  }
  return null;
}

/**
 * PostgreSQL can't store the NUL character in text: refuse it in any variable or string
 * literal up front (BAD_USER_INPUT naming the field) instead of failing deep in a write.
 */
export function rejectNulCharacters(): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      let field = nulPath(args.variableValues ?? {}, "");
      if (!field) {
        visit(args.document, {
          StringValue(node) {
            if (!field && node.value.includes("\u0000")) field = "query";
          },
        });
      }
      if (field) {
        // Variables are named like forms name fields: "$input.name" → "name".
        const name = field.split(".").slice(field.includes(".") ? 1 : 0).join(".");
        setResultAndStopExecution({
          errors: [new GraphQLError("Text may not contain the NUL character (\\u0000)", { extensions: { code: "BAD_USER_INPUT", field: name } })],
        });
      }
    },
  };
}

/** Answers an execution that runs longer than the limit with TIMEOUT (its statements end by statement_timeout). */
export function executionTimeout(timeoutMs: number): Plugin {
  return {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn(async (args) => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<ExecutionResult>((resolve) => {
          timer = setTimeout(
            () =>
              resolve({
                errors: [new GraphQLError(`The request took longer than ${timeoutMs} ms and was stopped`, { extensions: { code: "TIMEOUT" } })],
              }),
            timeoutMs,
          );
        });
        try {
          return await Promise.race([executeFn(args) as Promise<ExecutionResult>, timeout]);
        } finally {
          clearTimeout(timer);
        }
      });
    },
  };
}
