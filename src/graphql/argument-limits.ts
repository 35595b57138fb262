// Arguments are refused, never cut: a connection's `first`/`last` above MAX_PAGE_SIZE, and any
// list longer than MAX_NODES — nodes(ids:), _entities(representations:), a list argument or a
// list field of an input object at any depth — answer BAD_USER_INPUT naming the limit before
// anything runs. Judged on the values each field actually receives (a literal, a variable, or
// the variable's default), coerced as execution will coerce them. The same walk estimates how
// many fields the operation resolves, which decides whether it is a heavy document
// (heavy-documents.ts).
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
  isInterfaceType,
  isListType,
  isObjectType,
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
  type GraphQLNamedType,
  type GraphQLSchema,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import type { ConcurrencyGate } from "./heavy-documents.js";

export interface ArgumentLimits {
  maxPageSize: number;
  maxNodes: number;
  /** A connection's page size when neither first nor last is given (estimatedFields). */
  defaultPageSize: number;
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

/**
 * How many fields the operation may resolve: each field once per object it is asked of, where a
 * connection yields `first` (or `last`, or the default page size) objects and nodes/_entities one
 * per id. Other lists count as one. heavy-documents.ts decides by it; it is an estimate of size,
 * not a limit (GRAPHQL_MAX_COST is that).
 */
export function estimatedFields(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>, defaultPageSize: number): number {
  const root = schema.getRootType(operation.operation);
  if (!root) return 0;
  const fragments = new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  let total = 0;
  // `page`: the page size of the connection `parent` is, applied to its edges and nodes.
  const walk = (selections: SelectionSetNode, parent: GraphQLNamedType | undefined, times: number, within: ReadonlySet<string>, page = 1) => {
    for (const selection of selections.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet, selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent, times, within, page);
      } else if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (fragment && !within.has(fragment.name.value)) {
          walk(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value), times, new Set([...within, fragment.name.value]), page);
        }
      } else {
        total += times;
        const field = parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[selection.name.value] : undefined;
        if (!field || !selection.selectionSet) continue;
        const type = getNamedType(field.type);
        const connection = type.name.endsWith("Connection");
        if (!connection && !ID_LISTS[field.name]) {
          walk(selection.selectionSet, type, field.name === "edges" || field.name === "nodes" ? times * page : times, within);
          continue;
        }
        let values: Record<string, unknown> = {};
        try {
          values = getArgumentValues(field, selection, variables);
        } catch {
          // an invalid argument: execution answers it
        }
        const list = ID_LISTS[field.name] ? values[ID_LISTS[field.name]!] : undefined;
        const size = Array.isArray(list) ? list.length : (values.first ?? values.last ?? defaultPageSize);
        const count = typeof size === "number" && size > 0 ? size : 0;
        if (connection) walk(selection.selectionSet, type, times, within, count);
        else walk(selection.selectionSet, type, times * count, within);
      }
    }
  };
  walk(operation.selectionSet, root, 1, new Set());
  return total;
}

interface ArgumentAnalysis {
  errors: GraphQLError[];
  /** estimatedFields() of the operation; 0 when it has errors. */
  fields: number;
}

/** Every field's argument values in the operation that runs (fragments included), checked against the limits, and its estimated size. */
function analyseArguments(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, rawVariables: Record<string, unknown>, limits: ArgumentLimits): ArgumentAnalysis {
  const operation = getOperationAST(document, operationName);
  if (!operation) return { errors: [], fields: 0 };
  // Coerced with the operation's defaults, as execution will; invalid variables are execution's to report.
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables, { maxErrors: 1 });
  if (coerced.errors) return { errors: [], fields: 0 };
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
  return { errors, fields: errors.length === 0 ? estimatedFields(schema, document, operation, variables, limits.defaultPageSize) : 0 };
}

/**
 * Refuses arguments over the limits before anything runs; a document estimated at `heavy.heavyFields`
 * or more executes through `heavy.gate` (heavy-documents.ts). Registered before executionTimeout,
 * so the timeout counts the wait.
 */
export function argumentLimits(limits: ArgumentLimits, heavy?: { heavyFields: number; gate: ConcurrencyGate; timeoutMs: number }): Plugin {
  return {
    onExecute({ args, executeFn, setExecuteFn, setResultAndStopExecution }) {
      const { errors, fields } = analyseArguments(args.schema, args.document, args.operationName, (args.variableValues ?? {}) as Record<string, unknown>, limits);
      if (errors.length > 0) return setResultAndStopExecution({ errors });
      if (heavy && fields >= heavy.heavyFields) {
        const deadline = heavy.timeoutMs > 0 ? performance.now() + heavy.timeoutMs : Number.POSITIVE_INFINITY;
        setExecuteFn((executionArgs) => heavy.gate.run(() => executeFn(executionArgs), deadline));
      }
    },
  };
}
