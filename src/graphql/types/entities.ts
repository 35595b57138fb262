// Federation entities: other subgraphs reference Organization, User, Member and Role by key and
// the gateway fetches them here through `_entities`. Keys are the same global IDs the rest of
// the API returns (plus Organization.slug and User.email). A reference resolves only when the
// caller could load it through the API's own root fields; anything else — unknown, malformed
// or another organization's — is NOT_FOUND, so entity fetches can't be used to probe.
// Each type's references in one gateway request resolve through one batched loader.
import { canonicalEmail } from "../../domain/validate.js";
import { UUID_PATTERN } from "../../core/text.js";
import { decodeGlobalID } from "@pothos/plugin-relay";
import { isUnionType, type GraphQLSchema } from "graphql";
import { invalid, notFound } from "../../core/errors.js";
import { builder } from "../builder.js";
import type { Context } from "../context.js";
import type { Role } from "../../generated/prisma/client.js";
import { inOrganization } from "../loaders.js";
import type { MemberRow } from "../../db/queries/member-pages.js";
import { MemberNode } from "./member.js";
import { OrganizationNode } from "./organization.js";
import { RoleNode } from "./role.js";
import { UserNode } from "./user.js";


/** The database id behind a global ID of `typename`, or null when it is anything else. */
function rawId(globalId: unknown, typename: string): string | null {
  if (typeof globalId !== "string") return null;
  try {
    const { typename: actual, id } = decodeGlobalID(globalId);
    return actual === typename && UUID_PATTERN.test(id) ? id : null;
  } catch {
    return null;
  }
}

function requireVisible<T>(value: T | null | undefined, visible: boolean, typename: string): T {
  if (!value || !visible) throw notFound(typename);
  return value;
}

async function organizationReference<T extends { id: string }>(context: Context, organization: T | null | undefined): Promise<T> {
  const visible = organization ? await context.policy.can(organization.id, "org:read") : false;
  return requireVisible(organization, visible, "Organization");
}

builder.asEntity(OrganizationNode, {
  key: [builder.selection<{ id: string }>("id"), builder.selection<{ slug: string }>("slug")],
  resolveReference: async (reference, context) => {
    if ("id" in reference && reference.id) {
      const id = rawId(reference.id, "Organization");
      return organizationReference(context, id ? await context.loaders.organizationById.load(id) : null);
    }
    const slug: unknown = (reference as { slug: unknown }).slug;
    return organizationReference(context, typeof slug === "string" ? await context.loaders.organizationBySlug.load(slug) : null);
  },
});

builder.asEntity(UserNode, {
  key: [builder.selection<{ id: string }>("id"), builder.selection<{ email: string }>("email")],
  resolveReference: async (reference, context) => {
    let user;
    if ("id" in reference && reference.id) {
      const id = rawId(reference.id, "User");
      user = id ? await context.loaders.userById.load(id) : null;
    } else {
      const email: unknown = (reference as { email: unknown }).email;
      user = typeof email === "string" ? await context.loaders.userByEmail.load(canonicalEmail(email)) : null;
    }
    return requireVisible(user, user ? await context.policy.canSeeUser(user.id) : false, "User");
  },
});

builder.asEntity(MemberNode, {
  key: builder.selection<{ id: string }>("id"),
  resolveReference: async (reference, context) => {
    const id = rawId(reference.id, "Member");
    const member = id ? await context.loaders.memberById.load(id) : null;
    // Without its user and role attached: Member.user and Member.role load them (batched).
    return requireVisible(member, member ? await context.policy.canSeeMember(member) : false, "Member") as MemberRow & { role: Role };
  },
});

builder.asEntity(RoleNode, {
  key: builder.selection<{ id: string }>("id"),
  resolveReference: async (reference, context) => {
    const id = rawId(reference.id, "Role");
    const role = id ? await context.loaders.roleById.load(id) : null;
    const visible = role ? role.organizationId === null || (await context.policy.isActiveMember(role.organizationId)) : false;
    return inOrganization(requireVisible(role, visible, "Role"), role!.organizationId);
  },
});

/**
 * @apollo/subgraph's `_entities` throws for a representation that isn't an object naming an
 * entity type, which masks as a 500 and nulls the whole list. Such a representation is answered
 * alone, at its own index, with BAD_USER_INPUT; the others resolve as before, in one batch.
 */
export function answerBadRepresentationsAlone(schema: GraphQLSchema): void {
  const field = schema.getQueryType()?.getFields()._entities;
  const union = schema.getType("_Entity");
  if (!field?.resolve || !isUnionType(union)) return;
  const entities = new Set(union.getTypes().map((type) => type.name));
  const names = [...entities].sort();
  const message = `A representation must be an object whose __typename is an entity type here: ${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
  const resolve = field.resolve;
  // The schema is built once (getSchema), so wrapping the field's resolver in place is enough.
  field.resolve = async (source, args: { representations: unknown[] }, context, info) => {
    const bad = args.representations.map((representation) => {
      const typename = representation !== null && typeof representation === "object" ? (representation as { __typename?: unknown }).__typename : undefined;
      return typeof typename !== "string" || !entities.has(typename);
    });
    const resolved = (await resolve(source, { ...args, representations: args.representations.filter((_, i) => !bad[i]) }, context, info)) as unknown[];
    let next = 0;
    return bad.map((isBad) => (isBad ? invalid("representations", message) : resolved[next++]));
  };
}
