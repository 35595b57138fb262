// The pxyz profile (/compat/pxyz): a membership by its id alone, camelCase, its role with
// `_count`, private metadata only for those who may read it; every route's success and errors,
// memberships the caller can't see (404), escalation refused as over GraphQL, answers validated
// against the OpenAPI document, and the reference page's curl example run as the page gives it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ROLES } from "../src/core/permissions.js";
import { curl, listening, restClient, type Answer } from "./fixtures/rest.js";
import { createTestApp, orgWithPeople, userWithToken, type OrgFixture, type TestApp } from "./helpers.js";

const ADMIN_ROLE = SYSTEM_ROLES.admin.id;
const MEMBER_ROLE = SYSTEM_ROLES.member.id;
const OWNER_ROLE = SYSTEM_ROLES.owner.id;
const LIST = "/api/v0/auth/organization-members";
const ONE = "/api/v0/auth/organization-members/{id}";

let t: TestApp;
let acme: OrgFixture;
let other: OrgFixture;
let client: Awaited<ReturnType<typeof restClient>>;

const pxyz = (method: string, route: string, token: string | null, body?: unknown, headers?: Record<string, string>) => client.call(method, route, token, body, headers);
const conforms = (answer: Answer, route: string, method: string) => client.conforms(answer, route, method);
const one = (memberId: string) => `/api/v0/auth/organization-members/${memberId}`;

beforeAll(async () => {
  t = await createTestApp({ RATE_LIMITS: "false" });
  acme = await orgWithPeople(t.db, "pxyz-acme");
  other = await orgWithPeople(t.db, "pxyz-other");
  client = await restClient(t.app, "pxyz");
});
afterAll(async () => {
  await t?.close();
});

describe("the pxyz profile", () => {
  it("has a valid OpenAPI 3.1 document with the reference page's fields", async () => {
    expect(await client.validDocument()).toEqual([]);
    expect(client.fields("OrganizationMembership")).toEqual(["id", "organizationId", "userId", "roleId", "role", "user", "publicMeta", "privateMeta", "createdAt", "updatedAt"]);
    expect(client.fields("Role")).toEqual(["id", "name", "description", "permissions", "tenantId", "_count", "createdAt", "updatedAt"]);
    expect(client.fields("User")).toEqual(["id", "name", "identifier", "imageUri", "createdAt", "updatedAt"]);
  });

  it("PUT changes the role and the metadata; private metadata shows only to those who may read it", async () => {
    const changed = await pxyz("PUT", one(acme.member.memberId), acme.owner.token, { roleId: ADMIN_ROLE, publicMeta: { team: "blue" }, privateMeta: { salary: 1 } });
    expect(changed.status).toBe(200);
    conforms(changed, ONE, "PUT");
    expect(changed.body).toMatchObject({
      id: acme.member.memberId,
      organizationId: acme.organization.id,
      userId: acme.member.user.id,
      roleId: ADMIN_ROLE,
      role: { id: ADMIN_ROLE, tenantId: null, _count: { users: expect.any(Number), members: expect.any(Number) } },
      user: { id: acme.member.user.id, identifier: acme.member.user.email },
      publicMeta: { team: "blue" },
      privateMeta: { salary: 1 },
    });
    // A plain member reads it without the private metadata (null), and can't change it.
    const seen = await pxyz("GET", one(acme.member.memberId), acme.admin.token);
    expect(seen.status).toBe(200);
    conforms(seen, ONE, "GET");
    const plain = await userWithToken(t.db, "plain@pxyz.example");
    await t.db.prisma.member.create({ data: { organizationId: acme.organization.id, userId: plain.user.id, roleId: MEMBER_ROLE } });
    const asMember = await pxyz("GET", one(acme.member.memberId), plain.token);
    expect(asMember.body).toMatchObject({ publicMeta: { team: "blue" }, privateMeta: null });
    expect((await pxyz("PUT", one(acme.member.memberId), plain.token, { publicMeta: {} })).status).toBe(403);
    // Back, with If-Match on the version it answered.
    const back = await pxyz("PUT", one(acme.member.memberId), acme.owner.token, { roleId: MEMBER_ROLE }, { "if-match": changed.headers.get("etag")! });
    expect(back.status).toBe(200);
    expect(back.body.roleId).toBe(MEMBER_ROLE);
    expect((await pxyz("PUT", one(acme.member.memberId), acme.owner.token, { publicMeta: {} }, { "if-match": changed.headers.get("etag")! })).status).toBe(412);
  });

  it("GET lists an organization's memberships (organizationId required), DELETE removes one", async () => {
    const list = await pxyz("GET", `${LIST}?organizationId=${acme.organization.id}&limit=2`, acme.member.token);
    expect(list.status).toBe(200);
    conforms(list, LIST, "GET");
    expect(list.body.hasMore).toBe(true);
    const missing = await pxyz("GET", LIST, acme.member.token);
    expect(missing.body.error).toMatchObject({ code: "BAD_USER_INPUT", field: "organizationId" });
    const person = await userWithToken(t.db, "leaving@pxyz.example");
    const member = await t.db.prisma.member.create({ data: { organizationId: acme.organization.id, userId: person.user.id, roleId: MEMBER_ROLE } });
    expect((await pxyz("DELETE", one(member.id), acme.admin.token)).status).toBe(204);
    expect((await pxyz("GET", one(member.id), acme.admin.token)).status).toBe(404);
  });

  it("a membership the caller can't see is 404, whatever the route; escalation and bad input are refused", async () => {
    for (const answer of [
      await pxyz("GET", one(acme.member.memberId), other.owner.token),
      await pxyz("PUT", one(acme.member.memberId), other.owner.token, { roleId: ADMIN_ROLE }),
      await pxyz("DELETE", one(acme.member.memberId), other.owner.token),
      await pxyz("GET", `${LIST}?organizationId=${acme.organization.id}`, other.owner.token),
    ]) {
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe("NOT_FOUND");
    }
    const before = await t.db.prisma.member.findUniqueOrThrow({ where: { id: acme.member.memberId } });
    // A refused role change stops the metadata after it: nothing changes.
    const escalation = await pxyz("PUT", one(acme.member.memberId), acme.admin.token, { roleId: OWNER_ROLE, publicMeta: { sneaky: true } });
    expect(escalation.status).toBe(403);
    const after = await t.db.prisma.member.findUniqueOrThrow({ where: { id: acme.member.memberId } });
    expect([after.roleId, after.publicMetadata, after.version]).toEqual([before.roleId, before.publicMetadata, before.version]);
    // A PUT that changes nothing writes nothing: no new version, no audit row.
    const audits = await t.db.prisma.auditEvent.count({ where: { organizationId: acme.organization.id } });
    const same = await pxyz("PUT", one(acme.member.memberId), acme.owner.token, { roleId: before.roleId.toUpperCase() });
    expect(same.status).toBe(200);
    expect(same.headers.get("etag")).toBe(`"${before.version}"`);
    expect(await t.db.prisma.auditEvent.count({ where: { organizationId: acme.organization.id } })).toBe(audits);
    const notObject = await pxyz("PUT", one(acme.member.memberId), acme.owner.token, { publicMeta: "<any>" });
    expect(notObject.body.error).toMatchObject({ code: "BAD_USER_INPUT", field: "publicMeta" });
    const unknown = await pxyz("PUT", one(acme.member.memberId), acme.owner.token, { tenantId: "t" });
    expect(unknown.body.error).toMatchObject({ code: "BAD_USER_INPUT", field: "tenantId" });
    expect((await t.db.prisma.member.findUniqueOrThrow({ where: { id: acme.member.memberId } })).roleId).toBe(MEMBER_ROLE);
  });

  it("the reference page's curl example works as written (with an Authorization header added: the page's has none)", async () => {
    const EXAMPLE = `curl --request PUT \\
--url https://api.pxyz.dev/api/v0/auth/organization-members/{id} \\
--header 'Content-Type: application/json' \\
--data '{
"roleId": "<string>",
"privateMeta": "<any>",
"publicMeta": "<any>"
}'`;
    const server = await listening(t.app);
    try {
      const answer = await curl(`${EXAMPLE} --header 'Authorization: Bearer ${acme.owner.token}'`, {
        "https://api.pxyz.dev": `${server.url}/compat/pxyz`,
        "{id}": acme.admin.memberId,
        "<string>": ADMIN_ROLE,
        '"<any>"': '{ "source": "curl" }',
      });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ id: acme.admin.memberId, roleId: ADMIN_ROLE, publicMeta: { source: "curl" }, privateMeta: { source: "curl" } });
    } finally {
      await server.close();
    }
  });
});
