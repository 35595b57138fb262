// What one request was, gathered once as it passes through Yoga and read by the request log,
// the metrics and the tracing: its id, operation, viewer, error codes and timing.
import { getOperationAST, type ExecutionResult, type GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";

export interface RequestFacts {
  /** performance.now() when the request arrived. */
  startedAt: number;
  requestId?: string;
  /** The operation's name ("anonymous" without one), bounded so metrics labels stay few. */
  operationName?: string;
  operationType?: "query" | "mutation" | "subscription";
  viewerId?: string;
  /** extensions.code of each error in the response, in order (INTERNAL_SERVER_ERROR when absent). */
  errorCodes: string[];
}

const facts = new WeakMap<Request, RequestFacts>();

/** The facts of a request (an empty record for one this plugin hasn't seen). */
export function factsOf(request: Request): RequestFacts {
  let found = facts.get(request);
  if (!found) {
    found = { startedAt: performance.now(), errorCodes: [] };
    facts.set(request, found);
  }
  return found;
}

const NAME = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;

/** An operation name as logged and labelled: GraphQL's name syntax, or "invalid". */
function operationLabel(name: string | null | undefined): string {
  if (!name) return "anonymous";
  return NAME.test(name) ? name : "invalid";
}

function codesOf(result: unknown): string[] {
  const results = Array.isArray(result) ? result : [result];
  const codes: string[] = [];
  for (const each of results) {
    for (const error of ((each as ExecutionResult | undefined)?.errors ?? []) as GraphQLError[]) {
      const code = error.extensions?.code;
      codes.push(typeof code === "string" ? code : "INTERNAL_SERVER_ERROR");
    }
  }
  return codes;
}

/** Collects RequestFacts; first in the plugin list so every later hook can read them. */
export function requestFacts(): Plugin<{ viewer?: { user: { id: string } } | null }> {
  return {
    onRequest({ request }) {
      factsOf(request);
    },
    onParams({ request, params }) {
      // Before execution (and for documents refused earlier) the name the caller gave.
      // A batch may hold anything, null included: Yoga refuses such an item itself.
      factsOf(request).operationName = operationLabel((params as { operationName?: string } | null)?.operationName);
    },
    onExecute({ args }) {
      const request = (args.contextValue as { request?: Request }).request;
      if (!request) return;
      const found = factsOf(request);
      const operation = getOperationAST(args.document, args.operationName);
      if (operation) {
        found.operationName = operationLabel(operation.name?.value);
        found.operationType = operation.operation;
      }
      found.viewerId = (args.contextValue as { viewer?: { user: { id: string } } | null }).viewer?.user.id;
    },
    onResultProcess({ request, result }) {
      factsOf(request).errorCodes.push(...codesOf(result));
    },
  };
}
