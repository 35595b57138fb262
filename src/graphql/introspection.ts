// Schema discovery (INTROSPECTION): `__schema`/`__type` for everyone, for signed-in callers only
// (the production default; GraphiQL sends its Headers tab with its own introspection), or for
// nobody, refused with INTROSPECTION_DISABLED before anything runs. Unless introspection is open
// to everyone, errors don't suggest names either ("Did you mean …"). `__typename` always answers,
// and so does federation's `_service { sdl }`: composition tools fetch it without a user's token,
// and it is the schema.graphql this repository publishes anyway.
import { blockFieldSuggestionsPlugin } from "@escape.tech/graphql-armor-block-field-suggestions";
import { GraphQLError, Kind, getOperationAST, visit, type DocumentNode } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { Config } from "../config.js";
import type { Context } from "./context.js";

const INTROSPECTION_FIELDS = new Set(["__schema", "__type"]);
const MASK = "[Suggestion hidden]";
// What armor's mask leaves: enum values, "to use an inline fragment on …", and variables' input fields.
const SUGGESTION = /Did you mean [^?]*\?/g;

/** Whether the operation that runs (with its fragments) asks for __schema or __type. */
function introspects(document: DocumentNode, operationName: string | null | undefined): boolean {
  const operation = getOperationAST(document, operationName);
  let found = false;
  for (const definition of document.definitions) {
    if (definition !== operation && definition.kind !== Kind.FRAGMENT_DEFINITION) continue;
    visit(definition, {
      Field(node) {
        if (INTROSPECTION_FIELDS.has(node.name.value)) found = true;
      },
    });
  }
  return found;
}

function hideSuggestions(errors: readonly Error[] | undefined) {
  for (const error of errors ?? []) if (error instanceof GraphQLError) error.message = error.message.replace(SUGGESTION, MASK);
}

/** Suggestions left in validation errors (after armor's plugin) and in variable-coercion errors. */
function hideRemainingSuggestions(): Plugin {
  return {
    onValidate: () => ({ result }) => hideSuggestions(result),
    onExecute: () => ({
      onExecuteDone: ({ result }) => {
        if (!(Symbol.asyncIterator in result)) hideSuggestions(result.errors);
      },
    }),
  };
}

function introspectionGate(mode: "false" | "authenticated"): Plugin<Context> {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      if (mode === "authenticated" && args.contextValue.viewer) return;
      if (!introspects(args.document, args.operationName)) return;
      const message =
        mode === "authenticated"
          ? "Introspection needs sign-in on this server: send an Authorization: Bearer <token> header"
          : "Introspection is turned off on this server (INTROSPECTION=false)";
      setResultAndStopExecution({ errors: [new GraphQLError(message, { extensions: { code: "INTROSPECTION_DISABLED" } })] });
    },
  };
}

export function schemaDiscovery(mode: Config["introspection"]): Plugin[] {
  if (mode === "true") return [];
  return [blockFieldSuggestionsPlugin({ mask: MASK }) as Plugin, hideRemainingSuggestions(), introspectionGate(mode) as Plugin];
}
