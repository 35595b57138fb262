// The schema: importing each type file registers its types and root fields on the builder.
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from "graphql";
import { builder } from "./builder.js";
import "./types/enums.js";
import "./types/user.js";
import "./types/role.js";
import "./types/member.js";
import "./types/organization.js";
import "./types/invitation.js";
import "./types/api-token.js";
import "./types/audit-event.js";

let schema: GraphQLSchema | undefined;

export function getSchema(): GraphQLSchema {
  schema ??= builder.toSchema();
  return schema;
}

/** The SDL checked in as schema.graphql. */
export function printSchemaSdl(): string {
  return `${printSchema(lexicographicSortSchema(getSchema()))}\n`;
}
