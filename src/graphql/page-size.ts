// Connections never truncate silently: a `first` or `last` above the configured maximum is
// refused before execution with BAD_USER_INPUT, naming the limit, instead of being clamped.
import { GraphQLError, Kind, TypeInfo, getNamedType, visit, visitWithTypeInfo, valueFromASTUntyped } from "graphql";
import type { Plugin } from "graphql-yoga";

export function pageSizeLimit(maxPageSize: number): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const typeInfo = new TypeInfo(args.schema);
      const variables = (args.variableValues ?? {}) as Record<string, unknown>;
      const errors: GraphQLError[] = [];
      visit(
        args.document,
        visitWithTypeInfo(typeInfo, {
          Argument(node) {
            if (node.name.value !== "first" && node.name.value !== "last") return;
            const field = typeInfo.getFieldDef();
            if (!field || !getNamedType(field.type).name.endsWith("Connection")) return;
            const value =
              node.value.kind === Kind.VARIABLE ? variables[node.value.name.value] : valueFromASTUntyped(node.value, variables);
            if (typeof value === "number" && value > maxPageSize) {
              errors.push(
                new GraphQLError(`${field.name}(${node.name.value}: ${value}) is above the maximum page size of ${maxPageSize}; page with the cursor instead`, {
                  nodes: [node],
                  extensions: { code: "BAD_USER_INPUT", maxPageSize },
                }),
              );
            }
          },
        }),
      );
      if (errors.length > 0) setResultAndStopExecution({ errors });
    },
  };
}
