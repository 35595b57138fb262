// The schema: importing each type file registers its types and root fields on the builder.
import { printSubgraphSchema } from "@apollo/subgraph";
import type { GraphQLSchema } from "graphql";
import { builder } from "./builder.js";
import "./types/enums.js";
import "./types/user.js";
import "./types/role.js";
import "./types/member.js";
import "./types/organization.js";
import "./types/invitation.js";
import "./types/api-token.js";
import "./types/audit-event.js";
import "./types/location.js";
import "./types/contacts.js";
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
  }
  return schema;
}

/** The subgraph SDL (with @link and @key) checked in as schema.graphql. */
export function printSchemaSdl(): string {
  return `${printSubgraphSchema(getSchema()).trim()}\n`;
}
