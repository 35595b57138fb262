// What a frontend relies on: viewerCan flags that match what the mutations then do (signed in
// with JWTs, as a browser app would be), explainable checks with the mutations' reason codes,
// safe retries with idempotency keys, STALE_VERSION instead of lost updates, and input errors
// that name their field.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ROLES } from "../src/core/permissions.js";
import type { Organization } from "../src/generated/prisma/client.js";
import { codes, createTestApp, globalId, organizationOf, reasons, roleGid, userWithToken, type GqlResult, type TestApp } from "./helpers.js";
import { startIdentityProvider, type IdentityProvider } from "./fixtures/identity-provider.js";

let idp: IdentityProvider;
let t: TestApp;

beforeAll(async () => {
  idp = await startIdentityProvider();
  t = await createTestApp(idp.env);
});
afterAll(async () => {
  await t.close();
  await idp.close();
});

const PERSONAS = ["owner", "admin", "member", "suspended", "stranger"] as const;
type Persona = (typeof PERSONAS)[number];

interface Fixture {
  organization: Organization;
  orgGid: string;
  /** JWT per persona. */
  jwt: Record<Persona, string>;
  /** Each persona's own member global ID (the stranger has none). */
  own: Partial<Record<Persona, string>>;
  /** A plain member everyone acts on. */
  targetGid: string;
  /** A custom role with members:read. */
  roleGid: string;
  /** A pending and a revoked invitation. */
  pendingGid: string;
  revokedGid: string;
}

let fixtures = 0;

/** A fresh organization (every case changes state): people signed in through JWTs linked to their accounts. */
async function fixture(): Promise<Fixture> {
  const n = ++fixtures;
  const user = (name: string) =>
    t.db.prisma.user.create({ data: { email: `${name}-${n}@table.test`, externalId: `idp|${name}-${n}` } });
  const [owner, admin, member, suspended, stranger, target] = await Promise.all(
    ["owner", "admin", "member", "suspended", "stranger", "target"].map(user),
  );
  const organization = await organizationOf(t.db, owner!, `Table ${n}`, `table-${n}`);
  const join = (u: { id: string }, roleId: string, status: "ACTIVE" | "SUSPENDED" = "ACTIVE") =>
    t.db.prisma.member.create({ data: { organizationId: organization.id, userId: u.id, roleId, status } });
  const ownerMember = await t.db.prisma.member.findFirstOrThrow({ where: { organizationId: organization.id, userId: owner!.id } });
  const [adminMember, memberMember, suspendedMember, targetMember] = await Promise.all([
    join(admin!, SYSTEM_ROLES.admin.id),
    join(member!, SYSTEM_ROLES.member.id),
    join(suspended!, SYSTEM_ROLES.admin.id, "SUSPENDED"),
    join(target!, SYSTEM_ROLES.member.id),
  ]);
  const role = await t.db.prisma.role.create({
    data: { organizationId: organization.id, key: "reader", name: "Reader", permissions: ["members:read", "org:read"] },
  });
  const invite = (email: string, status: "PENDING" | "REVOKED") =>
    t.db.prisma.invitation.create({
      data: {
        organizationId: organization.id,
        email,
        roleId: SYSTEM_ROLES.member.id,
        status,
        tokenHash: `${email}-hash`,
        expiresAt: new Date(Date.now() + 86_400_000),
      },
    });
  const pending = await invite(`pending-${n}@table.test`, "PENDING");
  const revoked = await invite(`revoked-${n}@table.test`, "REVOKED");
  const people = { owner, admin, member, suspended, stranger } as Record<Persona, { externalId: string | null; email: string }>;
  const jwt = {} as Record<Persona, string>;
  for (const persona of PERSONAS) jwt[persona] = await idp.sign(people[persona].externalId!, { email: people[persona].email });
  return {
    organization,
    orgGid: globalId("Organization", organization.id),
    jwt,
    own: {
      owner: globalId("Member", ownerMember.id),
      admin: globalId("Member", adminMember.id),
      member: globalId("Member", memberMember.id),
      suspended: globalId("Member", suspendedMember.id),
    },
    targetGid: globalId("Member", targetMember.id),
    roleGid: globalId("Role", role.id),
    pendingGid: globalId("Invitation", pending.id),
    revokedGid: globalId("Invitation", revoked.id),
  };
}

const FLAGS = `
  query Flags($org: ID!, $target: ID!, $ownerMember: ID!, $role: ID!, $own: ID!, $admin: ID!, $pending: ID!, $revoked: ID!) {
    pending: node(id: $pending) { ... on Invitation { viewerCan { checks { action allowed reason } } } }
    revoked: node(id: $revoked) { ... on Invitation { viewerCan { checks { action allowed reason } } } }
    org: node(id: $org) { ... on Organization { viewerCan { checks { action allowed reason } } } }
    target: node(id: $target) { ... on Member { viewerCan { checks { action allowed reason } } } }
    ownerMember: node(id: $ownerMember) { ... on Member { viewerCan { checks { action allowed reason } } } }
    role: node(id: $role) { ... on Role { viewerCan { checks { action allowed reason } } } }
    own: node(id: $own) { ... on Member { viewerCan { leave checks { action allowed reason } } } }
    assignCustom: canAssignRole(memberId: $target, roleId: $role) { allowed reason }
    demoteOwner: canAssignRole(memberId: $ownerMember, roleId: $admin) { allowed reason }
    standing: checkPermissions(organizationId: $org, permissions: ["org:read"]) { allowed reason }
  }`;

interface Check {
  allowed: boolean;
  reason: string | null;
}

type Flags = Record<string, Check>;

/** Reads every flag the cases below compare against, as one UI page load would. */
async function readFlags(fx: Fixture, persona: Persona): Promise<Flags> {
  const ownerMember = fx.own.owner!;
  const result = await t.gql(
    FLAGS,
    { org: fx.orgGid, target: fx.targetGid, pending: fx.pendingGid, revoked: fx.revokedGid, ownerMember, role: fx.roleGid, own: fx.own[persona] ?? fx.orgGid, admin: roleGid("admin") },
    fx.jwt[persona],
  );
  expect(result.errors).toBeUndefined();
  // An object you can't see has no viewerCan: everything on it is refused, for the reason
  // checkPermissions gives (NOT_FOUND for strangers, SUSPENDED for suspended members).
  const hidden: Check = { allowed: false, reason: result.data.standing[0].allowed ? "MISSING_PERMISSION" : result.data.standing[0].reason };
  const flags: Flags = {};
  for (const [prefix, node] of Object.entries(result.data as Record<string, { viewerCan?: { checks: ({ action: string } & Check)[] } } | null>)) {
    if (prefix === "assignCustom" || prefix === "demoteOwner" || prefix === "standing") continue;
    for (const check of node?.viewerCan?.checks ?? []) flags[`${prefix}.${check.action}`] = { allowed: check.allowed, reason: check.reason };
  }
  const flag = (key: string): Check => flags[key] ?? hidden;
  return new Proxy(flags, { get: (_target, key: string) => (key === "assignCustom" || key === "demoteOwner" ? result.data[key] : flag(key)) });
}

interface Case {
  name: string;
  flag: string;
  run(fx: Fixture, jwt: string): Promise<GqlResult<any>>;
}

const mutate = (mutation: string, input: Record<string, unknown>, jwt: string) =>
  t.gql(`mutation($input: ${mutation[0]!.toUpperCase()}${mutation.slice(1)}Input!) { ${mutation}(input: $input) { __typename } }`, { input }, jwt);

const CASES: Case[] = [
  { name: "updateOrganization", flag: "org.update", run: (fx, jwt) => mutate("updateOrganization", { organizationId: fx.orgGid, name: "Renamed" }, jwt) },
  { name: "deleteOrganization", flag: "org.delete", run: (fx, jwt) => mutate("deleteOrganization", { organizationId: fx.orgGid }, jwt) },
  { name: "addMember", flag: "org.addMember", run: (fx, jwt) => mutate("addMember", { organizationId: fx.orgGid, email: `new-${fx.organization.slug}@table.test` }, jwt) },
  {
    name: "createRole",
    flag: "org.createRole",
    run: (fx, jwt) => mutate("createRole", { organizationId: fx.orgGid, name: "Viewer", permissions: ["org:read"] }, jwt),
  },
  { name: "createInvitation", flag: "org.invite", run: (fx, jwt) => mutate("createInvitation", { organizationId: fx.orgGid, email: `inv-${fx.organization.slug}@table.test` }, jwt) },
  { name: "transferOwnership", flag: "target.transferOwnershipTo", run: (fx, jwt) => mutate("transferOwnership", { organizationId: fx.orgGid, toMemberId: fx.targetGid }, jwt) },
  { name: "updateMemberRole (custom role)", flag: "assignCustom", run: (fx, jwt) => mutate("updateMemberRole", { memberId: fx.targetGid, roleId: fx.roleGid }, jwt) },
  { name: "updateMemberRole (owner → admin)", flag: "demoteOwner", run: (fx, jwt) => mutate("updateMemberRole", { memberId: fx.own.owner, roleId: roleGid("admin") }, jwt) },
  { name: "suspendMember", flag: "target.suspend", run: (fx, jwt) => mutate("suspendMember", { memberId: fx.targetGid }, jwt) },
  { name: "removeMember", flag: "target.remove", run: (fx, jwt) => mutate("removeMember", { memberId: fx.targetGid }, jwt) },
  { name: "removeMember (the owner)", flag: "ownerMember.remove", run: (fx, jwt) => mutate("removeMember", { memberId: fx.own.owner }, jwt) },
  { name: "suspendMember (the owner)", flag: "ownerMember.suspend", run: (fx, jwt) => mutate("suspendMember", { memberId: fx.own.owner }, jwt) },
  { name: "updateRole", flag: "role.update", run: (fx, jwt) => mutate("updateRole", { roleId: fx.roleGid, name: "Renamed" }, jwt) },
  { name: "deleteRole", flag: "role.delete", run: (fx, jwt) => mutate("deleteRole", { roleId: fx.roleGid }, jwt) },
  { name: "revokeInvitation", flag: "pending.revoke", run: (fx, jwt) => mutate("revokeInvitation", { invitationId: fx.pendingGid }, jwt) },
  { name: "revokeInvitation (already revoked)", flag: "revoked.revoke", run: (fx, jwt) => mutate("revokeInvitation", { invitationId: fx.revokedGid }, jwt) },
  { name: "resendInvitation", flag: "pending.resend", run: (fx, jwt) => mutate("resendInvitation", { invitationId: fx.pendingGid }, jwt) },
  { name: "leaveOrganization", flag: "own.leave", run: (fx, jwt) => mutate("leaveOrganization", { organizationId: fx.orgGid }, jwt) },
];

describe("viewerCan matches what the mutations do", () => {
  const table: [Persona, Case][] = PERSONAS.flatMap((persona) => CASES.map((c): [Persona, Case] => [persona, c]));
  const outcomes: Record<string, string> = {};

  it.each(table)("%s: %s", async (persona, testCase) => {
    const fx = await fixture();
    const flags = await readFlags(fx, persona);
    const predicted = flags[testCase.flag] as Check;
    const result = await testCase.run(fx, fx.jwt[persona]);
    const succeeded = result.errors === undefined;
    outcomes[`${persona} ${testCase.name}`] = succeeded ? "allowed" : `${codes(result)[0]}/${reasons(result)[0]}`;
    expect({ succeeded, reason: succeeded ? null : reasons(result)[0] }).toEqual({ succeeded: predicted.allowed, reason: predicted.reason });
  });

  it("covers allowed and refused outcomes with several reasons", () => {
    const values = Object.values(outcomes);
    expect(values).toContain("allowed");
    for (const reason of ["MISSING_PERMISSION", "OWNER_ONLY", "LAST_OWNER", "SUSPENDED", "NOT_FOUND", "SELF"]) {
      expect(values.some((value) => value.endsWith(`/${reason}`)), reason).toBe(true);
    }
    // Spot checks of the table a reader would expect.
    expect(outcomes["owner removeMember (the owner)"]).toBe("LAST_OWNER/LAST_OWNER");
    expect(outcomes["admin removeMember (the owner)"]).toBe("FORBIDDEN/OWNER_ONLY");
    expect(outcomes["member addMember"]).toBe("FORBIDDEN/MISSING_PERMISSION");
    expect(outcomes["suspended leaveOrganization"]).toBe("allowed");
    expect(outcomes["stranger updateOrganization"]).toBe("NOT_FOUND/NOT_FOUND");
    expect(outcomes["admin deleteOrganization"]).toBe("FORBIDDEN/OWNER_ONLY");
    expect(outcomes["owner revokeInvitation (already revoked)"]).toBe("CONFLICT/INVALID_STATE");
  });
});

describe("explainable checks", () => {
  it("checkPermissions answers per permission, in order, with reasons", async () => {
    const fx = await fixture();
    const QUERY = `query($org: ID!, $permissions: [String!]!) { checkPermissions(organizationId: $org, permissions: $permissions) { permission allowed reason message } }`;
    const asMember = await t.gql(QUERY, { org: fx.orgGid, permissions: ["members:read", "members:delete"] }, fx.jwt.member);
    expect(asMember.data.checkPermissions).toEqual([
      { permission: "members:read", allowed: true, reason: null, message: null },
      { permission: "members:delete", allowed: false, reason: "MISSING_PERMISSION", message: "This needs the members:delete permission" },
    ]);
    const asSuspended = await t.gql(QUERY, { org: fx.orgGid, permissions: ["org:read"] }, fx.jwt.suspended);
    expect(asSuspended.data.checkPermissions[0]).toMatchObject({ allowed: false, reason: "SUSPENDED" });
    const asStranger = await t.gql(QUERY, { org: fx.orgGid, permissions: ["org:read"] }, fx.jwt.stranger);
    expect(asStranger.data.checkPermissions[0]).toMatchObject({ allowed: false, reason: "NOT_FOUND" });
    const unknown = await t.gql(QUERY, { org: fx.orgGid, permissions: ["org:read", "root:everything"] }, fx.jwt.member);
    expect(unknown.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "permissions", unknownPermissions: ["root:everything"] });
  });

  it("canAssignRole explains escalation the way updateMemberRole refuses it", async () => {
    const fx = await fixture();
    const billing = await t.gql(
      `mutation($input: CreateRoleInput!) { createRole(input: $input) { role { id } } }`,
      { input: { organizationId: fx.orgGid, name: "Deleter", permissions: ["org:delete"] } },
      fx.jwt.owner,
    );
    const roleId = billing.data.createRole.role.id;
    const check = await t.gql(`query($m: ID!, $r: ID!) { canAssignRole(memberId: $m, roleId: $r) { allowed reason message } }`, { m: fx.targetGid, r: roleId }, fx.jwt.admin);
    expect(check.data.canAssignRole).toMatchObject({ allowed: false, reason: "ESCALATION" });
    const refused = await t.gql(
      `mutation($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { member { id } } }`,
      { input: { memberId: fx.targetGid, roleId } },
      fx.jwt.admin,
    );
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: "FORBIDDEN", reason: "ESCALATION", missingPermissions: ["org:delete"] });
    expect(refused.errors?.[0]?.message).toBe(check.data.canAssignRole.message);
  });

  it("a role of another organization reads as NOT_FOUND, not as a reason about it", async () => {
    const fx = await fixture();
    const other = await fixture();
    const check = await t.gql(`query($m: ID!, $r: ID!) { canAssignRole(memberId: $m, roleId: $r) { allowed reason } }`, { m: fx.targetGid, r: other.roleGid }, fx.jwt.owner);
    expect(check.data.canAssignRole).toEqual({ allowed: false, reason: "NOT_FOUND" });
  });

  it("costs no statement per member: a page of 50 members with viewerCan", async () => {
    const owner = await userWithToken(t.db, "counting@table.test");
    const measure = async (members: number) => {
      const organization = await organizationOf(t.db, owner.user, `Count ${members}`, `count-${members}`);
      for (let i = 0; i < members; i++) {
        const user = await t.db.prisma.user.create({ data: { email: `m${i}@count-${members}.test` } });
        await t.db.prisma.member.create({ data: { organizationId: organization.id, userId: user.id, roleId: SYSTEM_ROLES[i % 3 === 0 ? "admin" : "member"].id } });
      }
      const run = (withFlags: boolean) => {
        const before = t.db.statementCount();
        return t
          .gql(
            `query($id: ID!) { organization(id: $id) { viewerCan { update } members(first: 50) { edges { node { id ${withFlags ? "viewerCan { update updateRole suspend remove transferOwnershipTo leave checks { reason } } role { viewerCan { assign } }" : ""} } } } } }`,
            { id: globalId("Organization", organization.id) },
            owner.token,
          )
          .then((result) => {
            expect(result.errors).toBeUndefined();
            expect(result.data.organization.members.edges.length).toBe(Math.min(50, members + 1));
            return t.db.statementCount() - before;
          });
      };
      return { plain: await run(false), withFlags: await run(true) };
    };
    const small = await measure(9);
    const large = await measure(60);
    expect(large.withFlags).toBe(small.withFlags);
    expect(large.withFlags - large.plain).toBeLessThanOrEqual(1);
  });
});

describe("safe retries: idempotencyKey", () => {
  const ADD = `mutation($input: AddMemberInput!) { addMember(input: $input) { replayed member { id user { email } } } }`;

  it("a double-submitted addMember creates one member; both answers name it", async () => {
    const fx = await fixture();
    const input = { organizationId: fx.orgGid, email: "double@table.test", idempotencyKey: "6f1c1d5e-double-submit" };
    const [first, second] = await Promise.all([t.gql(ADD, { input }, fx.jwt.owner), t.gql(ADD, { input }, fx.jwt.owner)]);
    expect(first.errors).toBeUndefined();
    expect(second.errors).toBeUndefined();
    expect(first.data.addMember.member.id).toBe(second.data.addMember.member.id);
    expect([first.data.addMember.replayed, second.data.addMember.replayed].sort()).toEqual([false, true]);
    expect(await t.db.prisma.member.count({ where: { organizationId: fx.organization.id, user: { email: "double@table.test" } } })).toBe(1);
    expect(await t.db.prisma.auditEvent.count({ where: { organizationId: fx.organization.id, action: "member.added" } })).toBe(1);

    // A later retry replays too; the same key with different input is a CONFLICT.
    const retry = await t.gql(ADD, { input }, fx.jwt.owner);
    expect(retry.data.addMember).toMatchObject({ replayed: true, member: { id: first.data.addMember.member.id } });
    const reuse = await t.gql(ADD, { input: { ...input, email: "other@table.test" } }, fx.jwt.owner);
    expect(reuse.errors?.[0]?.extensions).toMatchObject({ code: "CONFLICT", field: "idempotencyKey" });
    expect(await t.db.prisma.user.count({ where: { email: "other@table.test" } })).toBe(0);
  });

  it("keys are per user: another user's key of the same name creates their own", async () => {
    const fx = await fixture();
    const key = "shared-name";
    const a = await t.gql(ADD, { input: { organizationId: fx.orgGid, email: "a@keys.test", idempotencyKey: key } }, fx.jwt.owner);
    const b = await t.gql(ADD, { input: { organizationId: fx.orgGid, email: "b@keys.test", idempotencyKey: key } }, fx.jwt.admin);
    expect(a.data.addMember.replayed).toBe(false);
    expect(b.data.addMember.replayed).toBe(false);
  });

  it("a failed attempt doesn't burn the key", async () => {
    const fx = await fixture();
    const input = { organizationId: fx.orgGid, email: "retry@table.test", roleId: roleGid("owner"), idempotencyKey: "after-failure" };
    expect(codes(await t.gql(ADD, { input }, fx.jwt.admin))).toEqual(["FORBIDDEN"]);
    const fixed = await t.gql(ADD, { input }, fx.jwt.owner);
    expect(fixed.data.addMember.replayed).toBe(false);
  });

  it("createOrganization, createRole and createInvitation replay too (the invitation's secret is never stored)", async () => {
    const fx = await fixture();
    const ORG = `mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { replayed organization { id } } }`;
    const org = { name: "Once Inc", idempotencyKey: "org-once" };
    const o1 = await t.gql(ORG, { input: org }, fx.jwt.admin);
    const o2 = await t.gql(ORG, { input: org }, fx.jwt.admin);
    expect(o2.data.createOrganization).toEqual({ replayed: true, organization: o1.data.createOrganization.organization });

    const ROLE = `mutation($input: CreateRoleInput!) { createRole(input: $input) { replayed role { id } } }`;
    const role = { organizationId: fx.orgGid, name: "Once", permissions: ["org:read"], idempotencyKey: "role-once" };
    const r1 = await t.gql(ROLE, { input: role }, fx.jwt.owner);
    const r2 = await t.gql(ROLE, { input: role }, fx.jwt.owner);
    expect(r2.data.createRole).toEqual({ replayed: true, role: r1.data.createRole.role });

    const INVITE = `mutation($input: CreateInvitationInput!) { createInvitation(input: $input) { replayed token invitation { id } } }`;
    const invite = { organizationId: fx.orgGid, email: "once@table.test", idempotencyKey: "invite-once" };
    const i1 = await t.gql(INVITE, { input: invite }, fx.jwt.owner);
    const i2 = await t.gql(INVITE, { input: invite }, fx.jwt.owner);
    expect(i1.data.createInvitation.token).toMatch(/^inv_/);
    expect(i2.data.createInvitation).toEqual({ replayed: true, token: null, invitation: i1.data.createInvitation.invitation });
    expect(await t.db.prisma.invitation.count({ where: { organizationId: fx.organization.id, email: "once@table.test" } })).toBe(1);
  });

  it("refuses a malformed key, naming the field", async () => {
    const fx = await fixture();
    const result = await t.gql(ADD, { input: { organizationId: fx.orgGid, email: "x@keys.test", idempotencyKey: "has spaces" } }, fx.jwt.owner);
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "idempotencyKey" });
  });
});

describe("no lost updates: version and expectedVersion", () => {
  it("two admins editing the same role from the same version: one wins, one gets STALE_VERSION (5 rounds)", async () => {
    const UPDATE = `mutation($input: UpdateRoleInput!) { updateRole(input: $input) { role { name version } } }`;
    for (let round = 0; round < 5; round++) {
      const fx = await fixture();
      const read = await t.gql(`query($id: ID!) { node(id: $id) { ... on Role { version } } }`, { id: fx.roleGid }, fx.jwt.admin);
      const version = read.data.node.version;
      expect(version).toBe(1);
      const results = await Promise.all([
        t.gql(UPDATE, { input: { roleId: fx.roleGid, name: "By owner", expectedVersion: version } }, fx.jwt.owner),
        t.gql(UPDATE, { input: { roleId: fx.roleGid, name: "By admin", expectedVersion: version } }, fx.jwt.admin),
      ]);
      const winners = results.filter((r) => r.errors === undefined);
      const losers = results.filter((r) => r.errors !== undefined);
      expect(winners).toHaveLength(1);
      expect(losers).toHaveLength(1);
      expect(winners[0]!.data.updateRole.role.version).toBe(2);
      expect(losers[0]!.errors![0]!.extensions).toMatchObject({ code: "STALE_VERSION", field: "expectedVersion", expectedVersion: 1, currentVersion: 2 });
      const stored = await t.db.prisma.role.findFirstOrThrow({ where: { organizationId: fx.organization.id, key: "reader" } });
      expect(stored.name).toBe(winners[0]!.data.updateRole.role.name);
    }
  });

  it("members and organizations carry versions too; updates without expectedVersion still apply", async () => {
    const fx = await fixture();
    const ROLE = `mutation($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { member { version } } }`;
    const first = await t.gql(ROLE, { input: { memberId: fx.targetGid, roleId: roleGid("admin"), expectedVersion: 1 } }, fx.jwt.owner);
    expect(first.data.updateMemberRole.member.version).toBe(2);
    const stale = await t.gql(ROLE, { input: { memberId: fx.targetGid, roleId: roleGid("member"), expectedVersion: 1 } }, fx.jwt.owner);
    expect(codes(stale)).toEqual(["STALE_VERSION"]);
    const suspend = await t.gql(
      `mutation($input: SuspendMemberInput!) { suspendMember(input: $input) { member { version status } } }`,
      { input: { memberId: fx.targetGid, expectedVersion: 1 } },
      fx.jwt.owner,
    );
    expect(codes(suspend)).toEqual(["STALE_VERSION"]);

    const ORG = `mutation($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { organization { name version } } }`;
    const o1 = await t.gql(ORG, { input: { organizationId: fx.orgGid, name: "V2", expectedVersion: 1 } }, fx.jwt.owner);
    expect(o1.data.updateOrganization.organization).toEqual({ name: "V2", version: 2 });
    expect(codes(await t.gql(ORG, { input: { organizationId: fx.orgGid, name: "Lost", expectedVersion: 1 } }, fx.jwt.admin))).toEqual(["STALE_VERSION"]);
    const o3 = await t.gql(ORG, { input: { organizationId: fx.orgGid, name: "V3" } }, fx.jwt.admin);
    expect(o3.data.updateOrganization.organization).toEqual({ name: "V3", version: 3 });
  });
});

describe("errors for forms", () => {
  it("names the offending input field for malformed variables and domain validation", async () => {
    const fx = await fixture();
    const badEmail = await t.gql(`mutation($input: AddMemberInput!) { addMember(input: $input) { member { id } } }`, { input: { organizationId: fx.orgGid, email: "not-an-email" } }, fx.jwt.owner);
    expect(badEmail.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "email" });
    const missing = await t.gql(`mutation($input: AddMemberInput!) { addMember(input: $input) { member { id } } }`, { input: { organizationId: fx.orgGid } }, fx.jwt.owner);
    expect(missing.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "email" });
    const badName = await t.gql(`mutation($input: CreateRoleInput!) { createRole(input: $input) { role { id } } }`, { input: { organizationId: fx.orgGid, name: " ", permissions: [] } }, fx.jwt.owner);
    expect(badName.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "name" });
    const wrongId = await t.gql(`mutation($input: RemoveMemberInput!) { removeMember(input: $input) { removedMemberId } }`, { input: { memberId: fx.roleGid } }, fx.jwt.owner);
    expect(wrongId.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "memberId" });
  });
});
