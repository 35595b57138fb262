// AuditEvent: one entry of an organization's audit trail, written in the same transaction as
// the change it records. Readable with audit:read.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { auditPageKey, type AuditPage, type AuditPageArgs } from "../../db/queries/audit-pages.js";
import { builder, SortDirection } from "../builder.js";
import { requireIdCursors } from "../cursors.js";
import { validatePageArgs } from "../../db/queries/member-pages.js";
import type { Context } from "../context.js";
import { NO_ROW } from "../../core/text.js";
import { UserNode, visibleUser } from "./user.js";
import type { AuditEvent } from "../../generated/prisma/client.js";
import { ANSWERED_AS_ADDRESS, hidesActor, redactSnapshot, SEES_PEOPLE, snapshotNeeds } from "../../core/redaction.js";

/** Whether the reader may see people in this event's organization (members:read, as the member list needs). */
const seesPeople = (context: Context, event: { organizationId: string | null }) =>
  event.organizationId ? context.policy.can(event.organizationId, SEES_PEOPLE) : false;

/**
 * Audit snapshots keep private metadata and who people are; reading the trail (audit:read) must
 * not become a way around the permissions that guard them (core/redaction.ts).
 */
export async function redacted(context: Context, event: { organizationId: string | null; targetType: string }, value: unknown): Promise<unknown> {
  const needs = snapshotNeeds(value, event.targetType);
  if (!needs) return value;
  const organizationId = event.organizationId;
  return redactSnapshot(value, {
    privateMetadata: !needs.privateMetadata || (!!organizationId && (await context.policy.can(organizationId, needs.privateMetadata))),
    people: !needs.people || (await seesPeople(context, event)),
  });
}

/** Who made a change (an audit or change-feed event), as this reader may see them: null when hidden or not visible. */
export async function visibleActor(context: Context, event: { action: string; organizationId: string | null; actorUserId: string | null }) {
  return hidesActor(event) || !(await seesPeople(context, event)) ? null : visibleUser(context, event.actorUserId);
}

/**
 * The actor's email, as the organization may know it: nothing without members:read; nothing for
 * a platform operator reading the organization from outside; the address an invitee or a
 * pending member was approached at when they declined; else the actor's current primary email
 * (also for people who have since left).
 */
async function actorEmail(context: Context, event: AuditEvent): Promise<string | null> {
  if (!event.actorUserId || event.action.startsWith("operator.") || !(await seesPeople(context, event))) return null;
  // The address, with no account behind it.
  if (ANSWERED_AS_ADDRESS.has(event.action)) {
    const before = event.before as { email?: unknown } | null;
    return typeof before?.email === "string" ? before.email : null;
  }
  return (await context.loaders.userById.load(event.actorUserId))?.email ?? null;
}

const AuditEventObject = builder.prismaObject("AuditEvent", {
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
      description: "Who did it (null for operator actions, or when you can't see that user: it needs members:read here)",
      resolve: (event, _args, context) => visibleActor(context, event),
    }),
    actorEmail: t.string({
      nullable: true,
      description:
        "The actor's email, also for people who have since left; for an invitee or a member who declined, the address they were approached at. Needs members:read; null for operators",
      resolve: (event, _args, context) => actorEmail(context, event),
    }),
    viaApiTokenId: t.id({
      nullable: true,
      description: "The access token the change was made with (null where the actor is hidden, as for actor)",
      resolve: (event) => (event.actorTokenId && !hidesActor(event) ? encodeGlobalID("ApiToken", event.actorTokenId) : null),
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
    requestId: t.string({
      nullable: true,
      description: "The request that made the change (null where the actor is hidden, as for actor: it would tie the event to the same caller's others)",
      resolve: (event) => (hidesActor(event) ? null : event.requestId),
    }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

const AuditEventOrder = builder.inputType("AuditEventOrder", {
  fields: (t) => ({ direction: t.field({ type: SortDirection, defaultValue: "desc" }) }),
});

// Batched for every organization on a page (audit-pages.ts): a list of organizations with their
// trails costs the same statements for 2 organizations or 100.
builder.prismaObjectField("Organization", "auditEvents", (t) =>
  t.connection(
    {
      type: AuditEventObject,
      description: "The audit trail, newest first by default. Needs audit:read",
      authScopes: (organization) => ({ orgPermission: { organizationId: organization.id, permission: "audit:read" } }),
      args: {
        orderBy: t.arg({ type: AuditEventOrder, required: false }),
        action: t.arg.string({ required: false, description: 'Only this action, e.g. "member.removed"' }),
      },
      resolve: (organization, args, context) => {
        requireIdCursors(args);
        const pageArgs: AuditPageArgs = {
          first: args.first,
          last: args.last,
          after: args.after,
          before: args.before,
          action: args.action,
          direction: args.orderBy?.direction ?? "desc",
        };
        validatePageArgs(pageArgs, context.config.maxPageSize, context.config.defaultPageSize);
        return context.loaders.auditPages.pages.load(auditPageKey(organization.id, pageArgs));
      },
    },
    {
      fields: (c) => ({
        totalCount: c.int({
          resolve: (connection, _args, context) => context.loaders.auditPages.counts.load((connection as unknown as AuditPage).countKey),
        }),
      }),
    },
  ),
);
