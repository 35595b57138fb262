// The change feed: Organization.revision, Organization.events and the MembershipEvent type (the
// subscription in subscriptions.ts streams the same objects). Reading needs events:read. Events are
// written by the domain (domain/audit.ts); this file only reads them.
import { encodeGlobalID } from "@pothos/plugin-relay";
import { EVENT_TYPES, actionsOf, eventType, type EventAction } from "../../core/events.js";
import { NO_ROW } from "../../core/text.js";
import { cursorExpired, eventCursor, eventPageKey, expiredAfter, revisionAfter } from "../../db/queries/event-pages.js";
import { validatePageArgs } from "../../db/queries/member-pages.js";
import type { MemberRow } from "../../db/queries/member-pages.js";
import type { MembershipEvent, Role } from "../../generated/prisma/client.js";
import { builder, prismaObjectRef } from "../builder.js";
import { asUuid } from "../common.js";
import { membershipEventStream } from "../event-streams.js";
import type { Context } from "../context.js";
import { inOrganization } from "../loaders.js";
import { redacted, visibleActor } from "./audit-event.js";
import { InvitationNode } from "./invitation.js";
import { LocationNode } from "./location.js";
import { MemberNode } from "./member.js";
import { RoleNode } from "./role.js";
import { UserNode } from "./user.js";

export const MembershipEventTypeEnum = builder.enumType("MembershipEventType", {
  description: "What kind of change an event records",
  values: Object.fromEntries(Object.values(EVENT_TYPES).map(([name, description]) => [name, { description }])),
});

/** The actions a `types:` argument asks for (null: every type). */
const actionsFilter = (types: readonly string[] | null | undefined): EventAction[] | null => (types && types.length > 0 ? actionsOf(types) : null);

/** The subject, when it still exists, belongs to the event's organization and the reader may see it. */
async function subject<T extends { organizationId: string | null }>(
  event: MembershipEvent,
  type: string,
  load: (id: string) => Promise<T | null>,
  visible: (row: T) => boolean | Promise<boolean>,
): Promise<T | null> {
  if (event.subjectType !== type || !event.subjectId) return null;
  const row = await load(event.subjectId);
  if (!row || row.organizationId !== event.organizationId) return null;
  return (await visible(row)) ? row : null;
}

const EventChanges = builder.objectRef<{ event: MembershipEvent }>("MembershipEventChanges").implement({
  description: "The subject before and after the change, redacted as the audit trail redacts it for you",
  fields: (t) => ({
    before: t.field({
      type: "JSON",
      nullable: true,
      description: 'privateMetadata shows only to those who may read it now (else "[redacted]"); people (email, user ids) only with members:read',
      resolve: ({ event }, _args, context) => redacted(context, { organizationId: event.organizationId, targetType: event.subjectType }, event.before),
    }),
    after: t.field({
      type: "JSON",
      nullable: true,
      description: "Redacted as before",
      resolve: ({ event }, _args, context) => redacted(context, { organizationId: event.organizationId, targetType: event.subjectType }, event.after),
    }),
  }),
});

export const MembershipEventObject = builder.objectRef<MembershipEvent>("MembershipEvent").implement({
  description: "One committed change to an organization, numbered by its revision (1, 2, 3, … without gaps). Needs events:read",
  authScopes: (event) => ({ orgPermission: { organizationId: event.organizationId ?? NO_ROW, permission: "events:read" } }),
  fields: (t) => ({
    id: t.id({ resolve: (event) => encodeGlobalID("MembershipEvent", event.id) }),
    revision: t.exposeInt("revision", { description: "The organization's revision this change made: the previous event's plus one" }),
    cursor: t.string({
      description: "Pass as `after` (Organization.events, the membershipEvents subscription) to continue after this event",
      resolve: (event) => eventCursor(event.organizationId, event.revision),
    }),
    type: t.field({ type: MembershipEventTypeEnum, resolve: (event) => eventType(event.action as EventAction) }),
    action: t.exposeString("action", { description: 'The audit action it records, e.g. "member.role_changed" (Organization.auditEvents has the same)' }),
    occurredAt: t.expose("occurredAt", { type: "DateTime" }),
    organizationId: t.id({ resolve: (event) => encodeGlobalID("Organization", event.organizationId) }),
    actor: t.field({
      type: UserNode,
      nullable: true,
      description: "Who made the change, when you may see them (members:read); null for changes nobody made (an expiry) and for people who declined",
      resolve: (event, _args, context) => visibleActor(context, event),
    }),
    subjectType: t.exposeString("subjectType", { description: "Member, Invitation, Role, Location or Organization" }),
    subjectId: t.id({
      nullable: true,
      description: "The global ID of what changed, kept when it has since been deleted",
      resolve: (event) => (event.subjectId ? encodeGlobalID(event.subjectType, event.subjectId) : null),
    }),
    member: t.field({
      type: MemberNode,
      nullable: true,
      description: "The member this event is about, as it is now (null when deleted, not a member event, or not visible to you)",
      // Without its user and role attached, as federation's references: Member.user and Member.role load them (batched).
      resolve: async (event, _args, context) =>
        (await subject(event, "Member", (id) => context.loaders.memberById.load(id), (member) => context.policy.canSeeMember(member))) as
          | (MemberRow & { role: Role })
          | null,
    }),
    invitation: t.field({
      type: InvitationNode,
      nullable: true,
      description: "The invitation, as it is now (needs invitations:read)",
      resolve: (event, _args, context) =>
        subject(event, "Invitation", (id) => context.loaders.invitationById.load(id), (row) => context.policy.can(row.organizationId, "invitations:read")),
    }),
    role: t.field({
      type: RoleNode,
      nullable: true,
      description: "The custom role, as it is now",
      resolve: async (event, _args, context) => {
        const role = await subject(event, "Role", (id) => context.loaders.roleById.load(id), () => true);
        return role ? inOrganization(role, event.organizationId) : null;
      },
    }),
    location: t.field({
      type: LocationNode,
      nullable: true,
      description: "The location, as it is now (needs locations:read there)",
      resolve: (event, _args, context) =>
        subject(event, "Location", (id) => context.loaders.locationById.load(id), (row) => context.policy.can(row.organizationId, "locations:read", row.id)),
    }),
    changes: t.field({ type: EventChanges, resolve: (event) => ({ event }) }),
  }),
});

const MembershipEventConnection = builder.connectionObject({ type: MembershipEventObject, name: "MembershipEventConnection" });

builder.prismaObjectFields("Organization", (t) => ({
  revision: t.exposeInt("revision", {
    description: "The change feed's latest revision: the number of the newest event (0 before the first). Needs org:read; the events need events:read",
  }),
  events: t.field({
    type: MembershipEventConnection,
    description:
      "The change feed, oldest first, in revision order. Pass a cursor from an earlier page or event as `after` to read what came since; a cursor older than the retention (EVENT_RETENTION_DAYS) fails with CURSOR_EXPIRED instead of skipping events. Needs events:read",
    authScopes: (organization) => ({ orgPermission: { organizationId: organization.id, permission: "events:read" } }),
    args: {
      after: t.arg.string({ required: false, description: "A cursor: the page starts with the event after it" }),
      first: t.arg.int({ required: false }),
      types: t.arg({ type: [MembershipEventTypeEnum], required: false, description: "Only events of these types (cursors and revisions stay those of the whole feed)" }),
    },
    resolve: async (organization, args, context: Context) => {
      const after = revisionAfter(args.after, organization.id);
      const { size } = validatePageArgs({ first: args.first }, context.config.maxPageSize, context.config.defaultPageSize);
      const page = await context.loaders.eventPages.load(eventPageKey(organization.id, { after, size, actions: actionsFilter(args.types) }));
      // Without a cursor the page starts at the oldest event kept; with one, nothing may be skipped.
      if (args.after != null && expiredAfter(after, page.oldestKept, organization.revision)) throw cursorExpired(after, page.oldestKept ?? organization.revision + 1);
      return page;
    },
  }),
}));

/**
 * The payloads of mutations that change an organization: each says the revision its change
 * reached, so a client that follows the feed knows which event was its own.
 * (test/change-feed.test.ts checks every Mutation's payload against this list.)
 */
export const CHANGE_PAYLOADS = [
  "AcceptInvitationPayload",
  "AcceptMembershipPayload",
  "AddMemberPayload",
  "CreateInvitationPayload",
  "CreateLocationPayload",
  "CreateOrganizationPayload",
  "CreateRolePayload",
  "DeclineInvitationPayload",
  "DeclineMembershipPayload",
  "DeleteLocationPayload",
  "DeleteRolePayload",
  "LeaveOrganizationPayload",
  "ReactivateMemberPayload",
  "RemoveMemberPayload",
  "ResendInvitationPayload",
  "RevokeInvitationPayload",
  "SetMemberLocationsPayload",
  "SuspendMemberPayload",
  "TransferOwnershipPayload",
  "UpdateLocationPayload",
  "UpdateMemberPayload",
  "UpdateMemberRolePayload",
  "UpdateOrganizationPayload",
  "UpdateRolePayload",
] as const;

for (const name of CHANGE_PAYLOADS) {
  builder.objectField(name as never, "revision", (t) =>
    t.int({
      nullable: true,
      description: "The organization's change-feed revision after this change (its event's); null when it wrote none, e.g. a replayed idempotent request",
      resolve: (_payload, _args, context: Context) => context.revisionAfterChange(),
    }),
  );
}

builder.subscriptionField("membershipEvents", (t) =>
  t.field({
    type: MembershipEventObject,
    description:
      "The organization's change feed, live: every event after `after` (a MembershipEvent.cursor or an Organization.events cursor; without one, from now), then each new one as it commits, once each, in revision order. Over SSE (Accept: text/event-stream) or WebSocket (graphql-ws) on /graphql. Needs events:read, re-checked every second: when it is lost (removed, suspended, role changed, token revoked or expired) the stream ends with FORBIDDEN or UNAUTHENTICATED and delivers nothing committed after that",
    args: {
      organizationId: t.arg.globalID({ for: prismaObjectRef("Organization"), required: true }),
      after: t.arg.string({ required: false }),
      types: t.arg({ type: [MembershipEventTypeEnum], required: false, description: "Only events of these types" }),
    },
    subscribe: (_root, args, context: Context) =>
      membershipEventStream(context.live, context, { organizationId: asUuid(args.organizationId.id), after: args.after, actions: actionsFilter(args.types) }),
    // The stream's last item may be why it ended (an AppError): the result carries it as an error.
    resolve: (item: MembershipEvent | Error) => {
      if (item instanceof Error) throw item;
      return item;
    },
  }),
);
