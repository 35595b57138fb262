// Member mutations and the rules they must hold: permission per mutation, no escalation,
// owners managed only by owners, the last-owner rule, isolation between organizations, and
// an audit event for every change.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SYSTEM_ROLES } from "../src/core/permissions.js";
import { reactivateMember, removeMember, suspendMember, updateMemberRole } from "../src/domain/members.js";
import { codes, createTestApp, globalId, orgWithPeople, roleGid, userWithToken, type OrgFixture, type TestApp } from "./helpers.js";

let t: TestApp;
let acme: OrgFixture;
let other: OrgFixture;

const ADD = `mutation($input: AddMemberInput!) { addMember(input: $input) { member { id status role { key } user { email status invitedAt } invitedBy { email } } } }`;
const ROLE = `mutation($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { member { id role { key } } } }`;
const UPDATE = `mutation($input: UpdateMemberInput!) { updateMember(input: $input) { member { isPrimary publicMetadata privateMetadata } } }`;
const SUSPEND = `mutation($input: SuspendMemberInput!) { suspendMember(input: $input) { member { status } } }`;
const REACTIVATE = `mutation($input: ReactivateMemberInput!) { reactivateMember(input: $input) { member { status } } }`;
const REMOVE = `mutation($input: RemoveMemberInput!) { removeMember(input: $input) { removedMemberId } }`;
const LEAVE = `mutation($input: LeaveOrganizationInput!) { leaveOrganization(input: $input) { removedMemberId } }`;
const TRANSFER = `mutation($input: TransferOwnershipInput!) { transferOwnership(input: $input) {
  organization { owner { email } } newOwner { role { key } user { email } } previousOwner { role { key } } } }`;

async function auditActions(organizationId: string): Promise<string[]> {
  const events = await t.db.prisma.auditEvent.findMany({ where: { organizationId }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
  return events.map((event) => event.action);
}

beforeAll(async () => {
  t = await createTestApp();
  other = await orgWithPeople(t.db, "other");
});
afterAll(() => t.close());

let counter = 0;
beforeEach(async () => {
  acme = await orgWithPeople(t.db, `acme${++counter}`);
});

describe("addMember", () => {
  it("adds a new person as an INVITED user with the default role, pending their answer, and audits it", async () => {
    const result = await t.gql(ADD, { input: { organizationId: acme.orgGid, email: "New.Person@Example.COM" } }, acme.admin.token);
    expect(result.errors).toBeUndefined();
    const member = result.data.addMember.member;
    expect(member).toMatchObject({ status: "PENDING", role: { key: "member" }, user: { email: "new.person@example.com", status: "INVITED" }, invitedBy: { email: acme.admin.user.email } });
    expect(member.user.invitedAt).toBeTruthy();
    expect(await auditActions(acme.organization.id)).toContain("member.added");
  });

  it("adds an existing user with the given role, pending: the organization sees the address as for anyone new (test/consent.test.ts)", async () => {
    const result = await t.gql(ADD, { input: { organizationId: acme.orgGid, email: other.member.user.email, roleId: roleGid("admin") } }, acme.owner.token);
    expect(result.data.addMember.member).toMatchObject({ status: "PENDING", role: { key: "admin" }, user: { email: other.member.user.email, status: "INVITED" } });
  });

  it("refuses an existing member with CONFLICT, a bad email with BAD_USER_INPUT", async () => {
    const dup = await t.gql(ADD, { input: { organizationId: acme.orgGid, email: acme.member.user.email } }, acme.admin.token);
    expect(codes(dup)).toEqual(["CONFLICT"]);
    const bad = await t.gql(ADD, { input: { organizationId: acme.orgGid, email: "not-an-email" } }, acme.admin.token);
    expect(codes(bad)).toEqual(["BAD_USER_INPUT"]);
  });

  it("refuses callers without members:create, and grants above the caller's own", async () => {
    const asMember = await t.gql(ADD, { input: { organizationId: acme.orgGid, email: "x@example.com" } }, acme.member.token);
    expect(codes(asMember)).toEqual(["FORBIDDEN"]);
    const ownerByAdmin = await t.gql(ADD, { input: { organizationId: acme.orgGid, email: "x@example.com", roleId: roleGid("owner") } }, acme.admin.token);
    expect(codes(ownerByAdmin)).toEqual(["FORBIDDEN"]);
    expect(await t.db.prisma.user.count({ where: { email: "x@example.com" } })).toBe(0);
  });

  it("treats another organization's ids as not found", async () => {
    const foreignOrg = await t.gql(ADD, { input: { organizationId: other.orgGid, email: "y@example.com" } }, acme.owner.token);
    expect(codes(foreignOrg)).toEqual(["NOT_FOUND"]);
    const role = await t.db.prisma.role.create({ data: { organizationId: other.organization.id, key: "spy", name: "Spy", permissions: ["org:read"] } });
    const foreignRole = await t.gql(ADD, { input: { organizationId: acme.orgGid, email: "y@example.com", roleId: globalId("Role", role.id) } }, acme.owner.token);
    expect(codes(foreignRole)).toEqual(["NOT_FOUND"]);
    const anonymous = await t.gql(ADD, { input: { organizationId: acme.orgGid, email: "y@example.com" } });
    expect(codes(anonymous)).toEqual(["UNAUTHENTICATED"]);
  });
});

describe("updateMemberRole", () => {
  it("lets an admin change a member's role", async () => {
    const result = await t.gql(ROLE, { input: { memberId: acme.member.memberGid, roleId: roleGid("admin") } }, acme.admin.token);
    expect(result.data.updateMemberRole.member.role.key).toBe("admin");
    const event = await t.db.prisma.auditEvent.findFirstOrThrow({ where: { organizationId: acme.organization.id, action: "member.role_changed" } });
    expect(event).toMatchObject({ actorUserId: acme.admin.user.id, before: { roleKey: "member" }, after: { roleKey: "admin" } });
  });

  it("refuses an admin making themselves (or anyone) owner", async () => {
    const self = await t.gql(ROLE, { input: { memberId: acme.admin.memberGid, roleId: roleGid("owner") } }, acme.admin.token);
    expect(codes(self)).toEqual(["FORBIDDEN"]);
    const other_ = await t.gql(ROLE, { input: { memberId: acme.member.memberGid, roleId: roleGid("owner") } }, acme.admin.token);
    expect(codes(other_)).toEqual(["FORBIDDEN"]);
  });

  it("refuses an admin demoting an owner", async () => {
    const result = await t.gql(ROLE, { input: { memberId: acme.owner.memberGid, roleId: roleGid("member") } }, acme.admin.token);
    expect(codes(result)).toEqual(["FORBIDDEN"]);
  });

  it("refuses a custom role with permissions the caller lacks", async () => {
    const role = await t.db.prisma.role.create({
      data: { organizationId: acme.organization.id, key: "deleter", name: "Deleter", permissions: ["org:read", "org:delete"] },
    });
    const result = await t.gql(ROLE, { input: { memberId: acme.member.memberGid, roleId: globalId("Role", role.id) } }, acme.admin.token);
    expect(codes(result)).toEqual(["FORBIDDEN"]);
    expect(result.errors![0]!.extensions!.missingPermissions).toEqual(["org:delete"]);
  });

  it("refuses demoting the last owner with LAST_OWNER, allows it once there is another", async () => {
    const last = await t.gql(ROLE, { input: { memberId: acme.owner.memberGid, roleId: roleGid("admin") } }, acme.owner.token);
    expect(codes(last)).toEqual(["LAST_OWNER"]);
    await t.gql(ROLE, { input: { memberId: acme.admin.memberGid, roleId: roleGid("owner") } }, acme.owner.token);
    const ok = await t.gql(ROLE, { input: { memberId: acme.owner.memberGid, roleId: roleGid("admin") } }, acme.owner.token);
    expect(ok.errors).toBeUndefined();
    expect(ok.data.updateMemberRole.member.role.key).toBe("admin");
  });

  it("refuses members without members:update and foreign members", async () => {
    const asMember = await t.gql(ROLE, { input: { memberId: acme.admin.memberGid, roleId: roleGid("member") } }, acme.member.token);
    expect(codes(asMember)).toEqual(["FORBIDDEN"]);
    const foreign = await t.gql(ROLE, { input: { memberId: other.member.memberGid, roleId: roleGid("admin") } }, acme.owner.token);
    expect(codes(foreign)).toEqual(["NOT_FOUND"]);
    const wrongType = await t.gql(ROLE, { input: { memberId: acme.orgGid, roleId: roleGid("admin") } }, acme.owner.token);
    expect(codes(wrongType)).toEqual(["BAD_USER_INPUT"]);
  });
});

describe("updateMember", () => {
  it("replaces metadata and keeps one primary contact", async () => {
    const first = await t.gql(UPDATE, { input: { memberId: acme.member.memberGid, isPrimary: true, publicMetadata: { title: "CTO" }, privateMetadata: { salaryBand: 7 } } }, acme.admin.token);
    expect(first.data.updateMember.member).toEqual({ isPrimary: true, publicMetadata: { title: "CTO" }, privateMetadata: { salaryBand: 7 } });
    await t.gql(UPDATE, { input: { memberId: acme.admin.memberGid, isPrimary: true } }, acme.admin.token);
    const primaries = await t.db.prisma.member.findMany({ where: { organizationId: acme.organization.id, isPrimary: true } });
    expect(primaries.map((member) => member.id)).toEqual([acme.admin.memberId]);
  });

  it("refuses metadata over 8 KB and non-objects", async () => {
    const big = await t.gql(UPDATE, { input: { memberId: acme.member.memberGid, publicMetadata: { blob: "x".repeat(9000) } } }, acme.admin.token);
    expect(codes(big)).toEqual(["BAD_USER_INPUT"]);
    expect(big.errors![0]!.extensions!.field).toBe("publicMetadata");
    const notObject = await t.gql(UPDATE, { input: { memberId: acme.member.memberGid, publicMetadata: [1, 2] } }, acme.admin.token);
    expect(notObject.errors).toBeDefined();
  });

  it("needs members:read_private to write private metadata", async () => {
    const role = await t.db.prisma.role.create({
      data: { organizationId: acme.organization.id, key: "editor", name: "Editor", permissions: ["org:read", "members:read", "members:update"] },
    });
    await t.db.prisma.member.update({ where: { id: acme.member.memberId }, data: { roleId: role.id } });
    const result = await t.gql(UPDATE, { input: { memberId: acme.admin.memberGid, privateMetadata: { x: 1 } } }, acme.member.token);
    expect(codes(result)).toEqual(["FORBIDDEN"]);
  });
});

describe("suspendMember / reactivateMember", () => {
  it("takes every permission away from a suspended member, and gives it back", async () => {
    const suspended = await t.gql(SUSPEND, { input: { memberId: acme.member.memberGid } }, acme.admin.token);
    expect(suspended.data.suspendMember.member.status).toBe("SUSPENDED");
    const seen = await t.gql("query($id: ID!) { node(id: $id) { id } organizations(first: 5) { totalCount } }", { id: acme.orgGid }, acme.member.token);
    expect(seen.data).toEqual({ node: null, organizations: { totalCount: 0 } });
    const back = await t.gql(REACTIVATE, { input: { memberId: acme.member.memberGid } }, acme.admin.token);
    expect(back.data.reactivateMember.member.status).toBe("ACTIVE");
    const again = await t.gql("{ organizations(first: 5) { totalCount } }", {}, acme.member.token);
    expect(again.data.organizations.totalCount).toBe(1);
    expect((await auditActions(acme.organization.id)).slice(-2)).toEqual(["member.suspended", "member.reactivated"]);
  });

  it("protects owners and the last owner, and refuses self-suspension", async () => {
    expect(codes(await t.gql(SUSPEND, { input: { memberId: acme.owner.memberGid } }, acme.admin.token))).toEqual(["FORBIDDEN"]);
    expect(codes(await t.gql(SUSPEND, { input: { memberId: acme.owner.memberGid } }, acme.owner.token))).toEqual(["FORBIDDEN"]);
    await t.gql(ROLE, { input: { memberId: acme.admin.memberGid, roleId: roleGid("owner") } }, acme.owner.token);
    const ok = await t.gql(SUSPEND, { input: { memberId: acme.admin.memberGid } }, acme.owner.token);
    expect(ok.data.suspendMember.member.status).toBe("SUSPENDED");
  });

  it("a suspended owner does not count as the remaining owner", async () => {
    await t.gql(ROLE, { input: { memberId: acme.admin.memberGid, roleId: roleGid("owner") } }, acme.owner.token);
    await t.gql(SUSPEND, { input: { memberId: acme.admin.memberGid } }, acme.owner.token);
    const result = await t.gql(ROLE, { input: { memberId: acme.owner.memberGid, roleId: roleGid("admin") } }, acme.owner.token);
    expect(codes(result)).toEqual(["LAST_OWNER"]);
  });
});

describe("the last-owner rule counts owners who can act", () => {
  const actor = (person: { user: { id: string } }) => ({ userId: person.user.id, tokenId: null, requestId: null });

  it("owners whose accounts are suspended don't count: the last one who does can't step down or leave", async () => {
    await t.gql(ROLE, { input: { memberId: acme.admin.memberGid, roleId: roleGid("owner") } }, acme.owner.token);
    await t.db.prisma.user.update({ where: { id: acme.admin.user.id }, data: { status: "SUSPENDED" } });
    expect(codes(await t.gql(ROLE, { input: { memberId: acme.owner.memberGid, roleId: roleGid("admin") } }, acme.owner.token))).toEqual(["LAST_OWNER"]);
    expect(codes(await t.gql(LEAVE, { input: { organizationId: acme.orgGid } }, acme.owner.token))).toEqual(["LAST_OWNER"]);
    // The owner who can't act didn't count: demoting them lowers nothing.
    const demoted = await t.gql(ROLE, { input: { memberId: acme.admin.memberGid, roleId: roleGid("admin") } }, acme.owner.token);
    expect(demoted.errors).toBeUndefined();
  });

  it("with no owner who counts, changes that lower no owner count still go through (domain functions, as the CLI calls them)", async () => {
    await t.db.prisma.user.update({ where: { id: acme.owner.user.id }, data: { status: "SUSPENDED" } });
    const admin = actor(acme.admin);
    expect((await updateMemberRole(t.db.prisma, admin, { memberId: acme.member.memberId, roleId: SYSTEM_ROLES.admin.id })).roleId).toBe(SYSTEM_ROLES.admin.id);
    expect((await updateMemberRole(t.db.prisma, admin, { memberId: acme.member.memberId, roleId: SYSTEM_ROLES.member.id })).roleId).toBe(SYSTEM_ROLES.member.id);
    expect((await suspendMember(t.db.prisma, admin, { memberId: acme.member.memberId })).status).toBe("SUSPENDED");
    expect((await reactivateMember(t.db.prisma, admin, { memberId: acme.member.memberId })).status).toBe("ACTIVE");
    expect(await removeMember(t.db.prisma, admin, { memberId: acme.member.memberId })).toBe(acme.member.memberId);
    // Ownership changes stay blocked, and say why.
    await expect(suspendMember(t.db.prisma, admin, { memberId: acme.owner.memberId })).rejects.toMatchObject({
      code: "FORBIDDEN",
      details: { reason: "NO_ACTIVE_OWNER" },
      message: expect.stringMatching(/no active owner/i),
    });
  });
});

describe("removeMember / leaveOrganization", () => {
  it("removes a member whose token keeps working elsewhere only", async () => {
    await t.db.prisma.member.create({ data: { organizationId: other.organization.id, userId: acme.member.user.id, roleId: SYSTEM_ROLES.member.id } });
    const removed = await t.gql(REMOVE, { input: { memberId: acme.member.memberGid } }, acme.admin.token);
    expect(removed.data.removeMember.removedMemberId).toBe(acme.member.memberGid);
    const seen = await t.gql("{ organizations(first: 5) { edges { node { slug } } } }", {}, acme.member.token);
    expect(seen.data.organizations.edges).toEqual([{ node: { slug: "other" } }]);
    const gone = await t.gql("query($id: ID!) { node(id: $id) { id } }", { id: acme.orgGid }, acme.member.token);
    expect(gone.data.node).toBeNull();
    const event = await t.db.prisma.auditEvent.findFirstOrThrow({ where: { organizationId: acme.organization.id, action: "member.removed" } });
    expect(event.before).toMatchObject({ userId: acme.member.user.id });
  });

  it("protects owners and the last owner", async () => {
    expect(codes(await t.gql(REMOVE, { input: { memberId: acme.owner.memberGid } }, acme.admin.token))).toEqual(["FORBIDDEN"]);
    expect(codes(await t.gql(REMOVE, { input: { memberId: acme.owner.memberGid } }, acme.owner.token))).toEqual(["LAST_OWNER"]);
    expect(codes(await t.gql(REMOVE, { input: { memberId: acme.admin.memberGid } }, acme.member.token))).toEqual(["FORBIDDEN"]);
  });

  it("lets members leave, but not the last owner", async () => {
    const left = await t.gql(LEAVE, { input: { organizationId: acme.orgGid } }, acme.member.token);
    expect(left.data.leaveOrganization.removedMemberId).toBe(acme.member.memberGid);
    const lastOwner = await t.gql(LEAVE, { input: { organizationId: acme.orgGid } }, acme.owner.token);
    expect(codes(lastOwner)).toEqual(["LAST_OWNER"]);
    const notMember = await t.gql(LEAVE, { input: { organizationId: acme.orgGid } }, other.owner.token);
    expect(codes(notMember)).toEqual(["NOT_FOUND"]);
    expect((await auditActions(acme.organization.id)).at(-1)).toBe("member.left");
  });

  it("lets a suspended member leave", async () => {
    await t.gql(SUSPEND, { input: { memberId: acme.member.memberGid } }, acme.admin.token);
    const left = await t.gql(LEAVE, { input: { organizationId: acme.orgGid } }, acme.member.token);
    expect(left.errors).toBeUndefined();
  });
});

describe("transferOwnership", () => {
  it("makes another member the owner and the previous owner an admin", async () => {
    const result = await t.gql(TRANSFER, { input: { organizationId: acme.orgGid, toMemberId: acme.member.memberGid } }, acme.owner.token);
    expect(result.errors).toBeUndefined();
    expect(result.data.transferOwnership).toEqual({
      organization: { owner: { email: acme.member.user.email } },
      newOwner: { role: { key: "owner" }, user: { email: acme.member.user.email } },
      previousOwner: { role: { key: "admin" } },
    });
    expect((await auditActions(acme.organization.id)).at(-1)).toBe("organization.ownership_transferred");
  });

  it("is for owners only, to active members of the same organization", async () => {
    expect(codes(await t.gql(TRANSFER, { input: { organizationId: acme.orgGid, toMemberId: acme.admin.memberGid } }, acme.admin.token))).toEqual(["FORBIDDEN"]);
    expect(codes(await t.gql(TRANSFER, { input: { organizationId: acme.orgGid, toMemberId: other.member.memberGid } }, acme.owner.token))).toEqual(["NOT_FOUND"]);
    await t.gql(SUSPEND, { input: { memberId: acme.member.memberGid } }, acme.owner.token);
    const refused = await t.gql(TRANSFER, { input: { organizationId: acme.orgGid, toMemberId: acme.member.memberGid } }, acme.owner.token);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: "FORBIDDEN", reason: "INELIGIBLE", field: "toMemberId" });
  });
});

describe("updateOrganization / deleteOrganization", () => {
  const UPDATE_ORG = `mutation($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { organization { name slug timezone businessInformation publicMetadata } } }`;
  const DELETE_ORG = `mutation($input: DeleteOrganizationInput!) { deleteOrganization(input: $input) { deletedOrganizationId } }`;

  it("updates the profile for those with org:update", async () => {
    const result = await t.gql(UPDATE_ORG, { input: { organizationId: acme.orgGid, name: "Acme Two", timezone: "Asia/Tokyo", publicMetadata: { plan: "pro" } } }, acme.admin.token);
    expect(result.data.updateOrganization.organization).toMatchObject({ name: "Acme Two", timezone: "Asia/Tokyo", publicMetadata: { plan: "pro" } });
    expect(codes(await t.gql(UPDATE_ORG, { input: { organizationId: acme.orgGid, name: "Nope" } }, acme.member.token))).toEqual(["FORBIDDEN"]);
    expect(codes(await t.gql(UPDATE_ORG, { input: { organizationId: acme.orgGid, slug: "other" } }, acme.owner.token))).toEqual(["CONFLICT"]);
    expect(codes(await t.gql(UPDATE_ORG, { input: { organizationId: acme.orgGid, slug: "Bad Slug" } }, acme.owner.token))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await t.gql(UPDATE_ORG, { input: { organizationId: other.orgGid, name: "Mine" } }, acme.owner.token))).toEqual(["NOT_FOUND"]);
  });

  it("deletes the organization (owners only) and keeps its audit trail", async () => {
    expect(codes(await t.gql(DELETE_ORG, { input: { organizationId: acme.orgGid } }, acme.admin.token))).toEqual(["FORBIDDEN"]);
    await t.db.prisma.role.create({ data: { organizationId: acme.organization.id, key: "custom", name: "Custom", permissions: ["org:read"] } });
    const deleted = await t.gql(DELETE_ORG, { input: { organizationId: acme.orgGid } }, acme.owner.token);
    expect(deleted.errors).toBeUndefined();
    expect(deleted.data.deleteOrganization.deletedOrganizationId).toBe(acme.orgGid);
    expect(await t.db.prisma.organization.count({ where: { id: acme.organization.id } })).toBe(0);
    expect(await t.db.prisma.member.count({ where: { organizationId: acme.organization.id } })).toBe(0);
    expect(await t.db.prisma.role.count({ where: { organizationId: acme.organization.id } })).toBe(0);
    const actions = await auditActions(acme.organization.id);
    expect(actions[0]).toBe("organization.created");
    expect(actions.at(-1)).toBe("organization.deleted");
    const stillThere = await t.gql("{ viewer { email } }", {}, acme.member.token);
    expect(stillThere.data.viewer.email).toBe(acme.member.user.email);
  });
});

describe("audit trail", () => {
  it("lists events for audit:read holders only", async () => {
    await t.gql(UPDATE, { input: { memberId: acme.member.memberGid, publicMetadata: { team: "blue" } } }, acme.admin.token);
    const q = `query($id: ID!) { organization(id: $id) { auditEvents(first: 10, orderBy: { direction: ASC }) { totalCount edges { node { action targetType targetId actor { email } requestId } } } } }`;
    const result = await t.gql(q, { id: acme.orgGid }, acme.owner.token);
    expect(result.errors).toBeUndefined();
    const events = result.data.organization.auditEvents;
    expect(events.edges.map((e: any) => e.node.action)).toEqual(["organization.created", "member.updated"]);
    expect(events.edges[1].node).toMatchObject({ targetType: "Member", targetId: acme.member.memberGid, actor: { email: acme.admin.user.email } });
    expect(events.edges[1].node.requestId).toBeTruthy();
    expect(codes(await t.gql(q, { id: acme.orgGid }, acme.member.token))).toContain("FORBIDDEN");
  });
});

it("anonymous callers and strangers can't run member mutations", async () => {
  const stranger = await userWithToken(t.db, "stranger@example.com");
  for (const [query, input] of [
    [SUSPEND, { memberId: acme.member.memberGid }],
    [REMOVE, { memberId: acme.member.memberGid }],
    [ROLE, { memberId: acme.member.memberGid, roleId: roleGid("admin") }],
  ] as const) {
    expect(codes(await t.gql(query, { input }))).toEqual(["UNAUTHENTICATED"]);
    expect(codes(await t.gql(query, { input }, stranger.token))).toEqual(["NOT_FOUND"]);
  }
  expect(await t.db.prisma.member.findUniqueOrThrow({ where: { id: acme.member.memberId } })).toMatchObject({ status: "ACTIVE", roleId: SYSTEM_ROLES.member.id });
});
