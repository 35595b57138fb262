// Limits every request meets before any resolver runs: document depth, aliases, tokens,
// directives and cost (graphql-armor, as validation rules, so a refused document runs no SQL),
// body size (HTTP 413 before parsing), batching, and an overall execution timeout. Each refusal
// has its own stable extensions.code (README, Security).
import { costLimitPlugin } from "@escape.tech/graphql-armor-cost-limit";
import { maxAliasesPlugin } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthPlugin } from "@escape.tech/graphql-armor-max-depth";
import { maxDirectivesPlugin } from "@escape.tech/graphql-armor-max-directives";
import { maxTokensPlugin } from "@escape.tech/graphql-armor-max-tokens";
import {
  GraphQLError,
  getNullableType,
  getOperationAST,
  isInputObjectType,
  isListType,
  typeFromAST,
  visit,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLInputType,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import type { RequestLimits } from "../config.js";
import { unstorableIn, unstorableText } from "../core/text.js";

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

/**
 * The first text PostgreSQL can't store in the operation's declared variables: the input field
 * holding it (inside a JSON scalar, the scalar's field) and why. Undeclared variables are never
 * read, so they aren't scanned; the walk keeps an explicit stack, so a value nested 20,000 deep
 * costs time, never the call stack.
 */
function unstorableVariable(args: ExecutionArgs): { field: string; message: string } | null {
  const variables = (args.variableValues ?? {}) as Record<string, unknown>;
  const stack: { value: unknown; type: GraphQLInputType | undefined; path: string }[] = [];
  for (const definition of getOperationAST(args.document, args.operationName)?.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    if (name in variables) stack.push({ value: variables[name], type: typeFromAST(args.schema, definition.type) as GraphQLInputType | undefined, path: name });
  }
  while (stack.length > 0) {
    const { value, type, path } = stack.pop()!;
    const nullable = type && getNullableType(type);
    if (isListType(nullable) && Array.isArray(value)) {
      for (const item of value) stack.push({ value: item, type: nullable.ofType, path });
    } else if (isInputObjectType(nullable) && value !== null && typeof value === "object" && !Array.isArray(value)) {
      const fields = nullable.getFields();
      for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
        const message = unstorableText(key);
        if (message) return { field: path, message };
        stack.push({ value: child, type: fields[key]?.type, path: `${path}.${key}` });
      }
    } else {
      const message = unstorableIn(value);
      if (message) return { field: path, message };
    }
  }
  return null;
}

/**
 * PostgreSQL can't store the NUL character or a lone UTF-16 surrogate: refuse them in any
 * declared variable (keys of JSON values too) or string literal up front, with BAD_USER_INPUT
 * naming the field, instead of failing deep in a write.
 */
export function rejectNulCharacters(): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      let found = unstorableVariable(args);
      if (!found) {
        visit(args.document, {
          StringValue(node) {
            const message = found ? null : unstorableText(node.value);
            if (message) found = { field: "query", message };
          },
        });
      }
      if (found) {
        // Variables are named like forms name fields: "$input.name" → "name".
        const { field, message } = found;
        const name = field.split(".").slice(field.includes(".") ? 1 : 0).join(".");
        setResultAndStopExecution({ errors: [new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT", field: name } })] });
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
