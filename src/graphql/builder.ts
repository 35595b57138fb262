// The Pothos SchemaBuilder: plugins, scalars and the auth scopes. It defines no object types;
// those live in types/, one file each.
import SchemaBuilder from "@pothos/core";
import DirectivesPlugin from "@pothos/plugin-directives";
import FederationPlugin from "@pothos/plugin-federation";
import PrismaPlugin, { getRefFromModel, PrismaObjectRef } from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import TracingPlugin, { isExposedField, isRootField } from "@pothos/plugin-tracing";
import { createOpenTelemetryWrapper } from "@pothos/tracing-opentelemetry";
import { GraphQLError } from "graphql";
import {
  DateTimeResolver,
  EmailAddressResolver,
  JSONObjectResolver,
  JSONResolver,
  PhoneNumberResolver,
  TimeZoneResolver,
  UUIDResolver,
} from "graphql-scalars";
import type { Permission } from "../core/permissions.js";
import { AppError } from "../core/errors.js";
import type PrismaTypes from "../generated/pothos-prisma-types.js";
import { getDatamodel } from "../generated/pothos-prisma-types.js";
import { tracer, tracingActive } from "../observability/tracing.js";
import type { Context } from "./context.js";
import GlobalIdArgsPlugin from "./global-id-args.js";
import { resolveNodeId, resolveNodeIds } from "./node-loading.js";
import { reportUnusedQuery } from "./planner-checks.js";

export interface OrgPermissionScope {
  organizationId: string;
  permission: Permission;
}

/**
 * Every plugin-prisma connection's page sizes come from the request's Config (MAX_PAGE_SIZE,
 * DEFAULT_PAGE_SIZE): spread into each connection. The builder is made once per process, at
 * import, before any Config exists, so it holds none itself.
 */
export const PAGE_SIZES = {
  defaultSize: (_args: unknown, context: Context) => context.config.defaultPageSize,
  maxSize: (_args: unknown, context: Context) => context.config.maxPageSize,
};

// Resolver spans say which field and path; never the arguments or error messages (either may
// carry what a caller sent). The request's span has the error codes.
const traceResolver = createOpenTelemetryWrapper(tracer, { includeArgs: false, includeSource: false, ignoreError: true });

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: {
    /** Any signed-in caller. */
    authenticated: boolean;
    /** The caller is an active member of the organization and their role grants the permission. */
    orgPermission: OrgPermissionScope;
    /** The caller holds the permission at this location (organization-wide, or through a role held there). */
    locationPermission: { organizationId: string; locationId: string; permission: Permission };
    /** The caller is an active member of the organization (any role). */
    orgMember: string;
    /** The caller was added to the organization and hasn't accepted yet (they may see the organization itself). */
    orgPending: string;
    /** The caller is an active owner of the organization. */
    orgOwner: string;
    /** The caller's email is this one (an invitation's addressee). */
    invitee: string;
    /** The caller is this user. */
    self: string;
    /** The caller is a platform operator. */
    operator: boolean;
    /** The caller may see this user (themselves, or a member of an org where they hold members:read). */
    userVisible: string;
  };
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    EmailAddress: { Input: string; Output: string };
    JSON: { Input: unknown; Output: unknown };
    JSONObject: { Input: Record<string, unknown>; Output: unknown };
    PhoneNumber: { Input: string; Output: string };
    TimeZone: { Input: string; Output: string };
    UUID: { Input: string; Output: string };
  };
  DefaultFieldNullability: false;
  Tracing: boolean;
}>({
  // Tracing first, so a resolver's span covers its auth check too. Federation comes after the
  // plugins that wrap resolvers, so entity fetches pass through them. GlobalIdArgs comes before
  // Relay, so it wraps relay's decoding of global-ID arguments (global-id-args.ts).
  plugins: [TracingPlugin, ScopeAuthPlugin, PrismaPlugin, GlobalIdArgsPlugin, RelayPlugin, DirectivesPlugin, FederationPlugin],
  tracing: {
    // Spans for root fields and resolvers of our own (relations, loaders, connections): the
    // ones that can wait on the database. Exposed columns and ids cost nothing worth a span.
    default: (config) => isRootField(config) || (!isExposedField(config) && config.name !== "id"),
    wrap: (resolver, options) => {
      const traced = traceResolver(resolver, options);
      return (parent, args, context, info) => (tracingActive() ? traced(parent, args, context, info) : resolver(parent, args, context, info));
    },
  },
  defaultFieldNullability: false,
  scopeAuth: {
    // Type-level scopes run for every object of that type, wherever it is reached from
    // (root fields, nested fields, node(id:)): the second line of defence after the loaders.
    runScopesOnType: true,
    treatErrorsAsUnauthorized: false,
    unauthorizedError: (_parent, context) =>
      context.viewer
        ? new AppError("FORBIDDEN", "You do not have permission to see this", { reason: "MISSING_PERMISSION" })
        : new AppError("UNAUTHENTICATED", "Sign in first: send an Authorization: Bearer <token> header"),
    authScopes: (context) => ({
      authenticated: context.viewer !== null,
      orgPermission: ({ organizationId, permission }) => context.policy.can(organizationId, permission),
      locationPermission: ({ organizationId, locationId, permission }) => context.policy.can(organizationId, permission, locationId),
      orgMember: (organizationId) => context.policy.isActiveMember(organizationId),
      orgPending: (organizationId) => context.policy.isPendingMember(organizationId),
      orgOwner: (organizationId) => context.policy.isOwner(organizationId),
      invitee: (email) => context.viewer?.emails.includes(email) ?? false,
      self: (userId) => context.viewer?.user.id === userId,
      operator: context.policy.isOperator,
      userVisible: (userId) => context.policy.canSeeUser(userId),
    }),
  },
  prisma: {
    client: (context) => context.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    // An unused planned query means a resolver forgot to spread `query`: an N+1 in waiting.
    onUnusedQuery: reportUnusedQuery,
  },
  relay: {
    clientMutationId: "omit",
    cursorType: "String",
    // Shareable, so a supergraph with other Relay subgraphs composes (see README, Federation).
    nodeQueryOptions: { authScopes: { authenticated: true }, shareable: true, resolve: resolveNodeId },
    nodesQueryOptions: { authScopes: { authenticated: true }, shareable: true, resolve: resolveNodeIds },
    // Other subgraphs return connections too: the gateway may take PageInfo from either.
    pageInfoTypeOptions: { shareable: true },
  },
});

builder.addScalarType("DateTime", DateTimeResolver);
builder.addScalarType("EmailAddress", EmailAddressResolver);
builder.addScalarType("JSON", JSONResolver);
// graphql-scalars quotes a refused value with `${value}`, which echoes it and overflows the stack
// on an array nested 20,000 deep: refuse non-objects without printing them.
builder.addScalarType("JSONObject", JSONObjectResolver, {
  parseValue: (value) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new GraphQLError("JSONObject must be a JSON object");
    return value as Record<string, unknown>;
  },
});
builder.addScalarType("PhoneNumber", PhoneNumberResolver);
builder.addScalarType("TimeZone", TimeZoneResolver);
builder.addScalarType("UUID", UUIDResolver);

/**
 * A prisma object type's ref by model name: the `for` of a global-ID argument in a file that the
 * type's own file imports (importing its ref would close an import cycle).
 */
export function prismaObjectRef(model: keyof PrismaTypes) {
  const ref = getRefFromModel(model, builder, "object");
  if (!(ref instanceof PrismaObjectRef)) throw new Error(`${model} is not a prisma object type`);
  return ref;
}

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

export const SortDirection = builder.enumType("SortDirection", {
  values: { ASC: { value: "asc" }, DESC: { value: "desc" } } as const,
});
