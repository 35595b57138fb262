// Arguments are refused, never cut: a connection's `first`/`last` above MAX_PAGE_SIZE, and any
// list longer than MAX_NODES — nodes(ids:), _entities(representations:), a list argument or a
// list field of an input object at any depth — answer BAD_USER_INPUT naming the limit before
// anything runs. Judged on the values each field actually receives (a literal, a variable, or
// the variable's default), coerced as execution will coerce them.
import {
  GraphQLError,
  Kind,
  TypeInfo,
  getArgumentValues,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  isInputObjectType,
  isListType,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
} from "graphql";
import type { Plugin } from "graphql-yoga";

export interface ArgumentLimits {
  maxPageSize: number;
  maxNodes: number;
}

/** The first list under `value` longer than `maxNodes`, as a path of input names, or null. */
function overlongList(type: GraphQLInputType, value: unknown, path: string[], maxNodes: number): { path: string[]; length: number } | null {
  if (value === null || value === undefined) return null;
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    if (!Array.isArray(value)) return overlongList(nullable.ofType, value, path, maxNodes);
    if (value.length > maxNodes) return { path, length: value.length };
    for (const item of value) {
      const found = overlongList(nullable.ofType, item, path, maxNodes);
      if (found) return found;
    }
    return null;
  }
  if (isInputObjectType(nullable) && typeof value === "object") {
    for (const field of Object.values(nullable.getFields())) {
      const found = overlongList(field.type, (value as Record<string, unknown>)[field.name], [...path, field.name], maxNodes);
      if (found) return found;
    }
  }
  return null;
}

function checkField(field: GraphQLField<unknown, unknown>, node: FieldNode, values: Record<string, unknown>, limits: ArgumentLimits): GraphQLError[] {
  const errors: GraphQLError[] = [];
  if (getNamedType(field.type).name.endsWith("Connection")) {
    for (const name of ["first", "last"]) {
      const value = values[name];
      if (typeof value === "number" && value > limits.maxPageSize) {
        errors.push(
          new GraphQLError(`${field.name}(${name}: ${value}) is above the maximum page size of ${limits.maxPageSize}; page with the cursor instead`, {
            nodes: [node],
            extensions: { code: "BAD_USER_INPUT", field: name, maxPageSize: limits.maxPageSize },
          }),
        );
      }
    }
  }
  for (const argument of field.args as readonly GraphQLArgument[]) {
    const found = overlongList(argument.type, values[argument.name], [argument.name], limits.maxNodes);
    if (!found) continue;
    // Named as the domain names it: a mutation's `input.` is left out ("permissions"), other arguments stay ("filter.roleIds").
    const fieldName = found.path[0] === "input" && found.path.length > 1 ? found.path.slice(1).join(".") : found.path.join(".");
    errors.push(
      new GraphQLError(`${field.name}(${found.path.join(".")}:) has ${found.length} items; at most ${limits.maxNodes} are accepted (MAX_NODES): send fewer per request`, {
        nodes: [node],
        extensions: { code: "BAD_USER_INPUT", field: fieldName, maxItems: limits.maxNodes },
      }),
    );
  }
  return errors;
}

/** Root fields that load one object per item of a list argument. */
const ID_LISTS: Record<string, string> = { nodes: "ids", _entities: "representations" };

/**
 * The items of every nodes/_entities field the operation runs, added up: aliases repeat a field,
 * and each repetition loads its list again, so MAX_NODES bounds their sum per request.
 */
function idsLoaded(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>): number {
  const queryType = schema.getQueryType();
  if (operation.operation !== "query" || !queryType) return 0;
  const fragments = new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  let total = 0;
  const walk = (selections: SelectionSetNode, within: ReadonlySet<string>) => {
    for (const selection of selections.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) walk(selection.selectionSet, within);
      else if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (fragment && !within.has(fragment.name.value)) walk(fragment.selectionSet, new Set([...within, fragment.name.value]));
      } else if (ID_LISTS[selection.name.value]) {
        const field = queryType.getFields()[selection.name.value];
        if (!field) continue;
        try {
          const list = getArgumentValues(field, selection, variables)[ID_LISTS[selection.name.value]!];
          if (Array.isArray(list)) total += list.length;
        } catch {
          // an invalid argument: execution answers it
        }
      }
    }
  };
  walk(operation.selectionSet, new Set());
  return total;
}

/** Every field's argument values in the operation that runs (fragments included), checked against the limits. */
function argumentLimitErrors(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, rawVariables: Record<string, unknown>, limits: ArgumentLimits): GraphQLError[] {
  const operation = getOperationAST(document, operationName);
  if (!operation) return [];
  // Coerced with the operation's defaults, as execution will; invalid variables are execution's to report.
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables, { maxErrors: 1 });
  if (coerced.errors) return [];
  const variables = coerced.coerced;
  const typeInfo = new TypeInfo(schema);
  const errors: GraphQLError[] = [];
  const runs = { kind: Kind.DOCUMENT, definitions: document.definitions.filter((definition) => definition === operation || definition.kind === Kind.FRAGMENT_DEFINITION) } as DocumentNode;
  visit(
    runs,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const field = typeInfo.getFieldDef();
        if (!field || field.args.length === 0) return;
        let values: Record<string, unknown>;
        try {
          values = getArgumentValues(field, node, variables);
        } catch {
          return; // a missing or invalid argument: execution answers it
        }
        errors.push(...checkField(field, node, values, limits));
      },
    }),
  );
  if (errors.length === 0) {
    const total = idsLoaded(schema, document, operation, variables);
    if (total > limits.maxNodes) {
      errors.push(
        new GraphQLError(`This request loads ${total} objects by id (nodes, _entities); at most ${limits.maxNodes} in all are accepted (MAX_NODES): send fewer per request`, {
          extensions: { code: "BAD_USER_INPUT", maxItems: limits.maxNodes },
        }),
      );
    }
  }
  return errors;
}

export function argumentLimits(limits: ArgumentLimits): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const errors = argumentLimitErrors(args.schema, args.document, args.operationName, (args.variableValues ?? {}) as Record<string, unknown>, limits);
      if (errors.length > 0) setResultAndStopExecution({ errors });
    },
  };
}
