// Sign-in with JWTs from an identity provider (a real JWKS on a loopback port), and CORS for
// browser apps on other origins.
import { SignJWT, UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, ConfigError } from "../src/config.js";
import { addMembership, codes, createTestApp, globalId, organizationOf, userWithToken, type TestApp, type TestUser } from "./helpers.js";
import { AUDIENCE, ISSUER, startIdentityProvider, type IdentityProvider } from "./fixtures/identity-provider.js";

let idp: IdentityProvider;
let t: TestApp;
let owner: TestUser;

const ORGS = "{ viewer { email status } organizations(first: 10) { totalCount edges { node { name viewerPermissions } } } }";

async function asBearer(app: TestApp, token: string, query = ORGS) {
  return app.gql(query, {}, token);
}

beforeAll(async () => {
  idp = await startIdentityProvider();
  t = await createTestApp({ ...idp.env, CORS_ORIGINS: "https://app.example.com,http://localhost:5173" });
  owner = await userWithToken(t.db, "owner@acme.test");
});
afterAll(async () => {
  await t.close();
  await idp.close();
});

describe("JWT sign-in", () => {
  it("a verified email an owner added makes a new account that the placeholder gives way to; the membership waits for her answer", async () => {
    const org = await organizationOf(t.db, owner.user, "Acme");
    const added = await t.gql(
      `mutation($input: AddMemberInput!) { addMember(input: $input) { member { id user { status } } } }`,
      { input: { organizationId: globalId("Organization", org.id), email: "dana@acme.test" } },
      owner.token,
    );
    expect(added.data.addMember.member.user.status).toBe("INVITED");

    const token = await idp.sign("auth0|dana", { email: "Dana@Acme.test", email_verified: true, given_name: "Dana" });
    const result = await asBearer(t, token);
    expect(result.errors).toBeUndefined();
    expect(result.data.viewer).toEqual({ email: "dana@acme.test", status: "ACTIVE" });
    // The membership the owner made waits for her answer; accepted, it grants its role.
    expect(result.data.organizations.edges).toEqual([]);
    const accepted = await t.gql(`mutation($m: ID!) { acceptMembership(input: { memberId: $m }) { member { status } } }`, { m: added.data.addMember.member.id }, token);
    expect(accepted.data.acceptMembership.member.status).toBe("ACTIVE");
    const joined = await asBearer(t, token);
    expect(joined.data.organizations.edges).toEqual([{ node: { name: "Acme", viewerPermissions: ["locations:read", "members:read", "org:read", "roles:read"] } }]);
    const user = await t.db.prisma.user.findUniqueOrThrow({ where: { email: "dana@acme.test" } });
    expect(user.externalId).toBe("auth0|dana");
    for (const action of ["user.created_by_sign_in", "user.placeholder_absorbed"]) {
      expect(await t.db.prisma.auditEvent.findFirst({ where: { targetId: user.id, action } })).not.toBeNull();
    }

    // Later tokens find the user by subject, even with another (or no) email claim.
    const later = await asBearer(t, await idp.sign("auth0|dana", { email: undefined }));
    expect(later.data.viewer.email).toBe("dana@acme.test");
  });

  it("creates a new user on the first sign-in with a verified email", async () => {
    const result = await asBearer(t, await idp.sign("clerk_new", { email: "new@else.test", family_name: "Newman" }));
    expect(result.errors).toBeUndefined();
    expect(result.data.viewer.email).toBe("new@else.test");
    expect(result.data.organizations.totalCount).toBe(0);
  });

  it("never trusts an unverified email: no link, no new account", async () => {
    await userWithToken(t.db, "victim@acme.test");
    const result = await asBearer(t, await idp.sign("attacker", { email: "victim@acme.test", email_verified: false }));
    expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
    expect(result.status).toBe(401);
    expect(result.errors![0]!.message).toMatch(/not verified/);
    const victim = await t.db.prisma.user.findUniqueOrThrow({ where: { email: "victim@acme.test" } });
    expect(victim.externalId).toBeNull();
    expect(await t.db.prisma.user.count({ where: { externalId: "attacker" } })).toBe(0);
  });

  it("refuses a second identity for an email already linked", async () => {
    await asBearer(t, await idp.sign("first-sub", { email: "linked@acme.test" }));
    const result = await asBearer(t, await idp.sign("second-sub", { email: "linked@acme.test" }));
    expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
    expect(result.errors![0]!.message).toMatch(/already linked/);
  });

  it("refuses a first sign-in without an email claim", async () => {
    const result = await asBearer(t, await idp.sign("no-email"));
    expect(result.errors![0]!.message).toMatch(/email claim/);
  });

  it.each([
    ["an expired token", async () => idp.sign("auth0|dana", {}, { expiresIn: Math.floor(Date.now() / 1000) - 120 }), /expired/],
    [
      "another audience",
      async () => idp.sign("auth0|dana", { aud: "someone-else" }),
      /"aud" claim/,
    ],
    ["another issuer", async () => idp.sign("auth0|dana", { iss: "https://evil.test/" }), /"iss" claim/],
    ["a token not valid yet", async () => idp.sign("auth0|dana", { nbf: Math.floor(Date.now() / 1000) + 3600 }), /not valid yet/],
    [
      'alg "none"',
      async () => new UnsecuredJWT({ email: "dana@acme.test" }).setSubject("auth0|dana").setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime("5m").encode(),
      /algorithm|not a valid JWT/,
    ],
    [
      "HS256 with a guessed secret",
      async () =>
        new SignJWT({})
          .setProtectedHeader({ alg: "HS256", kid: "key-1" })
          .setSubject("auth0|dana")
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setExpirationTime("5m")
          .sign(new TextEncoder().encode("guess-guess-guess-guess-guess-32")),
      /algorithm/,
    ],
    [
      "a tampered payload",
      async () => {
        const [header, , signature] = (await idp.sign("auth0|dana")).split(".");
        const payload = Buffer.from(JSON.stringify({ sub: "auth0|someone-else", iss: ISSUER, aud: AUDIENCE, exp: 9999999999 })).toString("base64url");
        return `${header}.${payload}.${signature}`;
      },
      /signature/,
    ],
  ])("refuses %s with 401 and a clear message", async (_label, makeToken, message) => {
    const result = await asBearer(t, await makeToken());
    expect(result.status).toBe(401);
    expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
    expect(result.errors![0]!.message).toMatch(message);
    expect(result.data ?? null).toBeNull();
  });

  it("fetches the JWKS again for an unknown kid (key rotation) and caches it otherwise", async () => {
    await asBearer(t, await idp.sign("auth0|dana"));
    const before = idp.fetches();
    await asBearer(t, await idp.sign("auth0|dana"));
    expect(idp.fetches()).toBe(before);
    const kid = await idp.rotate();
    const result = await asBearer(t, await idp.sign("auth0|dana", {}, { kid }));
    expect(result.errors).toBeUndefined();
    expect(idp.fetches()).toBe(before + 1);
  });

  it("reads permissions from the database on every request: a removal locks the same JWT out at once", async () => {
    const org = await organizationOf(t.db, owner.user, "Removal Co");
    const token = await idp.sign("auth0|erin", { email: "erin@acme.test" });
    await asBearer(t, token); // first sign-in creates Erin
    const erin = await t.db.prisma.user.findUniqueOrThrow({ where: { email: "erin@acme.test" } });
    const member = await addMembership(t.db, org, erin, "admin");
    const READ = `query($id: ID!) { organization(id: $id) { name viewerPermissions } }`;
    const orgId = globalId("Organization", org.id);
    expect((await t.gql(READ, { id: orgId }, token)).data.organization.name).toBe("Removal Co");

    const removed = await t.gql(
      `mutation($input: RemoveMemberInput!) { removeMember(input: $input) { removedMemberId } }`,
      { input: { memberId: globalId("Member", member.id) } },
      owner.token,
    );
    expect(removed.errors).toBeUndefined();
    const after = await t.gql(READ, { id: orgId }, token);
    expect(codes(after)).toEqual(["NOT_FOUND"]);
    const write = await t.gql(
      `mutation($input: AddMemberInput!) { addMember(input: $input) { member { id } } }`,
      { input: { organizationId: orgId, email: "sneaky@acme.test" } },
      token,
    );
    expect(codes(write)).toEqual(["NOT_FOUND"]);
  });

  it("refuses the JWT of a suspended account", async () => {
    const token = await idp.sign("auth0|frank", { email: "frank@acme.test" });
    await asBearer(t, token);
    await t.db.prisma.user.update({ where: { email: "frank@acme.test" }, data: { status: "SUSPENDED" } });
    const result = await asBearer(t, token);
    expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
    expect(result.errors![0]!.message).toMatch(/suspended/);
  });

  it("answers 503 (SERVICE_UNAVAILABLE) when the JWKS can't be fetched", async () => {
    const down = await createTestApp({ ...idp.env, AUTH_JWKS_URL: "http://127.0.0.1:9/jwks.json" });
    try {
      const result = await asBearer(down, await idp.sign("auth0|dana"));
      expect(result.status).toBe(503);
      expect(codes(result)).toEqual(["SERVICE_UNAVAILABLE"]);
    } finally {
      await down.close();
    }
  });

  it("works with a static public key (AUTH_JWT_PUBLIC_KEY) instead of a JWKS", async () => {
    const app = await createTestApp({ AUTH_JWT_PUBLIC_KEY: idp.publicPem(), AUTH_JWT_ISSUER: ISSUER, AUTH_JWT_AUDIENCE: AUDIENCE });
    try {
      const result = await asBearer(app, await idp.sign("static|1", { email: "static@acme.test" }, { kid: "key-1" }));
      expect(result.errors).toBeUndefined();
      expect(result.data.viewer.email).toBe("static@acme.test");
    } finally {
      await app.close();
    }
  });

  it("says JWTs are not accepted when JWT sign-in is not configured", async () => {
    const app = await createTestApp();
    try {
      const result = await asBearer(app, await idp.sign("auth0|dana"));
      expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
      expect(result.errors![0]!.message).toMatch(/does not accept JWTs/);
    } finally {
      await app.close();
    }
  });

  it("refuses half a JWT configuration at start", () => {
    expect(() => loadConfig({ AUTH_JWKS_URL: idp.jwksUrl })).toThrow(ConfigError);
    expect(() => loadConfig({ AUTH_JWKS_URL: idp.jwksUrl, AUTH_JWT_ISSUER: ISSUER })).toThrow(/AUTH_JWT_AUDIENCE/);
    expect(() => loadConfig({ AUTH_JWT_ISSUER: ISSUER })).toThrow(/AUTH_JWKS_URL/);
    expect(() => loadConfig({ ...idp.env, AUTH_JWT_ALGORITHMS: "HS256" })).toThrow(/not allowed/);
    expect(() => loadConfig({ CORS_ORIGINS: "https://app.example.com/" })).toThrow(/bare origin/);
  });
});

describe("CORS", () => {
  const preflight = (origin: string) =>
    t.app.fetch("http://localhost/graphql", {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });

  it("answers a preflight from a configured origin, with credentials", async () => {
    const response = await preflight("https://app.example.com");
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(response.headers.get("access-control-allow-credentials")).toBe("true");
    expect(response.headers.get("access-control-allow-methods")).toContain("POST");
    expect(response.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    expect(response.headers.get("vary")).toContain("Origin");
  });

  it("gives other origins no CORS headers, so browsers block them", async () => {
    const response = await preflight("https://evil.example.com");
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const post = await t.app.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { origin: "https://evil.example.com", "content-type": "application/json" },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    expect(post.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("lets the configured origin read the response and the request id", async () => {
    const response = await t.app.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { origin: "http://localhost:5173", "content-type": "application/json", authorization: `Bearer ${owner.token}` },
      body: JSON.stringify({ query: "{ viewer { email } }" }),
    });
    expect(response.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(response.headers.get("access-control-expose-headers")).toContain("x-request-id");
    expect(((await response.json()) as { data: { viewer: { email: string } } }).data.viewer.email).toBe("owner@acme.test");
  });
});
