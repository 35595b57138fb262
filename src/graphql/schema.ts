// The schema: importing each type file registers its types and root fields on the builder.
import { printSubgraphSchema } from "@apollo/subgraph";
import { GraphQLObjectType, type GraphQLSchema } from "graphql";
import type { Context } from "./context.js";
import { builder } from "./builder.js";
import "./types/enums.js";
import "./types/user.js";
import "./types/role.js";
import "./types/member.js";
import "./types/organization.js";
import "./types/invitation.js";
import "./types/api-token.js";
import "./types/audit-event.js";
import "./types/membership-event.js";
import "./types/location.js";
import "./types/contacts.js";
import "./types/webhook.js";
import "./types/viewer-can.js";
import { answerBadRepresentationsAlone } from "./types/entities.js";

let schema: GraphQLSchema | undefined;

/** The federation v2 subgraph schema: the API plus `_service` and `_entities`. */
export function getSchema(): GraphQLSchema {
  if (!schema) {
    schema = builder.toSubGraphSchema({
      linkUrl: "https://specs.apollo.dev/federation/v2.6",
      federationDirectives: ["@key", "@shareable"],
    });
    answerBadRepresentationsAlone(schema);
    for (const type of ["Member", "User"]) vouchedFirst(schema, type);
  }
  return schema;
}

/**
 * Type-level auth scopes run in the type's isTypeOf (scope-auth's runScopesOnType), for every
 * object. An object a list already authorized as a whole (Policy.vouchForMembers) passes without
 * that machinery; every other object — from node, nodes, _entities, payloads, other lists — still
 * takes the full check. test/optimised-paths.test.ts holds the answers equal to the full path.
 */
function vouchedFirst(schema: GraphQLSchema, typeName: string): void {
  const type = schema.getType(typeName);
  const check = type instanceof GraphQLObjectType ? type.isTypeOf : undefined;
  if (!type || !check) throw new Error(`${typeName} has no type-level auth check to shortcut`);
  (type as GraphQLObjectType<unknown, Context>).isTypeOf = (value, context, info) => context.policy.isVouched(value) || check(value, context, info);
}

/** The subgraph SDL (with @link and @key) checked in as schema.graphql. */
export function printSchemaSdl(): string {
  return `${printSubgraphSchema(getSchema()).trim()}\n`;
}
