// The change feed: every committed change to an organization writes one event in its transaction,
// numbered 1, 2, 3, … per organization in commit order; refused and rolled-back changes write
// none; reading needs events:read and redacts as the audit trail does; cursors past retention fail
// with CURSOR_EXPIRED; every organization-changing payload carries the revision it reached.
import { getNamedType, isObjectType } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pruneEvents } from "../src/domain/events.js";
import { CHANGE_PAYLOADS } from "../src/graphql/types/membership-event.js";
import { getSchema } from "../src/graphql/schema.js";
import { addMembership, codes, createTestApp, globalId, orgWithPeople, roleGid, userWithToken, type OrgFixture, type TestApp } from "./helpers.js";

let t: TestApp;
let acme: OrgFixture;
let other: OrgFixture;

const EVENTS = `query($id: ID!, $after: String, $first: Int, $types: [MembershipEventType!]) {
  node(id: $id) { ... on Organization { revision events(after: $after, first: $first, types: $types) {
    edges { cursor node { revision type action subjectType subjectId actor { email } member { id status } changes { before after } } }
    pageInfo { hasNextPage hasPreviousPage endCursor } } } } }`;

const UPDATE_MEMBER = `mutation($input: UpdateMemberInput!) { updateMember(input: $input) { revision member { id } } }`;
const ROLE = `mutation($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { revision member { id } } }`;

interface EventNode {
  revision: number;
  type: string;
  action: string;
  subjectType: string;
  subjectId: string | null;
  actor: { email: string } | null;
  member: { id: string; status: string } | null;
  changes: { before: Record<string, unknown> | null; after: Record<string, unknown> | null };
}

type FeedOrganization = { revision: number; events: { edges: { cursor: string; node: EventNode }[]; pageInfo: Record<string, unknown> } };

/** One page when `first` is given; else every page from `after` on (the last page's result and pageInfo). */
async function feed(fx: OrgFixture, token = fx.owner.token, args: Record<string, unknown> = {}) {
  const events: EventNode[] = [];
  for (let after = (args.after ?? null) as string | null; ; ) {
    const result = await t.gql(EVENTS, { id: fx.orgGid, first: 100, ...args, after }, token);
    const organization = result.data?.node as FeedOrganization | null;
    events.push(...(organization?.events.edges.map((edge) => edge.node) ?? []));
    if (args.first !== undefined || !organization?.events.pageInfo.hasNextPage) return { result, organization, events };
    after = organization.events.pageInfo.endCursor as string;
  }
}

beforeAll(async () => {
  t = await createTestApp();
  acme = await orgWithPeople(t.db, "feed-acme");
  other = await orgWithPeople(t.db, "feed-other");
});
afterAll(() => t.close());

describe("the change feed", () => {
  it("numbers the organization's changes 1, 2, 3, … and each payload says the revision it reached", async () => {
    const start = await feed(acme);
    expect(start.result.errors).toBeUndefined();
    // createOrganization wrote the first event (the fixture's other memberships are inserted directly).
    expect(start.events.map((event) => [event.revision, event.type])).toEqual([[1, "ORGANIZATION_CREATED"]]);
    expect(start.organization!.revision).toBe(1);

    const updated = await t.gql(UPDATE_MEMBER, { input: { memberId: acme.member.memberGid, publicMetadata: { team: "blue" } } }, acme.owner.token);
    expect(updated.errors).toBeUndefined();
    expect(updated.data.updateMember.revision).toBe(2);
    const promoted = await t.gql(ROLE, { input: { memberId: acme.member.memberGid, roleId: roleGid("admin") } }, acme.owner.token);
    expect(promoted.data.updateMemberRole.revision).toBe(3);

    const after = await feed(acme);
    expect(after.organization!.revision).toBe(3);
    expect(after.events.map((event) => [event.revision, event.type, event.subjectType])).toEqual([
      [1, "ORGANIZATION_CREATED", "Organization"],
      [2, "MEMBER_UPDATED", "Member"],
      [3, "MEMBER_ROLE_CHANGED", "Member"],
    ]);
    const roleChange = after.events[2]!;
    expect(roleChange.action).toBe("member.role_changed");
    expect(roleChange.actor).toEqual({ email: acme.owner.user.email });
    expect(roleChange.member?.id).toBe(acme.member.memberGid);
    expect(roleChange.subjectId).toBe(acme.member.memberGid);
    // The other organization's feed is its own.
    expect((await feed(other)).events.map((event) => event.revision)).toEqual([1]);
  });

  it("writes nothing for refused or rolled-back changes, and nothing for a replay", async () => {
    const { organization: before } = await feed(acme);
    // A plain member may not change roles (FORBIDDEN); the last owner may not be demoted (LAST_OWNER).
    const refused = await t.gql(ROLE, { input: { memberId: acme.owner.memberGid, roleId: roleGid("member") } }, acme.member.token);
    expect(codes(refused)).toEqual(["FORBIDDEN"]);
    const lastOwner = await t.gql(ROLE, { input: { memberId: acme.owner.memberGid, roleId: roleGid("member") } }, acme.owner.token);
    expect(codes(lastOwner)).toEqual(["LAST_OWNER"]);
    expect((await feed(acme)).organization!.revision).toBe(before!.revision);

    const ADD = `mutation($input: AddMemberInput!) { addMember(input: $input) { revision replayed member { id } } }`;
    const input = { organizationId: acme.orgGid, email: "replayed@feed.example", idempotencyKey: "feed-replay-1" };
    const first = await t.gql(ADD, { input }, acme.owner.token);
    expect(first.data.addMember).toMatchObject({ revision: before!.revision + 1, replayed: false });
    const again = await t.gql(ADD, { input }, acme.owner.token);
    expect(again.data.addMember).toMatchObject({ revision: null, replayed: true });
    expect((await feed(acme)).organization!.revision).toBe(before!.revision + 1);
  });

  it("assigns revisions without gaps or repeats under a burst of 200 concurrent writes, in commit order", async () => {
    const { organization: before } = await feed(acme);
    const writes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        t.gql(UPDATE_MEMBER, { input: { memberId: acme.admin.memberGid, publicMetadata: { n: i } } }, acme.owner.token),
      ),
    );
    for (const write of writes) expect(write.errors).toBeUndefined();
    const revisions = writes.map((write) => write.data.updateMember.revision as number).sort((a, b) => a - b);
    expect(revisions).toEqual(Array.from({ length: 200 }, (_, i) => before!.revision + 1 + i));
    const { events } = await feed(acme);
    const numbers = events.map((event) => event.revision);
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, i) => i + 1));
    expect(numbers.at(-1)).toBe(before!.revision + 200);
    // The last event is the last committed write: its metadata is what the member holds now.
    const member = await t.db.prisma.member.findUniqueOrThrow({ where: { id: acme.admin.memberId } });
    expect(events.at(-1)!.changes.after).toMatchObject({ publicMetadata: member.publicMetadata });
  });

  it("writes one event when two writes race for the same unique key (the loser rolls back)", async () => {
    const { organization: before } = await feed(acme);
    const CREATE_ROLE = `mutation($input: CreateRoleInput!) { createRole(input: $input) { revision role { id } } }`;
    const input = { organizationId: acme.orgGid, name: "Racer", key: "racer", permissions: ["org:read"] };
    const results = await Promise.all([0, 1, 2].map(() => t.gql(CREATE_ROLE, { input }, acme.owner.token)));
    expect(results.filter((result) => !result.errors).length).toBe(1);
    expect(results.flatMap((result) => codes(result)).sort()).toEqual(["CONFLICT", "CONFLICT"]);
    const after = await feed(acme, acme.owner.token, { after: Buffer.from(`ev:${acme.organization.id}:${before!.revision}`).toString("base64url") });
    expect(after.events.map((event) => event.type)).toEqual(["ROLE_CREATED"]);
    expect(after.organization!.revision).toBe(before!.revision + 1);
  });

  it("pages forward with cursors and filters by type without renumbering", async () => {
    const all = (await feed(acme)).events;
    const firstPage = await feed(acme, acme.owner.token, { first: 2 });
    expect(firstPage.events.map((event) => event.revision)).toEqual([1, 2]);
    expect(firstPage.organization!.events.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const next = await feed(acme, acme.owner.token, { first: 2, after: firstPage.organization!.events.pageInfo.endCursor });
    expect(next.events.map((event) => event.revision)).toEqual([3, 4]);
    expect(next.organization!.events.pageInfo.hasPreviousPage).toBe(true);
    const roleChanges = await feed(acme, acme.owner.token, { types: ["MEMBER_ROLE_CHANGED"] });
    expect(roleChanges.events.map((event) => event.revision)).toEqual(all.filter((event) => event.type === "MEMBER_ROLE_CHANGED").map((event) => event.revision));
    // At the end: an empty page, not an error.
    const end = await feed(acme, acme.owner.token, { after: (await feed(acme)).organization!.events.pageInfo.endCursor });
    expect(end.result.errors).toBeUndefined();
    expect(end.events).toEqual([]);
  });

  it("refuses cursors that are not the feed's, or are another organization's", async () => {
    const otherCursor = (await feed(other)).organization!.events.pageInfo.endCursor as string;
    const crossed = await feed(acme, acme.owner.token, { after: otherCursor });
    expect(codes(crossed.result)).toEqual(["BAD_USER_INPUT"]);
    expect(crossed.result.errors![0]!.message).toMatch(/another organization/);
    for (const bad of ["nonsense", Buffer.from("ev:x:1").toString("base64url"), Buffer.from(`GPC:S:${acme.organization.id}`).toString("base64")]) {
      expect(codes((await feed(acme, acme.owner.token, { after: bad })).result)).toEqual(["BAD_USER_INPUT"]);
    }
  });

  it("needs events:read: owners and admins have it, plain members and outsiders don't", async () => {
    expect((await feed(acme, acme.admin.token)).events.length).toBeGreaterThan(0);
    // (acme.member was promoted above: a fresh plain member.)
    const plain = await userWithToken(t.db, "plain@feed-acme.example");
    await addMembership(t.db, acme.organization, plain.user, "member");
    const member = await feed(acme, plain.token);
    expect(member.events).toEqual([]);
    expect(codes(member.result)).toContain("FORBIDDEN");
    const outsider = await feed(acme, other.owner.token);
    expect(outsider.organization).toBeNull();
  });

  it("redacts private metadata and people as the audit trail does for this reader", async () => {
    // A custom role that reads the feed but neither private metadata nor people.
    const CREATE_ROLE = `mutation($input: CreateRoleInput!) { createRole(input: $input) { revision role { id } } }`;
    const role = await t.gql(CREATE_ROLE, { input: { organizationId: acme.orgGid, name: "Feed reader", permissions: ["org:read", "events:read"] } }, acme.owner.token);
    expect(role.errors).toBeUndefined();
    expect(role.data.createRole.revision).toBeGreaterThan(1);
    const reader = await userWithToken(t.db, "reader@feed-acme.example");
    await addMembership(t.db, acme.organization, reader.user, { id: Buffer.from(role.data.createRole.role.id, "base64").toString().split(":")[1]! });
    const secret = await t.gql(UPDATE_MEMBER, { input: { memberId: acme.member.memberGid, privateMetadata: { salary: 1 } } }, acme.owner.token);
    expect(secret.errors).toBeUndefined();

    const asOwner = (await feed(acme)).events.at(-1)!;
    expect(asOwner.changes.after).toMatchObject({ privateMetadata: { salary: 1 } });
    const asReader = await feed(acme, reader.token);
    const seen = asReader.events.at(-1)!;
    expect(seen.revision).toBe(asOwner.revision);
    expect(seen.changes.after).toMatchObject({ privateMetadata: "[redacted]" });
    expect(seen.actor).toBeNull();
    expect(seen.member).toBeNull();
  });

  it("keeps the subject's id when the subject is gone", async () => {
    const person = await userWithToken(t.db, "leaving@feed-acme.example");
    const membership = await addMembership(t.db, acme.organization, person.user, "member");
    const REMOVE = `mutation($input: RemoveMemberInput!) { removeMember(input: $input) { revision removedMemberId } }`;
    const removed = await t.gql(REMOVE, { input: { memberId: globalId("Member", membership.id) } }, acme.owner.token);
    expect(removed.errors).toBeUndefined();
    const last = (await feed(acme)).events.at(-1)!;
    expect(last).toMatchObject({ revision: removed.data.removeMember.revision, type: "MEMBER_REMOVED", member: null, subjectId: globalId("Member", membership.id) });
  });

  it("refuses a cursor older than the retention with CURSOR_EXPIRED, and starts from the oldest kept without one", async () => {
    const fx = await orgWithPeople(t.db, "feed-retention");
    for (const n of [1, 2, 3]) {
      expect((await t.gql(UPDATE_MEMBER, { input: { memberId: fx.member.memberGid, publicMetadata: { n } } }, fx.owner.token)).errors).toBeUndefined();
    }
    const before = await feed(fx);
    const cursors = before.organization!.events.edges.map((edge) => edge.cursor);
    expect(cursors).toHaveLength(4);
    // Age the first two events past a 30-day retention, then prune.
    await t.db.prisma.membershipEvent.updateMany({
      where: { organizationId: fx.organization.id, revision: { lte: 2 } },
      data: { occurredAt: new Date(Date.now() - 31 * 86_400_000) },
    });
    expect(await pruneEvents(t.db.prisma, 30)).toBeGreaterThanOrEqual(2);

    const fresh = await feed(fx);
    expect(fresh.events.map((event) => event.revision)).toEqual([3, 4]);
    // After revision 2: nothing is missing. After revision 1 (or from the start): revision 2 is gone.
    expect((await feed(fx, fx.owner.token, { after: cursors[1] })).events.map((event) => event.revision)).toEqual([3, 4]);
    const expired = await feed(fx, fx.owner.token, { after: cursors[0] });
    expect(codes(expired.result)).toEqual(["CURSOR_EXPIRED"]);
    expect(expired.result.errors![0]!.extensions).toMatchObject({ field: "after", oldestRevision: 3 });

    // Everything pruned: the latest cursor still reads (an empty page), an older one is expired.
    await t.db.prisma.membershipEvent.updateMany({ where: { organizationId: fx.organization.id }, data: { occurredAt: new Date(Date.now() - 31 * 86_400_000) } });
    await pruneEvents(t.db.prisma, 30);
    const latest = await feed(fx, fx.owner.token, { after: cursors[3] });
    expect(latest.result.errors).toBeUndefined();
    expect(latest.events).toEqual([]);
    expect(codes((await feed(fx, fx.owner.token, { after: cursors[2] })).result)).toEqual(["CURSOR_EXPIRED"]);
  });

  it("gives every payload of a mutation that changes an organization its revision", () => {
    // Mutations that change no organization's feed: a user's own contact points and tokens,
    // operators' user-level actions, and deleting the organization (its feed goes with it).
    const NOT_ORGANIZATION_CHANGES = new Set([
      "AddEmailPayload", "AddPhonePayload", "RemoveEmailPayload", "RemovePhonePayload", "SetPrimaryEmailPayload", "SetPrimaryPhonePayload",
      "SetUsernamePayload", "CreateApiTokenPayload", "RevokeApiTokenPayload", "SuspendUserPayload", "UnsuspendUserPayload", "DeleteOrganizationPayload",
      // Webhook configuration is audited, not an event of the feed (it would show URLs to every events:read holder).
      "CreateWebhookEndpointPayload", "UpdateWebhookEndpointPayload", "RotateWebhookSecretPayload", "DisableWebhookEndpointPayload",
      "EnableWebhookEndpointPayload", "DeleteWebhookEndpointPayload", "RedeliverWebhookPayload",
    ]);
    const schema = getSchema();
    const payloads = Object.values(schema.getMutationType()!.getFields()).map((field) => getNamedType(field.type));
    for (const payload of payloads) {
      if (!isObjectType(payload) || NOT_ORGANIZATION_CHANGES.has(payload.name)) continue;
      expect(CHANGE_PAYLOADS as readonly string[], `${payload.name} changes an organization: add it to CHANGE_PAYLOADS`).toContain(payload.name);
      expect(payload.getFields().revision, payload.name).toBeDefined();
    }
  });
});
