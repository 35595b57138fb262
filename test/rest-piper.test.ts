// The Piper profile (/compat/piper): every route's happy path and error statuses, ids of another
// organization (404, the same answer as an unknown id), escalation refused as over GraphQL, input
// refused before anything runs, every response validated against the profile's OpenAPI schemas
// (ajv) and the OpenAPI document itself by an OpenAPI 3.1 validator, and the reference pages' curl
// examples run with curl as the pages give them, only the host, token and ids changed.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ROLES } from "../src/core/permissions.js";
import { createApp } from "../src/server.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { restDocuments } from "../src/rest/handler.js";
import { enabledProfiles } from "../src/rest/profiles.js";
import { curl, listening, restClient, type Answer } from "./fixtures/rest.js";
import { createTestApp, orgWithPeople, userWithToken, type OrgFixture, type TestApp } from "./helpers.js";

const OWNER_ROLE = SYSTEM_ROLES.owner.id;
const ADMIN_ROLE = SYSTEM_ROLES.admin.id;
const MEMBER_ROLE = SYSTEM_ROLES.member.id;

let t: TestApp;
let acme: OrgFixture;
let other: OrgFixture;
let client: Awaited<ReturnType<typeof restClient>>;

const piper = (method: string, route: string, token: string | null, body?: unknown, headers?: Record<string, string>) => client.call(method, route, token, body, headers);
const conforms = (answer: Answer, route: string, method: string) => client.conforms(answer, route, method);

const memberPath = (org: OrgFixture, userId: string) => `/v1/organizations/${org.organization.id}/members/${userId}`;
const MEMBERS = "/v1/organizations/{org_id}/members";
const MEMBER = "/v1/organizations/{org_id}/members/{user_id}";

beforeAll(async () => {
  t = await createTestApp({ RATE_LIMITS: "false" });
  acme = await orgWithPeople(t.db, "piper-acme");
  other = await orgWithPeople(t.db, "piper-other");
  client = await restClient(t.app, "piper");
});
afterAll(async () => {
  await t?.close();
});

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1, needs no authentication to read, and lists every route", async () => {
    const { openapi, fields } = client;
    expect(await client.validDocument()).toEqual([]);
    expect(openapi.openapi).toBe("3.1.0");
    expect(Object.keys(openapi.paths).sort()).toEqual([MEMBERS, MEMBER]);
    expect(Object.keys(openapi.paths[MEMBER]).sort()).toEqual(["delete", "get", "patch"]);
    // The reference pages' field lists, exactly.
    expect(fields("OrganizationMemberRead")).toEqual(["id", "user_id", "organization_id", "role_id", "created_at", "role", "user", "organization"]);
    expect(fields("RoleInfo")).toEqual(["id", "name", "is_system"]);
    expect(fields("UserRead")).toEqual(["email", "first_name", "last_name", "id", "is_active", "timezone", "created_at", "updated_at", "status", "invited_at"]);
    expect(fields("OrganizationRead")).toEqual(["name", "id", "business_information", "timezone", "created_by_user_id", "owner_user_id", "created_at", "updated_at"]);
  });
});

describe("the reference page", () => {
  it("serves Swagger UI from the package's own files, no CDN and no inline script, over the profile's document", async () => {
    const page = await t.app.fetch("http://localhost/compat/piper/docs");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(sources).toEqual(["/compat/_reference/swagger-ui.css", "/compat/_reference/swagger-ui-bundle.js", "/compat/piper/docs/init.js"]);
    expect(html).not.toMatch(/<script>(?!<)/);
    for (const source of sources) {
      const asset = await t.app.fetch(`http://localhost${source}`);
      expect(asset.status, source).toBe(200);
      expect(asset.headers.get("content-type"), source).toMatch(source.endsWith(".css") ? /^text\/css/ : /^text\/javascript/);
      expect((await asset.arrayBuffer()).byteLength, source).toBeGreaterThan(source.endsWith("init.js") ? 50 : 10_000);
    }
    expect(await (await t.app.fetch("http://localhost/compat/piper/docs/init.js")).text()).toContain('"/compat/piper/openapi.json"');
    expect((await t.app.fetch("http://localhost/compat/_reference/package.json")).status).toBe(404);
  });
});

describe("members", () => {
  it("POST adds a member by email (201, pending until they accept); GET finds them by the user id it showed", async () => {
    const added = await piper("POST", `/v1/organizations/${acme.organization.id}/members`, acme.owner.token, { email: "new.person@piper.example", role_id: MEMBER_ROLE });
    expect(added.status).toBe(201);
    conforms(added, MEMBERS, "POST");
    expect(added.body).toMatchObject({ organization_id: acme.organization.id, role_id: MEMBER_ROLE, role: { id: MEMBER_ROLE, is_system: true }, user: { email: "new.person@piper.example", is_active: false } });
    expect(added.body.organization).toMatchObject({ id: acme.organization.id, name: acme.organization.name, owner_user_id: acme.owner.user.id });
    const got = await piper("GET", memberPath(acme, added.body.user_id), acme.admin.token);
    expect(got.status).toBe(200);
    conforms(got, MEMBER, "GET");
    expect(got.body).toEqual(added.body);
    expect(got.headers.get("etag")).toMatch(/^"\d+"$/);
    // One request id for the REST answer and the GraphQL requests behind it (the log lines share it).
    expect(got.headers.get("x-request-id")).toMatch(/^[\w-]{8,}$/);
  });

  it("an Idempotency-Key retry gets the first answer; the same address again without one is 409", async () => {
    const body = { email: "once@piper.example", role_id: MEMBER_ROLE };
    const first = await piper("POST", `/v1/organizations/${acme.organization.id}/members`, acme.owner.token, body, { "idempotency-key": "add-once-1" });
    const retry = await piper("POST", `/v1/organizations/${acme.organization.id}/members`, acme.owner.token, body, { "idempotency-key": "add-once-1" });
    expect([first.status, retry.status]).toEqual([201, 201]);
    expect(retry.body).toEqual(first.body);
    const again = await piper("POST", `/v1/organizations/${acme.organization.id}/members`, acme.owner.token, body);
    expect(again.status).toBe(409);
    conforms(again, MEMBERS, "POST");
    expect(again.body.error.code).toBe("CONFLICT");
  });

  it("GET lists the members a page at a time, oldest first, every one once", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Answer = await piper("GET", `/v1/organizations/${acme.organization.id}/members?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, acme.member.token);
      expect(page.status).toBe(200);
      conforms(page, MEMBERS, "GET");
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.map((member: { id: string }) => member.id));
      cursor = page.body.next_cursor;
      expect(page.body.has_more).toBe(cursor !== null);
      pages++;
    } while (cursor && pages < 20);
    const count = await t.db.prisma.member.count({ where: { organizationId: acme.organization.id } });
    expect(new Set(seen).size).toBe(count);
    expect(seen).toHaveLength(count);
    const bad = await piper("GET", `/v1/organizations/${acme.organization.id}/members?limit=500`, acme.member.token);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: "BAD_USER_INPUT", field: "limit" });
    const unknown = await piper("GET", `/v1/organizations/${acme.organization.id}/members?page=2`, acme.member.token);
    expect(unknown.body.error).toMatchObject({ code: "BAD_USER_INPUT", field: "page" });
  });

  it("PATCH changes the role (200) and honours If-Match: a stale ETag is 412 and changes nothing", async () => {
    const url = memberPath(acme, acme.member.user.id);
    const before = await piper("GET", url, acme.admin.token);
    const stale = `"${Number(JSON.parse(before.headers.get("etag")!)) - 1}"`;
    const refused = await piper("PATCH", url, acme.admin.token, { role_id: ADMIN_ROLE }, { "if-match": stale });
    expect(refused.status).toBe(412);
    conforms(refused, MEMBER, "PATCH");
    expect(refused.body.error.code).toBe("STALE_VERSION");
    const changed = await piper("PATCH", url, acme.owner.token, { role_id: ADMIN_ROLE }, { "if-match": before.headers.get("etag")! });
    expect(changed.status).toBe(200);
    conforms(changed, MEMBER, "PATCH");
    expect(changed.body).toMatchObject({ user_id: acme.member.user.id, role_id: ADMIN_ROLE, role: { id: ADMIN_ROLE, name: expect.any(String) } });
    const back = await piper("PATCH", url, acme.owner.token, { role_id: MEMBER_ROLE });
    expect(back.body.role_id).toBe(MEMBER_ROLE);
    expect(await t.db.prisma.auditEvent.count({ where: { organizationId: acme.organization.id, action: "member.role_changed" } })).toBe(2);
  });

  it("refuses what GraphQL refuses: no token 401, a plain member 403, an admin granting owner 403, the last owner 409", async () => {
    const url = memberPath(acme, acme.admin.user.id);
    const anonymous = await piper("PATCH", url, null, { role_id: MEMBER_ROLE });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toBe("Bearer");
    conforms(anonymous, MEMBER, "PATCH");
    const member = await piper("PATCH", url, acme.member.token, { role_id: MEMBER_ROLE });
    expect(member.status).toBe(403);
    expect(member.body.error.code).toBe("FORBIDDEN");
    const escalation = await piper("PATCH", memberPath(acme, acme.member.user.id), acme.admin.token, { role_id: OWNER_ROLE });
    expect(escalation.status).toBe(403);
    const lastOwner = await piper("DELETE", memberPath(acme, acme.owner.user.id), acme.owner.token);
    expect(lastOwner.status).toBe(409);
    conforms(lastOwner, MEMBER, "DELETE");
    expect(lastOwner.body.error.code).toBe("LAST_OWNER");
    const roles = await t.db.prisma.member.findMany({ where: { organizationId: acme.organization.id, userId: { in: [acme.admin.user.id, acme.member.user.id, acme.owner.user.id] } }, select: { roleId: true } });
    expect(roles.map((row) => row.roleId).sort()).toEqual([OWNER_ROLE, ADMIN_ROLE, MEMBER_ROLE].sort());
  });

  it("another organization's ids are 404, with the same answer as ids that don't exist", async () => {
    const unknown = "01930000-0000-7000-8000-000000000000";
    const answers = await Promise.all([
      piper("GET", memberPath(acme, acme.member.user.id), other.owner.token),
      piper("GET", memberPath(acme, unknown), other.owner.token),
      piper("GET", `/v1/organizations/${unknown}/members/${acme.member.user.id}`, other.owner.token),
      piper("PATCH", memberPath(acme, acme.member.user.id), other.owner.token, { role_id: MEMBER_ROLE }),
      piper("DELETE", memberPath(acme, acme.member.user.id), other.owner.token),
      piper("GET", `/v1/organizations/${acme.organization.id}/members`, other.owner.token),
      // Their own organization, someone else's member: not found there either.
      piper("GET", memberPath(other, acme.member.user.id), other.owner.token),
    ]);
    for (const answer of answers) {
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe("NOT_FOUND");
    }
    expect(new Set(answers.slice(0, 5).map((answer) => answer.body.error.message)).size).toBeLessThanOrEqual(2);
    expect(await t.db.prisma.member.count({ where: { organizationId: acme.organization.id, userId: acme.member.user.id } })).toBe(1);
  });

  it("DELETE removes the member (204); they are 404 after", async () => {
    const person = await userWithToken(t.db, "leaving@piper.example");
    await t.db.prisma.member.create({ data: { organizationId: acme.organization.id, userId: person.user.id, roleId: MEMBER_ROLE } });
    const removed = await piper("DELETE", memberPath(acme, person.user.id), acme.admin.token);
    expect(removed.status).toBe(204);
    expect(removed.body).toBeNull();
    expect((await piper("GET", memberPath(acme, person.user.id), acme.admin.token)).status).toBe(404);
  });
});

describe("input", () => {
  const url = () => memberPath(acme, acme.member.user.id);
  it("refuses unknown fields, wrong types, missing fields, malformed JSON, other media types, big bodies and bad ids before anything runs", async () => {
    const before = await t.db.prisma.auditEvent.count();
    const cases: [Answer, number, string, string | null][] = [
      [await piper("PATCH", url(), acme.owner.token, { role_id: MEMBER_ROLE, admin: true }), 400, "BAD_USER_INPUT", "admin"],
      [await piper("PATCH", url(), acme.owner.token, { role_id: 7 }), 400, "BAD_USER_INPUT", "role_id"],
      [await piper("PATCH", url(), acme.owner.token, { role_id: "not-a-uuid" }), 400, "BAD_USER_INPUT", "role_id"],
      [await piper("PATCH", url(), acme.owner.token, {}), 400, "BAD_USER_INPUT", "role_id"],
      [await piper("PATCH", url(), acme.owner.token, "[1, 2"), 400, "BAD_REQUEST", null],
      [await piper("PATCH", url(), acme.owner.token, ["role_id"]), 400, "BAD_USER_INPUT", null],
      [await piper("PATCH", url(), acme.owner.token, JSON.stringify({ role_id: MEMBER_ROLE }), { "content-type": "text/plain" }), 415, "UNSUPPORTED_MEDIA_TYPE", null],
      [await piper("PATCH", url(), acme.owner.token, { role_id: MEMBER_ROLE, pad: "x".repeat(t.config.limits.maxBodyBytes) }), 413, "PAYLOAD_TOO_LARGE", null],
      [await piper("PATCH", `/v1/organizations/not-a-uuid/members/${acme.member.user.id}`, acme.owner.token, { role_id: MEMBER_ROLE }), 400, "BAD_USER_INPUT", "org_id"],
      [await piper("PATCH", url(), acme.owner.token, { role_id: MEMBER_ROLE }, { "if-match": "yesterday" }), 400, "BAD_USER_INPUT", "If-Match"],
      [await piper("POST", `/v1/organizations/${acme.organization.id}/members`, acme.owner.token, { email: "not an address", role_id: MEMBER_ROLE }), 400, "BAD_USER_INPUT", "email"],
      [await piper("POST", `/v1/organizations/${acme.organization.id}/members`, acme.owner.token, { email: "x@piper.example", role_id: "01930000-0000-7000-8000-000000000009" }), 404, "NOT_FOUND", null],
    ];
    for (const [answer, status, code, field] of cases) {
      expect(answer.status, JSON.stringify(answer.body)).toBe(status);
      expect(answer.body.error).toMatchObject({ code, ...(field !== null ? { field } : {}) });
      expect(JSON.stringify(answer.body)).not.toMatch(/at .*\.ts:\d+/);
    }
    expect(await t.db.prisma.auditEvent.count()).toBe(before);
  });

  it("refuses a chunked body past MAX_BODY_BYTES while reading it, a body nested too deep, and a malformed path escape, with 4xx", async () => {
    const max = t.config.limits.maxBodyBytes;
    let sent = 0;
    const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > max * 20) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const response = await t.app.fetch(`http://localhost/compat/piper${url()}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${acme.owner.token}`, "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    // It stopped reading soon after the limit, not at the end of the stream.
    expect(sent).toBeLessThan(max * 4);
    const deep = await piper("PATCH", url(), acme.owner.token, `{"role_id": "${MEMBER_ROLE}", "x": ${"[".repeat(5_000)}${"]".repeat(5_000)}}`);
    expect(deep.status).toBe(400);
    expect(deep.body.error.message).toMatch(/nests deeper/);
    const escape = await piper("GET", `/v1/organizations/${acme.organization.id}/members/%E0%A4%A`, acme.owner.token);
    expect(escape.status).toBe(400);
    expect(escape.body.error).toMatchObject({ code: "BAD_USER_INPUT", field: "user_id" });
    expect((await t.app.fetch("http://localhost/compat/_reference/constructor")).status).toBe(404);
  });

  it("an unknown path is 404 ROUTE_NOT_FOUND, a known one with another method 405 with Allow", async () => {
    const unknown = await piper("GET", "/v1/organizations", acme.owner.token);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("ROUTE_NOT_FOUND");
    const method = await piper("PUT", url(), acme.owner.token, { role_id: MEMBER_ROLE });
    expect(method.status).toBe(405);
    expect(method.headers.get("allow")).toBe("GET, PATCH, DELETE");
  });
});

describe("the same service behind it", () => {
  it("rate limits apply: over RATE_LIMIT_SENSITIVE_WRITES is 429 with Retry-After", async () => {
    const limited = await createTestApp({ RATE_LIMIT_SENSITIVE_WRITES: "2" });
    try {
      const fx = await orgWithPeople(limited.db, "piper-limited");
      const limitedClient = await restClient(limited.app, "piper");
      const add = (n: number) => limitedClient.call("POST", `/v1/organizations/${fx.organization.id}/members`, fx.owner.token, { email: `p${n}@piper.example`, role_id: MEMBER_ROLE });
      const answers = [await add(1), await add(2), await add(3)];
      expect(answers.map((answer) => answer.status)).toEqual([201, 201, 429]);
      expect(answers[2]!.body.error.code).toBe("RATE_LIMITED");
      expect(Number(answers[2]!.headers.get("retry-after"))).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });

  it("TRUSTED_DOCUMENTS=require: the routes run (their documents are trusted), arbitrary GraphQL does not", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "piper-trusted-"));
    const manifest = path.join(dir, "manifest.json");
    fs.writeFileSync(manifest, "{}");
    const app = createApp({ config: loadConfig({ LOG_LEVEL: "silent", RATE_LIMITS: "false", TRUSTED_DOCUMENTS: "require", TRUSTED_DOCUMENTS_FILE: manifest }), db: t.db, logger: createLogger("silent", "stderr") });
    try {
      const answer = await (await restClient(app, "piper")).call("GET", memberPath(acme, acme.member.user.id), acme.owner.token);
      expect(answer.status).toBe(200);
      const graphql = await app.fetch("http://localhost/graphql", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${acme.owner.token}` }, body: JSON.stringify({ query: "{ viewer { id } }" }) });
      expect(JSON.stringify(await graphql.json())).toContain("PERSISTED_QUERY_ONLY");
      // The routes' own documents are trusted on the requests the routes make, not on a caller's.
      const documentId = [...restDocuments(enabledProfiles(null)).keys()][0];
      const borrowed = await app.fetch("http://localhost/graphql", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${acme.owner.token}` }, body: JSON.stringify({ documentId, variables: {} }) });
      expect(JSON.stringify(await borrowed.json())).toContain("PERSISTED_QUERY_NOT_FOUND");
    } finally {
      await app.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("REST_PROFILES chooses the profiles; an unknown name stops the start", async () => {
    const app = createApp({ config: loadConfig({ LOG_LEVEL: "silent", REST_PROFILES: "none" }), db: t.db, logger: createLogger("silent", "stderr") });
    try {
      expect((await app.fetch("http://localhost/compat/piper/openapi.json")).status).toBe(404);
    } finally {
      await app.dispose();
    }
    expect(() => createApp({ config: loadConfig({ LOG_LEVEL: "silent", REST_PROFILES: "piper,stripe" }), db: t.db, logger: createLogger("silent", "stderr") })).toThrow(/REST_PROFILES: "stripe"/);
  });
});

describe("the reference pages' curl examples", () => {
  // As the pages give them (../shared/replaced-apis/000_… and 001_…); only the host, the token and the ids change.
  const PATCH_EXAMPLE = `curl --request PATCH \\
--url https://api.letpiper.com/v1/organizations/{org_id}/members/{user_id} \\
--header 'Authorization: Bearer <token>' \\
--header 'Content-Type: application/json' \\
--data '
{
"role_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a"
}
'`;
  const POST_EXAMPLE = `curl --request POST \\
  --url https://api.letpiper.com/v1/organizations/{org_id}/members \\
  --header 'Authorization: Bearer <token>' \\
  --header 'Content-Type: application/json' \\
  --data '
{
  "email": "<string>",
  "role_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a"
}
'`;
  let server: Awaited<ReturnType<typeof listening>>;
  beforeAll(async () => {
    server = await listening(t.app);
  });
  afterAll(() => server.close());
  const values = () => ({ "https://api.letpiper.com": `${server.url}/compat/piper`, "<token>": acme.owner.token, "3c90c3cc-0d44-4b50-8888-8dd25736052a": MEMBER_ROLE });

  it("POST and PATCH work as written", async () => {
    const added = await curl(POST_EXAMPLE, { ...values(), "{org_id}": acme.organization.id, "<string>": "curl.person@piper.example" });
    expect(added.status).toBe(201);
    expect(added.body.user.email).toBe("curl.person@piper.example");
    const patched = await curl(PATCH_EXAMPLE, { ...values(), "{org_id}": acme.organization.id, "{user_id}": acme.member.user.id });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ user_id: acme.member.user.id, role_id: MEMBER_ROLE });
  });
});
