// Platform operators: granted only outside the API, they list all users, suspend and unsuspend
// accounts (a suspended user's old token and JWT stop at once), and read any organization for
// support — recorded in its audit trail — without being able to change it or act as its owner.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setOperator } from "../src/domain/operators.js";
import { codes, createTestApp, globalId, orgWithPeople, reasons, roleGid, userWithToken, type OrgFixture, type TestApp, type TestUser } from "./helpers.js";
import { startIdentityProvider, type IdentityProvider } from "./fixtures/identity-provider.js";

let idp: IdentityProvider;
let t: TestApp;
let acme: OrgFixture;
let operator: TestUser;

beforeAll(async () => {
  idp = await startIdentityProvider();
  t = await createTestApp(idp.env);
  acme = await orgWithPeople(t.db, "acme");
  operator = await userWithToken(t.db, "ops@platform.example");
  await setOperator(t.db.prisma, "ops@platform.example", true); // npm run cli -- grant-operator --email …
});
afterAll(async () => {
  await t.close();
  await idp.close();
});

const USERS = `query($filter: UserFilter) { users(first: 50, filter: $filter) { totalCount edges { node { email status isOperator } } } }`;
const SUSPEND = `mutation($input: SuspendUserInput!) { suspendUser(input: $input) { user { status } } }`;
const UNSUSPEND = `mutation($input: UnsuspendUserInput!) { unsuspendUser(input: $input) { user { status } } }`;

describe("operators", () => {
  it("list every user, with a filter; nobody else can", async () => {
    const all = await t.gql(USERS, {}, operator.token);
    expect(all.errors).toBeUndefined();
    expect(all.data.users.totalCount).toBeGreaterThanOrEqual(4);
    const filtered = await t.gql(USERS, { filter: { search: "ADMIN@acme" } }, operator.token);
    expect(filtered.data.users.edges.map((e: any) => e.node.email)).toEqual(["admin@acme.example"]);
    expect(codes(await t.gql(USERS, {}, acme.owner.token))).toEqual(["FORBIDDEN"]);
    expect((await t.gql(`{ viewer { isOperator } }`, {}, operator.token)).data.viewer.isOperator).toBe(true);
  });

  it("suspend a user everywhere: their token and JWT stop at once; unsuspending restores them", async () => {
    const victim = await userWithToken(t.db, "suspect@acme.example");
    await t.db.prisma.user.update({ where: { id: victim.user.id }, data: { externalId: "idp|suspect" } });
    await t.db.prisma.member.create({ data: { organizationId: acme.organization.id, userId: victim.user.id, roleId: "00000000-0000-7000-8000-000000000003" } });
    const jwt = await idp.sign("idp|suspect");
    expect((await t.gql(`{ viewer { email } }`, {}, victim.token)).errors).toBeUndefined();

    const input = { userId: globalId("User", victim.user.id) };
    expect(reasons(await t.gql(SUSPEND, { input }, acme.owner.token))).toEqual(["MISSING_PERMISSION"]);
    const suspended = await t.gql(SUSPEND, { input }, operator.token);
    expect(suspended.data.suspendUser.user.status).toBe("SUSPENDED");
    for (const token of [victim.token, jwt]) {
      const refused = await t.gql(`{ viewer { email } }`, {}, token);
      expect(refused.status).toBe(401);
      expect(refused.errors?.[0]).toMatchObject({ message: "This account is suspended", extensions: { code: "UNAUTHENTICATED" } });
    }
    // The membership stays, granting nothing.
    expect(await t.db.prisma.member.count({ where: { userId: victim.user.id } })).toBe(1);
    expect(await t.db.prisma.auditEvent.count({ where: { targetId: victim.user.id, action: "user.suspended", actorUserId: operator.user.id } })).toBe(1);

    expect((await t.gql(UNSUSPEND, { input }, operator.token)).data.unsuspendUser.user.status).toBe("ACTIVE");
    expect((await t.gql(`{ viewer { email } }`, {}, victim.token)).errors).toBeUndefined();
  });

  it("can't suspend themselves", async () => {
    const self = await t.gql(SUSPEND, { input: { userId: globalId("User", operator.user.id) } }, operator.token);
    expect(self.errors?.[0]?.extensions).toMatchObject({ code: "FORBIDDEN", reason: "SELF" });
  });

  it("read any organization for support, recorded in its audit trail, but change nothing", async () => {
    const read = await t.gql(
      `query($id: ID!) { organization(id: $id) { name members(first: 5) { totalCount } viewerPermissions viewerCan { update delete transferOwnership } } }`,
      { id: acme.orgGid },
      operator.token,
    );
    expect(read.errors).toBeUndefined();
    expect(read.data.organization.name).toBe("ACME");
    expect(read.data.organization.members.totalCount).toBeGreaterThanOrEqual(3);
    expect(read.data.organization.viewerPermissions).not.toContain("org:update");
    expect(read.data.organization.viewerCan).toEqual({ update: false, delete: false, transferOwnership: false });
    await expect.poll(() => t.db.prisma.auditEvent.count({ where: { organizationId: acme.organization.id, action: "operator.organization_read", actorUserId: operator.user.id } })).toBeGreaterThanOrEqual(1);

    await t.gql(`mutation($input: UpdateMemberInput!) { updateMember(input: $input) { member { id } } }`, { input: { memberId: acme.member.memberGid, privateMetadata: { salary: 100 } } }, acme.owner.token);
    const trail = await t.gql(`query($id: ID!) { organization(id: $id) { auditEvents(first: 50) { edges { node { action after } } } } }`, { id: acme.orgGid }, operator.token);
    const updated = trail.data.organization.auditEvents.edges.map((e: any) => e.node).find((n: any) => n.action === "member.updated");
    expect(updated.after.privateMetadata).toBe("[redacted]");
    expect(JSON.stringify(trail.data)).not.toContain("salary");
    const privateData = await t.gql(`query($id: ID!) { node(id: $id) { ... on Member { privateMetadata } } }`, { id: acme.member.memberGid }, operator.token);
    expect(codes(privateData)).toEqual(["FORBIDDEN"]);
    const update = await t.gql(`mutation($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { organization { name } } }`, { input: { organizationId: acme.orgGid, name: "Hijacked" } }, operator.token);
    expect(reasons(update)).toEqual(["MISSING_PERMISSION"]);
    const del = await t.gql(`mutation($input: DeleteOrganizationInput!) { deleteOrganization(input: $input) { deletedOrganizationId } }`, { input: { organizationId: acme.orgGid } }, operator.token);
    expect(reasons(del)).toEqual(["OWNER_ONLY"]);
    const transfer = await t.gql(`mutation($input: TransferOwnershipInput!) { transferOwnership(input: $input) { organization { id } } }`, { input: { organizationId: acme.orgGid, toMemberId: acme.admin.memberGid } }, operator.token);
    expect(reasons(transfer)).toEqual(["OWNER_ONLY"]);
    expect((await t.db.prisma.organization.findUniqueOrThrow({ where: { id: acme.organization.id } })).name).toBe("ACME");
    // Their own list stays their own organizations.
    expect((await t.gql(`{ organizations(first: 5) { totalCount } }`, {}, operator.token)).data.organizations.totalCount).toBe(0);
  });

  it("the role is granted only outside the API, and can be taken back", async () => {
    const fields = await t.gql(`{ __schema { mutationType { fields { name } } } }`, {}, operator.token);
    expect(fields.data.__schema.mutationType.fields.map((f: any) => f.name).filter((n: string) => /operator/i.test(n))).toEqual([]);
    await setOperator(t.db.prisma, "ops@platform.example", false);
    expect(codes(await t.gql(USERS, {}, operator.token))).toEqual(["FORBIDDEN"]);
    await setOperator(t.db.prisma, "ops@platform.example", true);
  });
});

describe("an organization whose only owner's account an operator suspended", () => {
  const ROLE = `mutation($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { member { role { key } } } }`;
  const MEMBER_SUSPEND = `mutation($input: SuspendMemberInput!) { suspendMember(input: $input) { member { status } } }`;
  const MEMBER_REACTIVATE = `mutation($input: ReactivateMemberInput!) { reactivateMember(input: $input) { member { status } } }`;
  const ADD = `mutation($input: AddMemberInput!) { addMember(input: $input) { member { id status } } }`;
  const REMOVE = `mutation($input: RemoveMemberInput!) { removeMember(input: $input) { removedMemberId } }`;
  const TRANSFER = `mutation($input: TransferOwnershipInput!) { transferOwnership(input: $input) { newOwner { role { key } } } }`;
  const LOCATION = `mutation($input: CreateLocationInput!) { createLocation(input: $input) { location { id } } }`;
  const LOCATIONS = `mutation($input: SetMemberLocationsInput!) { setMemberLocations(input: $input) { member { locations { roles { key } } } } }`;
  const ACCEPT = `mutation($input: AcceptMembershipInput!) { acceptMembership(input: $input) { member { status role { key } } } }`;
  const VIEWER_CAN = `query($org: ID!, $owner: ID!, $member: ID!) {
    organization(id: $org) { viewerCan { transferOwnership delete addMember checks { action reason message } } }
    owner: node(id: $owner) { ... on Member { viewerCan { updateRole suspend remove checks { action reason message } } } }
    member: node(id: $member) { ... on Member { viewerCan { updateRole suspend remove transferOwnershipTo checks { action reason message } } } }
  }`;
  type Check = { action: string; reason: string | null; message: string | null };
  const check = (checks: Check[], action: string) => checks.find((c) => c.action === action);
  const SUSPENDED_OWNERS = /no active owner.*suspended/i;

  let solo: OrgFixture;
  let heir: TestUser;
  let heirMemberGid: string;

  beforeAll(async () => {
    solo = await orgWithPeople(t.db, "solo");
    heir = await userWithToken(t.db, "heir@solo.example");
    // Added as an owner before the suspension: accepting it later is how the organization gets an active owner again.
    const added = await t.gql(ADD, { input: { organizationId: solo.orgGid, email: "heir@solo.example", roleId: roleGid("owner") } }, solo.owner.token);
    expect(added.errors).toBeUndefined();
    heirMemberGid = added.data.addMember.member.id;
    const suspended = await t.gql(SUSPEND, { input: { userId: globalId("User", solo.owner.user.id) } }, operator.token);
    expect(suspended.data.suspendUser.user.status).toBe("SUSPENDED");
  });
  afterAll(async () => {
    await t.gql(UNSUSPEND, { input: { userId: globalId("User", solo.owner.user.id) } }, operator.token);
  });

  it("still takes the changes that don't touch an owner: roles, suspensions, additions, locations, removals", async () => {
    const promoted = await t.gql(ROLE, { input: { memberId: solo.member.memberGid, roleId: roleGid("admin") } }, solo.admin.token);
    expect(promoted.errors).toBeUndefined();
    expect(promoted.data.updateMemberRole.member.role.key).toBe("admin");
    const demoted = await t.gql(ROLE, { input: { memberId: solo.member.memberGid, roleId: roleGid("member") } }, solo.admin.token);
    expect(demoted.data.updateMemberRole.member.role.key).toBe("member");
    expect((await t.gql(MEMBER_SUSPEND, { input: { memberId: solo.member.memberGid } }, solo.admin.token)).data?.suspendMember.member.status).toBe("SUSPENDED");
    expect((await t.gql(MEMBER_REACTIVATE, { input: { memberId: solo.member.memberGid } }, solo.admin.token)).data?.reactivateMember.member.status).toBe("ACTIVE");
    const location = await t.gql(LOCATION, { input: { organizationId: solo.orgGid, name: "Depot" } }, solo.admin.token);
    expect(location.errors).toBeUndefined();
    const assigned = await t.gql(
      LOCATIONS,
      { input: { memberId: solo.member.memberGid, locations: [{ locationId: location.data.createLocation.location.id, roleIds: [roleGid("member")] }] } },
      solo.admin.token,
    );
    expect(assigned.errors).toBeUndefined();
    const added = await t.gql(ADD, { input: { organizationId: solo.orgGid, email: "temp@solo.example" } }, solo.admin.token);
    expect(added.data?.addMember.member.status).toBe("PENDING");
    expect((await t.gql(REMOVE, { input: { memberId: added.data.addMember.member.id } }, solo.admin.token)).errors).toBeUndefined();
  });

  it("says why ownership changes are blocked, in viewerCan and in the refusals alike", async () => {
    const flags = await t.gql(VIEWER_CAN, { org: solo.orgGid, owner: solo.owner.memberGid, member: solo.member.memberGid }, solo.admin.token);
    expect(flags.errors).toBeUndefined();
    const org = flags.data.organization.viewerCan;
    expect(org).toMatchObject({ transferOwnership: false, delete: false, addMember: true });
    for (const action of ["transferOwnership", "delete"]) {
      expect(check(org.checks, action)).toMatchObject({ reason: "NO_ACTIVE_OWNER", message: expect.stringMatching(SUSPENDED_OWNERS) });
    }
    // Acting on the owner needs an owner; acting on anyone else doesn't.
    const owner = flags.data.owner.viewerCan;
    expect(owner).toMatchObject({ updateRole: false, suspend: false, remove: false });
    for (const action of ["updateRole", "suspend", "remove"]) expect(check(owner.checks, action)?.reason).toBe("NO_ACTIVE_OWNER");
    expect(flags.data.member.viewerCan).toMatchObject({ updateRole: true, suspend: true, remove: true, transferOwnershipTo: false });
    expect(check(flags.data.member.viewerCan.checks, "transferOwnershipTo")?.reason).toBe("NO_ACTIVE_OWNER");
    const canGrantOwner = await t.gql(`query($m: ID!, $r: ID!) { canAssignRole(memberId: $m, roleId: $r) { allowed reason message } }`, { m: solo.member.memberGid, r: roleGid("owner") }, solo.admin.token);
    expect(canGrantOwner.data.canAssignRole).toMatchObject({ allowed: false, reason: "NO_ACTIVE_OWNER" });

    const refusals = [
      await t.gql(TRANSFER, { input: { organizationId: solo.orgGid, toMemberId: solo.member.memberGid } }, solo.admin.token),
      await t.gql(ROLE, { input: { memberId: solo.member.memberGid, roleId: roleGid("owner") } }, solo.admin.token),
      await t.gql(MEMBER_SUSPEND, { input: { memberId: solo.owner.memberGid } }, solo.admin.token),
      await t.gql(REMOVE, { input: { memberId: solo.owner.memberGid } }, solo.admin.token),
      await t.gql(`mutation($input: DeleteOrganizationInput!) { deleteOrganization(input: $input) { deletedOrganizationId } }`, { input: { organizationId: solo.orgGid } }, solo.admin.token),
    ];
    for (const refused of refusals) {
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: "FORBIDDEN", reason: "NO_ACTIVE_OWNER" });
      expect(refused.errors?.[0]?.message).toMatch(SUSPENDED_OWNERS);
    }
    expect(check(org.checks, "transferOwnership")?.message).toBe(refusals[0]!.errors?.[0]?.message);
    // An organization that has an active owner keeps the plain answer.
    const elsewhere = await t.gql(`query($id: ID!) { organization(id: $id) { viewerCan { checks { action reason } } } }`, { id: acme.orgGid }, acme.admin.token);
    expect(check(elsewhere.data.organization.viewerCan.checks, "transferOwnership")?.reason).toBe("OWNER_ONLY");
  });

  it("gets an active owner again when someone added as an owner accepts", async () => {
    const accepted = await t.gql(ACCEPT, { input: { memberId: heirMemberGid } }, heir.token);
    expect(accepted.data?.acceptMembership.member).toEqual({ status: "ACTIVE", role: { key: "owner" } });
    const flags = await t.gql(`query($id: ID!) { organization(id: $id) { viewerCan { transferOwnership checks { action reason } } } }`, { id: solo.orgGid }, solo.admin.token);
    expect(check(flags.data.organization.viewerCan.checks, "transferOwnership")?.reason).toBe("OWNER_ONLY");
    // The new owner is the last one that counts: they can't step down, but can hand over.
    const stepDown = await t.gql(ROLE, { input: { memberId: heirMemberGid, roleId: roleGid("admin") } }, heir.token);
    expect(stepDown.errors?.[0]?.extensions).toMatchObject({ code: "LAST_OWNER", reason: "LAST_OWNER" });
    const handOver = await t.gql(TRANSFER, { input: { organizationId: solo.orgGid, toMemberId: solo.admin.memberGid } }, heir.token);
    expect(handOver.errors).toBeUndefined();
  });
});
