// AuditEvent: one entry of an organization's audit trail, written in the same transaction as
// the change it records. Readable with audit:read.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { builder, SortDirection } from "../builder.js";
import { requireIdCursors } from "../cursors.js";
import type { Context } from "../context.js";
import { NO_ROW } from "./common.js";
import { UserNode, visibleUser } from "./user.js";

/**
 * Audit snapshots keep private metadata; reading the trail (audit:read) must not become a way
 * around the permission that guards it: members:read_private for members, org:update for the
 * organization's own.
 */
async function redacted(context: Context, event: { organizationId: string | null; targetType: string }, value: unknown): Promise<unknown> {
  if (!value || typeof value !== "object" || Array.isArray(value) || !("privateMetadata" in value)) return value;
  const permission = event.targetType === "Organization" ? "org:update" : "members:read_private";
  if (event.organizationId && (await context.policy.can(event.organizationId, permission))) return value;
  return { ...(value as Record<string, unknown>), privateMetadata: "[redacted]" };
}

export const AuditEventObject = builder.prismaObject("AuditEvent", {
  authScopes: (event) =>
    ({ orgPermission: { organizationId: event.organizationId ?? NO_ROW, permission: "audit:read" } }),
  fields: (t) => ({
    id: t.exposeID("id"),
    action: t.exposeString("action", { description: 'What happened, e.g. "member.role_changed"' }),
    targetType: t.exposeString("targetType"),
    targetId: t.id({
      nullable: true,
      description: "The global ID of what changed (it may no longer exist)",
      resolve: (event) => (event.targetId ? encodeGlobalID(event.targetType, event.targetId) : null),
    }),
    actor: t.field({
      type: UserNode,
      nullable: true,
      description: "Who did it (null for operator actions, or when you can't see that user)",
      resolve: (event, _args, context) => visibleUser(context, event.actorUserId),
    }),
    actorEmail: t.string({
      nullable: true,
      description: "The actor's email, also for people who have since left or were never members (e.g. an invitee who declined)",
      resolve: async (event, _args, context) => (event.actorUserId ? ((await context.loaders.userById.load(event.actorUserId))?.email ?? null) : null),
    }),
    viaApiTokenId: t.id({
      nullable: true,
      resolve: (event) => (event.actorTokenId ? encodeGlobalID("ApiToken", event.actorTokenId) : null),
    }),
    before: t.field({
      type: "JSON",
      nullable: true,
      description: "The state before; privateMetadata shows only to those who may read it now (else \"[redacted]\")",
      resolve: (event, _args, context) => redacted(context, event, event.before),
    }),
    after: t.field({
      type: "JSON",
      nullable: true,
      description: "The state after; privateMetadata redacted as in before",
      resolve: (event, _args, context) => redacted(context, event, event.after),
    }),
    requestId: t.exposeString("requestId", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const AuditEventOrder = builder.inputType("AuditEventOrder", {
  fields: (t) => ({ direction: t.field({ type: SortDirection, defaultValue: "desc" }) }),
});

builder.prismaObjectField("Organization", "auditEvents", (t) =>
  t.prismaConnection({
    type: "AuditEvent",
    cursor: "id",
    description: "The audit trail, newest first by default. Needs audit:read",
    authScopes: (organization) => ({ orgPermission: { organizationId: organization.id, permission: "audit:read" } }),
    args: {
      orderBy: t.arg({ type: AuditEventOrder, required: false }),
      action: t.arg.string({ required: false, description: 'Only this action, e.g. "member.removed"' }),
    },
    totalCount: (organization, args, context) =>
      context.prisma.auditEvent.count({ where: { organizationId: organization.id, ...(args.action ? { action: args.action } : {}) } }),
    resolve: (query, organization, args, context) => {
      requireIdCursors(args);
      const direction = args.orderBy?.direction ?? "desc";
      return context.prisma.auditEvent.findMany({
        ...query,
        where: { organizationId: organization.id, ...(args.action ? { action: args.action } : {}) },
        orderBy: [{ createdAt: direction }, { id: direction }],
      });
    },
  }),
);
