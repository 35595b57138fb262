// The Wacht profile (/compat/wacht): a membership by its id, with its user's emails and phones and
// its role's permissions; every route's success and errors, another organization's memberships
// (404 through this organization's path, even where the caller may change them), escalation
// refused as over GraphQL, answers validated against the OpenAPI document, and the reference
// page's curl example run as the page gives it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ROLES } from "../src/core/permissions.js";
import { curl, listening, restClient, type Answer } from "./fixtures/rest.js";
import { createTestApp, orgWithPeople, userWithToken, type OrgFixture, type TestApp } from "./helpers.js";

const ADMIN_ROLE = SYSTEM_ROLES.admin.id;
const MEMBER_ROLE = SYSTEM_ROLES.member.id;
const OWNER_ROLE = SYSTEM_ROLES.owner.id;
const MEMBERS = "/organizations/{organization_id}/members";
const MEMBER = "/organizations/{organization_id}/members/{membership_id}";

let t: TestApp;
let acme: OrgFixture;
let other: OrgFixture;
let client: Awaited<ReturnType<typeof restClient>>;

const wacht = (method: string, route: string, token: string | null, body?: unknown, headers?: Record<string, string>) => client.call(method, route, token, body, headers);
const conforms = (answer: Answer, route: string, method: string) => client.conforms(answer, route, method);
const memberPath = (org: OrgFixture, memberId: string) => `/organizations/${org.organization.id}/members/${memberId}`;

beforeAll(async () => {
  t = await createTestApp({ RATE_LIMITS: "false" });
  acme = await orgWithPeople(t.db, "wacht-acme");
  other = await orgWithPeople(t.db, "wacht-other");
  client = await restClient(t.app, "wacht");
});
afterAll(async () => {
  await t?.close();
});

describe("the Wacht profile", () => {
  it("has a valid OpenAPI 3.1 document with the reference page's fields", async () => {
    expect(await client.validDocument()).toEqual([]);
    expect(client.fields("OrganizationMember")).toEqual(["id", "user_id", "organization_id", "role_id", "joined_at", "user", "role"]);
    expect(client.fields("User")).toEqual(["id", "email", "username", "first_name", "last_name", "created_at", "updated_at", "is_active", "emails", "phones", "social_connections"]);
    expect(client.fields("UserEmailAddress")).toEqual(["id", "email", "is_primary", "is_verified", "verified_at"]);
    expect(client.fields("UserPhoneNumber")).toEqual(["id", "phone_number", "is_primary", "is_verified", "verified_at"]);
    expect(client.fields("Role")).toEqual(["id", "name", "description", "permissions", "is_default", "created_at"]);
  });

  it("PATCH changes a membership's role and answers it with the user's emails and phones and the role's permissions", async () => {
    await t.db.prisma.userPhone.create({ data: { userId: acme.member.user.id, phoneNumber: "+15550100", isPrimary: true, isVerified: true, verifiedAt: new Date() } });
    const changed = await wacht("PATCH", memberPath(acme, acme.member.memberId), acme.owner.token, { role_id: ADMIN_ROLE });
    expect(changed.status).toBe(200);
    conforms(changed, MEMBER, "PATCH");
    expect(changed.body).toMatchObject({
      id: acme.member.memberId,
      user_id: acme.member.user.id,
      organization_id: acme.organization.id,
      role_id: ADMIN_ROLE,
      user: { email: acme.member.user.email, is_active: true, social_connections: [], phones: [{ phone_number: "+15550100", is_primary: true, is_verified: true }] },
      role: { id: ADMIN_ROLE, is_default: false, permissions: expect.arrayContaining(["members:update"]) },
    });
    expect(changed.body.user.emails).toContainEqual(expect.objectContaining({ email: acme.member.user.email, is_primary: true }));
    const back = await wacht("PATCH", memberPath(acme, acme.member.memberId), acme.owner.token, { role_id: MEMBER_ROLE }, { "if-match": changed.headers.get("etag")! });
    expect(back.status).toBe(200);
    expect(back.body.role.is_default).toBe(true);
    const stale = await wacht("PATCH", memberPath(acme, acme.member.memberId), acme.owner.token, { role_id: ADMIN_ROLE }, { "if-match": changed.headers.get("etag")! });
    expect(stale.status).toBe(412);
  });

  it("GET lists and reads memberships; DELETE removes one (204)", async () => {
    const list = await wacht("GET", `/organizations/${acme.organization.id}/members?limit=2`, acme.member.token);
    expect(list.status).toBe(200);
    conforms(list, MEMBERS, "GET");
    expect(list.body.has_more).toBe(true);
    const one = await wacht("GET", memberPath(acme, acme.admin.memberId), acme.member.token);
    expect(one.status).toBe(200);
    // UUIDs in any case, as Piper takes them.
    expect((await wacht("GET", `/organizations/${acme.organization.id.toUpperCase()}/members/${acme.admin.memberId.toUpperCase()}`, acme.member.token)).status).toBe(200);
    conforms(one, MEMBER, "GET");
    const person = await userWithToken(t.db, "leaving@wacht.example");
    const member = await t.db.prisma.member.create({ data: { organizationId: acme.organization.id, userId: person.user.id, roleId: MEMBER_ROLE } });
    const removed = await wacht("DELETE", memberPath(acme, member.id), acme.admin.token);
    expect(removed.status).toBe(204);
    expect((await wacht("GET", memberPath(acme, member.id), acme.admin.token)).status).toBe(404);
  });

  it("another organization's membership is 404 through this organization's path — even for someone who may change it there", async () => {
    // Acme's owner also owns a second organization; its member can't be reached through acme's path.
    const second = await t.db.prisma.member.create({ data: { organizationId: other.organization.id, userId: acme.owner.user.id, roleId: OWNER_ROLE } });
    for (const answer of [
      await wacht("PATCH", memberPath(acme, other.member.memberId), acme.owner.token, { role_id: ADMIN_ROLE }),
      await wacht("GET", memberPath(acme, other.member.memberId), acme.owner.token),
      await wacht("DELETE", memberPath(acme, other.member.memberId), acme.owner.token),
      await wacht("GET", memberPath(other, acme.member.memberId), other.owner.token),
      await wacht("GET", `/organizations/${acme.organization.id}/members`, other.owner.token),
    ]) {
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe("NOT_FOUND");
    }
    expect((await t.db.prisma.member.findUniqueOrThrow({ where: { id: other.member.memberId } })).roleId).toBe(MEMBER_ROLE);
    await t.db.prisma.member.delete({ where: { id: second.id } });
  });

  it("refuses what GraphQL refuses, and input it doesn't take", async () => {
    const escalation = await wacht("PATCH", memberPath(acme, acme.member.memberId), acme.admin.token, { role_id: OWNER_ROLE });
    expect(escalation.status).toBe(403);
    conforms(escalation, MEMBER, "PATCH");
    expect((await wacht("PATCH", memberPath(acme, acme.admin.memberId), acme.member.token, { role_id: MEMBER_ROLE })).status).toBe(403);
    expect((await wacht("PATCH", memberPath(acme, acme.admin.memberId), null, { role_id: MEMBER_ROLE })).status).toBe(401);
    const unknown = await wacht("PATCH", memberPath(acme, acme.admin.memberId), acme.owner.token, { role_id: MEMBER_ROLE, name: "x" });
    expect(unknown.body.error).toMatchObject({ code: "BAD_USER_INPUT", field: "name" });
    const notUuid = await wacht("PATCH", memberPath(acme, "1234567890123456"), acme.owner.token, { role_id: MEMBER_ROLE });
    expect(notUuid.body.error).toMatchObject({ code: "BAD_USER_INPUT", field: "membership_id" });
  });

  it("the reference page's curl example works as written", async () => {
    const EXAMPLE = `curl --request PATCH \\
--url https://api.wacht.dev/organizations/{organization_id}/members/{membership_id} \\
--header 'Authorization: Bearer <token>' \\
--header 'Content-Type: application/json' \\
--data '{
"role_id": "<string>"
}'`;
    const server = await listening(t.app);
    try {
      const answer = await curl(EXAMPLE, {
        "https://api.wacht.dev": `${server.url}/compat/wacht`,
        "<token>": acme.owner.token,
        "{organization_id}": acme.organization.id,
        "{membership_id}": acme.admin.memberId,
        "<string>": ADMIN_ROLE,
      });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ id: acme.admin.memberId, role_id: ADMIN_ROLE });
    } finally {
      await server.close();
    }
  });
});
