// The rules hold when requests race: parallel GraphQL requests (several pool connections on
// PostgreSQL) can't leave an organization without an owner, or accept an invitation twice.
import { afterAll, beforeAll, expect, it } from "vitest";
import { OWNER_ROLE_ID } from "../src/core/permissions.js";
import { codes, createTestApp, databaseKind, orgWithPeople, roleGid, userWithToken, type OrgFixture, type TestApp } from "./helpers.js";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const ROLE = `mutation($input: UpdateMemberRoleInput!) { updateMemberRole(input: $input) { member { id } } }`;
const LEAVE = `mutation($input: LeaveOrganizationInput!) { leaveOrganization(input: $input) { removedMemberId } }`;
const ROUNDS = 6;

async function twoOwners(slug: string): Promise<OrgFixture> {
  const org = await orgWithPeople(t.db, slug);
  await t.db.prisma.member.update({ where: { id: org.admin.memberId }, data: { roleId: OWNER_ROLE_ID } });
  return org;
}

async function activeOwners(org: OrgFixture): Promise<number> {
  return t.db.prisma.member.count({ where: { organizationId: org.organization.id, roleId: OWNER_ROLE_ID, status: "ACTIVE" } });
}

it(`two owners demoting each other at once leave one owner (${databaseKind}, ${ROUNDS} rounds)`, async () => {
  for (let round = 0; round < ROUNDS; round++) {
    const org = await twoOwners(`duel${round}`);
    const results = await Promise.all([
      t.gql(ROLE, { input: { memberId: org.admin.memberGid, roleId: roleGid("admin") } }, org.owner.token),
      t.gql(ROLE, { input: { memberId: org.owner.memberGid, roleId: roleGid("admin") } }, org.admin.token),
    ]);
    expect(results.filter((result) => !result.errors)).toHaveLength(1);
    expect(results.flatMap(codes).every((code) => code === "FORBIDDEN" || code === "LAST_OWNER")).toBe(true);
    expect(await activeOwners(org)).toBe(1);
  }
});

it(`two owners demoting themselves at once: one is refused with LAST_OWNER (${ROUNDS} rounds)`, async () => {
  for (let round = 0; round < ROUNDS; round++) {
    const org = await twoOwners(`self${round}`);
    const results = await Promise.all([
      t.gql(ROLE, { input: { memberId: org.owner.memberGid, roleId: roleGid("admin") } }, org.owner.token),
      t.gql(ROLE, { input: { memberId: org.admin.memberGid, roleId: roleGid("admin") } }, org.admin.token),
    ]);
    expect(results.flatMap(codes)).toEqual(["LAST_OWNER"]);
    expect(await activeOwners(org)).toBe(1);
  }
});

it(`two owners leaving at once: one stays (${ROUNDS} rounds)`, async () => {
  for (let round = 0; round < ROUNDS; round++) {
    const org = await twoOwners(`leave${round}`);
    const results = await Promise.all([
      t.gql(LEAVE, { input: { organizationId: org.orgGid } }, org.owner.token),
      t.gql(LEAVE, { input: { organizationId: org.orgGid } }, org.admin.token),
    ]);
    expect(results.flatMap(codes)).toEqual(["LAST_OWNER"]);
    expect(await activeOwners(org)).toBe(1);
  }
});

it("an invitation accepted twice at once makes one membership", async () => {
  const org = await orgWithPeople(t.db, "race");
  const invitee = await userWithToken(t.db, "racer@example.com");
  const created = await t.gql(
    `mutation($input: CreateInvitationInput!) { createInvitation(input: $input) { token } }`,
    { input: { organizationId: org.orgGid, email: "racer@example.com" } },
    org.owner.token,
  );
  const token = created.data.createInvitation.token;
  const accept = `mutation($t: String!) { acceptInvitation(input: { token: $t }) { member { id } } }`;
  const results = await Promise.all([1, 2, 3].map(() => t.gql(accept, { t: token }, invitee.token)));
  expect(results.filter((result) => !result.errors)).toHaveLength(1);
  expect(results.flatMap(codes)).toEqual(["CONFLICT", "CONFLICT"]);
  expect(await t.db.prisma.member.count({ where: { organizationId: org.organization.id, userId: invitee.user.id } })).toBe(1);
});
