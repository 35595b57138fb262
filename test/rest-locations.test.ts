// The location-scoped profile (/compat/locations): PATCH /v1/members/{id} sets locations with roles
// by key, primary contact, settings and active state, and refuses what a membership doesn't own
// (names, email, organization, a password); GET answers the same shape. Escalation at a location
// and other organizations' members are refused as over GraphQL; answers validated against the
// OpenAPI document.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restClient, type Answer } from "./fixtures/rest.js";
import { createTestApp, orgWithPeople, type OrgFixture, type TestApp } from "./helpers.js";

const ONE = "/v1/members/{id}";

let t: TestApp;
let acme: OrgFixture;
let other: OrgFixture;
let north: string;
let south: string;
let client: Awaited<ReturnType<typeof restClient>>;

const call = (method: string, route: string, token: string | null, body?: unknown, headers?: Record<string, string>) => client.call(method, route, token, body, headers);
const conforms = (answer: Answer, method: string) => client.conforms(answer, ONE, method);

/** The body the page's clients send: the member as it is, with the changes given. */
async function fullBody(memberId: string, changes: Record<string, unknown>) {
  const current = await call("GET", `/v1/members/${memberId}`, acme.owner.token);
  expect(current.status).toBe(200);
  const { firstName, lastName, email, organizationId, locations, isPrimary, isActive, settings } = current.body;
  return { firstName, lastName, email, organizationId, locations, isPrimary, isActive, settings, ...changes };
}

beforeAll(async () => {
  t = await createTestApp({ RATE_LIMITS: "false" });
  acme = await orgWithPeople(t.db, "locations-acme");
  other = await orgWithPeople(t.db, "locations-other");
  north = (await t.db.prisma.location.create({ data: { organizationId: acme.organization.id, name: "North" } })).id;
  south = (await t.db.prisma.location.create({ data: { organizationId: acme.organization.id, name: "South" } })).id;
  client = await restClient(t.app, "locations");
});
afterAll(async () => {
  await t?.close();
});

describe("the locations profile", () => {
  it("has a valid OpenAPI 3.1 document with the reference page's fields", async () => {
    expect(await client.validDocument()).toEqual([]);
    expect(client.fields("Member")).toEqual(["id", "createdAt", "updatedAt", "firstName", "lastName", "email", "organizationId", "locations", "isPrimary", "isActive", "settings"]);
    expect(client.fields("MemberLocation")).toEqual(["locationId", "role"]);
  });

  it("PATCH sets locations with roles by key, the primary contact, the picture and the active state; GET shows the same", async () => {
    const memberId = acme.member.memberId;
    const body = await fullBody(memberId, {
      locations: [
        { locationId: north, role: ["admin"] },
        { locationId: south, role: ["member"] },
      ],
      isPrimary: true,
      isActive: false,
      settings: { profilePictureUrl: "https://cdn.example/p.png" },
    });
    const changed = await call("PATCH", `/v1/members/${memberId}`, acme.owner.token, body);
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    conforms(changed, "PATCH");
    expect(changed.body).toMatchObject({
      id: memberId,
      organizationId: acme.organization.id,
      email: acme.member.user.email,
      locations: [
        { locationId: north, role: ["admin"] },
        { locationId: south, role: ["member"] },
      ].sort((a, b) => a.locationId.localeCompare(b.locationId)),
      isPrimary: true,
      isActive: false,
      settings: { profilePictureUrl: "https://cdn.example/p.png" },
    });
    const got = await call("GET", `/v1/members/${memberId}`, acme.admin.token);
    conforms(got, "GET");
    expect(got.body).toEqual(changed.body);
    // Back to active, one location, through If-Match.
    const back = await call("PATCH", `/v1/members/${memberId}`, acme.owner.token, { ...body, isActive: true, locations: [{ locationId: north, role: ["member"] }] }, { "if-match": changed.headers.get("etag")! });
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    expect(back.body).toMatchObject({ isActive: true, locations: [{ locationId: north, role: ["member"] }] });
    const stale = await call("PATCH", `/v1/members/${memberId}`, acme.owner.token, { ...body, isPrimary: false }, { "if-match": changed.headers.get("etag")! });
    expect(stale.status).toBe(412);
  });

  it("refuses what the membership doesn't own, an unknown role key, and a password", async () => {
    const memberId = acme.member.memberId;
    const cases: [Record<string, unknown>, string][] = [
      [{ firstName: "Someone Else" }, "firstName"],
      [{ email: "other@example.com" }, "email"],
      [{ organizationId: other.organization.id }, "organizationId"],
      [{ settings: { password: "hunter2" } }, "settings.password"],
      [{ locations: [{ locationId: north, role: ["wizard"] }] }, "locations.0.role.0"],
      [{ locations: [{ locationId: north, role: "admin" }] }, "locations.0.role"],
      [{ nickname: "x" }, "nickname"],
    ];
    for (const [changes, field] of cases) {
      const answer = await call("PATCH", `/v1/members/${memberId}`, acme.owner.token, await fullBody(memberId, changes));
      expect(answer.status, field).toBe(400);
      expect(answer.body.error, field).toMatchObject({ code: "BAD_USER_INPUT", field });
    }
    const missing = await call("PATCH", `/v1/members/${memberId}`, acme.owner.token, { isPrimary: true });
    expect(missing.body.error).toMatchObject({ code: "BAD_USER_INPUT", field: "firstName" });
  });

  it("refuses escalation at a location, plain members and other organizations as over GraphQL", async () => {
    const memberId = acme.member.memberId;
    const owner = await call("PATCH", `/v1/members/${memberId}`, acme.admin.token, await fullBody(memberId, { locations: [{ locationId: north, role: ["owner"] }] }));
    expect(owner.body.error).toMatchObject({ code: "BAD_USER_INPUT", field: "locations.0.role" });
    // A role with a permission the admin lacks (webhooks:manage), at a location: above their own.
    await t.db.prisma.role.create({ data: { organizationId: acme.organization.id, key: "hooks", name: "Hooks", permissions: ["org:read", "events:read", "webhooks:manage"] } });
    const above = await call("PATCH", `/v1/members/${memberId}`, acme.admin.token, await fullBody(memberId, { locations: [{ locationId: north, role: ["hooks"] }] }));
    expect(above.status, JSON.stringify(above.body)).toBe(403);
    conforms(above, "PATCH");
    const plain = await call("PATCH", `/v1/members/${acme.admin.memberId}`, acme.member.token, await fullBody(acme.admin.memberId, { isPrimary: true }));
    expect(plain.status).toBe(403);
    for (const answer of [await call("GET", `/v1/members/${memberId}`, other.owner.token), await call("PATCH", `/v1/members/${memberId}`, other.owner.token, await fullBody(memberId, { isPrimary: false }))]) {
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe("NOT_FOUND");
    }
  });
});
