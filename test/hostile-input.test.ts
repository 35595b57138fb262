// Hostile input that used to reach a resolver or PostgreSQL and come back as a masked
// INTERNAL_SERVER_ERROR: representations of non-entities and non-objects in `_entities`,
// cursors that decode to the wrong types or belong to another list, metadata keys PostgreSQL
// can't store (NUL, lone surrogates), lone surrogates in text, and variables nested 20,000
// deep. Each is refused with BAD_USER_INPUT (naming the field where there is one) or answered
// normally; never a 500.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setOperator } from "../src/domain/operators.js";
import { codes, createTestApp, globalId, orgWithPeople, userWithToken, type GqlResult, type OrgFixture, type TestApp, type TestUser } from "./helpers.js";

let t: TestApp;
let acme: OrgFixture;
let operator: TestUser;
let guest: TestUser;
let locationGid: string;

beforeAll(async () => {
  t = await createTestApp({ RATE_LIMITS: "false" });
  acme = await orgWithPeople(t.db, "acme");
  operator = await userWithToken(t.db, "ops@platform.example");
  await setOperator(t.db.prisma, "ops@platform.example", true);
  const location = await t.gql(`mutation($input: CreateLocationInput!) { createLocation(input: $input) { location { id } } }`, { input: { organizationId: acme.orgGid, name: "HQ" } }, acme.owner.token);
  locationGid = location.data.createLocation.location.id;
  // Something on every list, so each hands out cursors.
  guest = await userWithToken(t.db, "guest@elsewhere.example");
  const invited = await t.gql(`mutation($input: CreateInvitationInput!) { createInvitation(input: $input) { invitation { id } } }`, { input: { organizationId: acme.orgGid, email: "guest@elsewhere.example" } }, acme.owner.token);
  expect(invited.errors).toBeUndefined();
});
afterAll(() => t.close());

/** Every error is BAD_USER_INPUT, and there is at least one. */
function expectBadUserInput(result: GqlResult<unknown>, field?: string) {
  expect(result.status).toBeLessThan(500);
  expect(codes(result).length).toBeGreaterThan(0);
  expect(codes(result), JSON.stringify(result.errors)).toEqual(codes(result).map(() => "BAD_USER_INPUT"));
  if (field !== undefined) expect(result.errors!.map((error) => error.extensions?.field)).toContain(field);
}

const b64 = (text: string) => Buffer.from(text).toString("base64");
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("_entities", () => {
  const ENTITIES = `query($representations: [_Any!]!) { _entities(representations: $representations) { __typename ... on Organization { slug } ... on User { email } } }`;

  const notEntities: [string, unknown][] = [
    ...["Location", "Invitation", "ApiToken", "AuditEvent", "PageInfo", "Query", "Mutation", "Node", "_Entity", "String", "Nope", "__Schema", "constructor"].map(
      (typename) => [`__typename ${typename}`, { __typename: typename, id: "x" }] as [string, unknown],
    ),
    ["no __typename", { id: "x" }],
    ["a numeric __typename", { __typename: 5, id: "x" }],
    ["an array __typename", { __typename: ["Organization"], id: "x" }],
    ["a string", "Organization"],
    ["a number", 5],
    ["an array", [{ __typename: "Organization", slug: "acme" }]],
    ["a boolean", true],
  ];

  it.each(notEntities)("refuses %s alone, at its own index, and resolves the others", async (_name, representation) => {
    const representations = [{ __typename: "Organization", slug: "acme" }, representation, { __typename: "User", email: acme.member.user.email }];
    const result = await t.gql(ENTITIES, { representations }, acme.owner.token);
    expect(result.status).toBe(200);
    expect(result.data._entities).toEqual([{ __typename: "Organization", slug: "acme" }, null, { __typename: "User", email: acme.member.user.email }]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.path).toEqual(["_entities", 1]);
    expect(result.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "representations" });
  });

  it("answers each bad representation alone, also in a document literal", async () => {
    const result = await t.gql(`{ _entities(representations: ["x", { __typename: "Location", id: "1" }, { __typename: "Organization", slug: "acme" }, 7]) { __typename } }`, {}, acme.owner.token);
    expect(result.data._entities).toEqual([null, null, { __typename: "Organization" }, null]);
    expect(result.errors!.map((error) => [error.path, error.extensions?.code])).toEqual([
      [["_entities", 0], "BAD_USER_INPUT"],
      [["_entities", 1], "BAD_USER_INPUT"],
      [["_entities", 3], "BAD_USER_INPUT"],
    ]);
  });

  it("refuses a null representation as a variable error", async () => {
    expectBadUserInput(await t.gql(ENTITIES, { representations: [null] }, acme.owner.token));
  });

  it("keeps invalid key values of real entities NOT_FOUND", async () => {
    let deep: unknown = "x";
    for (let i = 0; i < 20_000; i++) deep = [deep];
    const representations = [
      { __typename: "Organization", id: 5 },
      { __typename: "Organization", id: { a: 1 } },
      { __typename: "Organization", slug: ["acme"] },
      { __typename: "Member", id: "garbage" },
      { __typename: "Member" },
      { __typename: "Role", id: null },
      { __typename: "User", email: 42 },
      { __typename: "User", id: globalId("Role", acme.organization.id) },
    ];
    const result = await t.gql(ENTITIES, { representations }, acme.owner.token);
    expect(result.data._entities).toEqual(representations.map(() => null));
    expect(codes(result)).toEqual(representations.map(() => "NOT_FOUND"));
    // A key nested 20,000 deep (JSON.stringify can't write it: the body is built by hand).
    const body = `{"query":${JSON.stringify(ENTITIES)},"variables":{"representations":[{"__typename":"User","email":${"[".repeat(20_000)}"x"${"]".repeat(20_000)}}]}}`;
    const response = await t.app.fetch("http://localhost/graphql", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${acme.owner.token}` }, body });
    const answer = (await response.json()) as GqlResult<any>;
    expect(response.status).toBe(200);
    expect(codes(answer)).toEqual(["NOT_FOUND"]);
  });
});

describe("cursors", () => {
  /** Every list, as a query taking the cursor as $c (after, with first: 2). */
  const LISTS: Record<string, () => { query: string; token: string }> = {
    members: () => ({ query: `query($c: String) { organization(id: "${acme.orgGid}") { members(first: 2, after: $c) { edges { cursor } } } }`, token: acme.owner.token }),
    "members by email": () => ({ query: `query($c: String) { organization(id: "${acme.orgGid}") { members(first: 2, after: $c, orderBy: { field: EMAIL }) { edges { cursor } } } }`, token: acme.owner.token }),
    "members by first name": () => ({ query: `query($c: String) { organization(id: "${acme.orgGid}") { members(first: 2, after: $c, orderBy: { field: FIRST_NAME, direction: DESC }) { edges { cursor } } } }`, token: acme.owner.token }),
    "location members": () => ({ query: `query($c: String) { node(id: "${locationGid}") { ... on Location { members(first: 2, after: $c) { edges { cursor } } } } }`, token: acme.owner.token }),
    roles: () => ({ query: `query($c: String) { organization(id: "${acme.orgGid}") { roles(first: 2, after: $c) { edges { cursor } } } }`, token: acme.owner.token }),
    locations: () => ({ query: `query($c: String) { organization(id: "${acme.orgGid}") { locations(first: 2, after: $c) { edges { cursor } } } }`, token: acme.owner.token }),
    invitations: () => ({ query: `query($c: String) { organization(id: "${acme.orgGid}") { invitations(first: 2, after: $c) { edges { cursor } } } }`, token: acme.owner.token }),
    auditEvents: () => ({ query: `query($c: String) { organization(id: "${acme.orgGid}") { auditEvents(first: 2, after: $c) { edges { cursor } } } }`, token: acme.owner.token }),
    organizations: () => ({ query: `query($c: String) { organizations(first: 2, after: $c) { edges { cursor } } }`, token: acme.owner.token }),
    "viewer memberships": () => ({ query: `query($c: String) { viewer { memberships(first: 2, after: $c) { edges { cursor } } } }`, token: acme.owner.token }),
    "viewer apiTokens": () => ({ query: `query($c: String) { viewer { apiTokens(first: 2, after: $c) { edges { cursor } } } }`, token: acme.owner.token }),
    "viewer invitations": () => ({ query: `query($c: String) { viewer { invitations(first: 2, after: $c) { edges { cursor } } } }`, token: guest.token }),
    users: () => ({ query: `query($c: String) { users(first: 2, after: $c) { edges { cursor } } }`, token: operator.token }),
  };
  const UUID = "0190a8a0-0000-7000-8000-000000000000";
  const PRISMA_LISTS = new Set(["locations", "invitations", "organizations", "viewer memberships", "viewer apiTokens", "viewer invitations", "users"]);
  const HOSTILE: Record<string, string> = {
    garbage: "!!!not base64!!!",
    "plain text": b64("hello"),
    "wrong-type JSON (the issue's)": "WyJub3RhZGF0ZSIsIngiXQ",
    "numbers": b64url([1, 2]),
    "nulls": b64url([null, null]),
    "objects": b64url([{}, []]),
    "a bad date": b64url(["2024-13-45T00:00:00.000Z", UUID]),
    "year zero": b64url(["0000-01-01T00:00:00.000Z", UUID]),
    "a non-uuid id": b64url(["2024-01-01T00:00:00.000Z", "x"]),
    "a NUL in a text key": b64url(["a\u0000@x.example", UUID]),
    "a lone surrogate": b64url(["\ud800", UUID]),
    "a non-boolean flag": b64url(["x", "y", UUID]),
    "a JSON object": b64url({ a: 1 }),
    "GPC non-uuid": b64("GPC:S:notauuid"),
    "GPC uuid with NUL": b64(`GPC:S:${UUID}\u0000`),
    "GPC number": b64("GPC:N:5"),
    "GPC date": b64("GPC:D:99999999999999999999"),
    "GPC null": b64("GPC:Z:"),
    "GPC tuple": b64('GPC:T:["S:x"]'),
    "GPC object": b64("GPC:O:{}"),
    "GPC bytes": b64("GPC:B:AAAA"),
    "GPC bigint": b64("GPC:I:12"),
    "offset -1": b64("OffsetConnection:-1"),
    "offset text": b64("OffsetConnection:abc"),
    "offset huge": b64("OffsetConnection:99999999999999999999"),
  };

  // An email order's first key is text, which a malformed date still is.
  const textFirst = new Set(["members by email"]);
  const cases = Object.keys(LISTS).flatMap((list) =>
    Object.keys(HOSTILE)
      .filter((cursor) => !(textFirst.has(list) && (cursor === "a bad date" || cursor === "year zero")))
      .map((cursor) => [list, cursor] as const),
  );
  it.each(cases)("%s refuses %s with BAD_USER_INPUT", async (list, cursor) => {
    const { query, token } = LISTS[list]!();
    const result = await t.gql(query, { c: HOSTILE[cursor] }, token);
    // plugin-prisma refuses what isn't its own encoding before our check runs, without a field.
    expectBadUserInput(result, PRISMA_LISTS.has(list) && !cursor.startsWith("GPC") ? undefined : "after");
  });

  it("refuses another list's cursor, and takes its own", async () => {
    const cursorOf = async (list: string) => {
      const { query, token } = LISTS[list]!();
      const result = await t.gql(query, { c: null }, token);
      expect(result.errors).toBeUndefined();
      return JSON.stringify(result.data).match(/"cursor":"([^"]+)"/)?.[1];
    };
    const own: Record<string, string> = {};
    for (const list of Object.keys(LISTS)) {
      const cursor = await cursorOf(list);
      // Nobody is assigned to the location: its members list (the same cursors as members) is empty.
      if (list === "location members") continue;
      expect(cursor, list).toBeDefined();
      own[list] = cursor!;
    }
    // Members cursors hold the sort keys; roles are offsets; the rest are plugin-prisma ids (the
    // same shape on every list, so those can't be told apart; a foreign id reads an empty page).
    const kinds: Record<string, string> = { members: "members", "members by email": "members", "members by first name": "members", "location members": "members", roles: "roles" };
    for (const [list, build] of Object.entries(LISTS)) {
      const { query, token } = build();
      if (own[list]) expect((await t.gql(query, { c: own[list] }, token)).errors, list).toBeUndefined();
      for (const [other, cursor] of Object.entries(own)) {
        if ((kinds[other] ?? "prisma") === (kinds[list] ?? "prisma")) continue;
        expectBadUserInput(await t.gql(query, { c: cursor }, token));
      }
    }
    // Members cursors of another order: an email is no date, and a name order has three keys.
    const members = LISTS.members!();
    expectBadUserInput(await t.gql(members.query, { c: own["members by email"] }, members.token), "after");
    expectBadUserInput(await t.gql(members.query, { c: own["members by first name"] }, members.token), "after");
    const byName = LISTS["members by first name"]!();
    expectBadUserInput(await t.gql(byName.query, { c: own.members }, byName.token), "after");
  });

  it("names before when walking backward", async () => {
    const result = await t.gql(`query($c: String) { organization(id: "${acme.orgGid}") { members(last: 2, before: $c) { edges { cursor } } } }`, { c: "WyJub3RhZGF0ZSIsIngiXQ" }, acme.owner.token);
    expectBadUserInput(result, "before");
  });
});

describe("text PostgreSQL can't store", () => {
  const UPDATE_ORGANIZATION = `mutation($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { organization { id } } }`;
  const UPDATE_MEMBER = `mutation($input: UpdateMemberInput!) { updateMember(input: $input) { member { id } } }`;

  const metadata: [string, Record<string, unknown>][] = [
    ["a NUL in a key", { "a\u0000b": 1 }],
    ["a NUL in a nested key", { a: { b: [{ "\u0000": true }] } }],
    ["a lone high surrogate in a key", { "\ud800": 1 }],
    ["a lone low surrogate in a value", { a: "x\udc00y" }],
    ["a lone surrogate deep in a value", { a: { b: { c: ["ok", "\ud83d"] } } }],
    ["reversed surrogates", { a: "\ude00\ud83d" }],
  ];

  it.each(metadata)("refuses metadata with %s, naming the field", async (_name, value) => {
    const before = await t.db.prisma.auditEvent.count();
    expectBadUserInput(await t.gql(UPDATE_ORGANIZATION, { input: { organizationId: acme.orgGid, publicMetadata: value } }, acme.owner.token), "publicMetadata");
    expectBadUserInput(await t.gql(UPDATE_MEMBER, { input: { memberId: acme.member.memberGid, privateMetadata: value } }, acme.owner.token), "privateMetadata");
    expect(await t.db.prisma.auditEvent.count()).toBe(before);
  });

  it("still stores paired surrogates and other odd unicode", async () => {
    const value = { "😀": "😀", "\u200b": "\ufeff", "é": "\u0301", nested: { "𝔘": ["\uffff"] } };
    const result = await t.gql(`mutation($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { organization { publicMetadata } } }`, { input: { organizationId: acme.orgGid, publicMetadata: value } }, acme.owner.token);
    expect(result.errors).toBeUndefined();
    expect(result.data.updateOrganization.organization.publicMetadata).toEqual(value);
  });

  it("refuses lone surrogates in ordinary text", async () => {
    const create = await t.gql(`mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } } }`, { input: { name: "Broken \ud800 Inc" } }, acme.owner.token);
    expectBadUserInput(create, "name");
    expect(create.errors![0]!.message).toMatch(/unpaired UTF-16 surrogates/);
    const location = await t.gql(`mutation($input: CreateLocationInput!) { createLocation(input: $input) { location { id } } }`, { input: { organizationId: acme.orgGid, name: "ok", address: "\udfff" } }, acme.owner.token);
    expectBadUserInput(location, "address");
    const search = await t.gql(`query($s: String) { organization(id: "${acme.orgGid}") { members(first: 2, filter: { search: $s }) { totalCount } } }`, { s: "\ud800" }, acme.owner.token);
    expectBadUserInput(search, "s");
  });
});

describe("deeply nested variables", () => {
  const nested = (depth: number, leaf: string) => `${"[".repeat(depth)}${leaf}${"]".repeat(depth)}`;
  const post = async (body: string, token?: string) => {
    const response = await t.app.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body,
    });
    return { status: response.status, ...((await response.json()) as { data?: any; errors?: GqlResult<unknown>["errors"] }) };
  };

  it("ignores an undeclared variable nested 20,000 deep, sent anonymously", async () => {
    const body = `{"query":"{ __typename }","variables":{"x":${nested(20_000, "1")}}}`;
    expect(body.length).toBeGreaterThan(40_000);
    const result = await post(body);
    expect(result.status).toBe(200);
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ __typename: "Query" });
    // Nor does the rest of the body trip over depth.
    for (const rest of [`"extensions":{"x":${nested(20_000, "1")}}`, `"operationName":${nested(20_000, "1")}`, `"variables":${nested(20_000, "1")}`]) {
      const answer = await post(`{"query":"{ __typename }",${rest}}`);
      expect(answer.status, rest.slice(0, 20)).toBeLessThan(500);
    }
  });

  it("refuses a declared JSON variable nested 20,000 deep cleanly", async () => {
    const deepObject = `${'{"a":'.repeat(20_000)}1${"}".repeat(20_000)}`;
    const update = await post(
      `{"query":"mutation($m: JSONObject) { updateOrganization(input: { organizationId: \\"${acme.orgGid}\\", publicMetadata: $m }) { organization { id } } }","variables":{"m":${deepObject}}}`,
      acme.owner.token,
    );
    expect(update.status).toBeLessThan(500);
    expect(update.errors?.map((error) => [error.extensions?.code, error.extensions?.field])).toEqual([["BAD_USER_INPUT", "publicMetadata"]]);
    // A deep value where a list or a string is declared: the normal variable error.
    for (const [declared, field] of [["[ID!]", "roleIds"], ["String", "search"]]) {
      const query = `query($v: ${declared}) { organization(id: \\"${acme.orgGid}\\") { members(first: 1, filter: { ${field}: $v }) { totalCount } } }`;
      const result = await post(`{"query":"${query}","variables":{"v":${nested(20_000, '"x"')}}}`, acme.owner.token);
      expect(result.status).toBeLessThan(500);
      expect(result.errors?.map((error) => error.extensions?.code)).toEqual(["BAD_USER_INPUT"]);
    }
    // And as _entities representations.
    const entities = await post(`{"query":"query($r: [_Any!]!) { _entities(representations: $r) { __typename } }","variables":{"r":[${nested(20_000, "1")}]}}`, acme.owner.token);
    expect(entities.status).toBe(200);
    expect(entities.errors?.map((error) => error.extensions?.code)).toEqual(["BAD_USER_INPUT"]);
  });
});

describe("ids naming what isn't an object", () => {
  const NAMES = ["String", "JSON", "Node", "MemberStatus", "SortDirection", "AddMemberInput", "Query", "NoSuchType"];

  it("node(id:) answers BAD_USER_INPUT for an id naming a scalar, an interface, an enum, an input or nothing", async () => {
    for (const name of NAMES) {
      const result = await t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: b64(`${name}:0190aaaa-0000-7000-8000-000000000000`) }, acme.owner.token);
      expectBadUserInput(result, "id");
    }
  });

  it("nodes(ids:) answers each such id alone, at its index, and loads the others", async () => {
    const ids = [acme.orgGid, ...NAMES.map((name) => b64(`${name}:0190aaaa-0000-7000-8000-000000000000`)), acme.member.memberGid];
    const result = await t.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids }, acme.owner.token);
    expect(result.status).toBe(200);
    expect(result.data.nodes).toEqual([{ id: acme.orgGid }, ...NAMES.map(() => null), { id: acme.member.memberGid }]);
    expect(result.errors!.map((error) => [error.extensions?.code, error.path])).toEqual(NAMES.map((_name, i) => ["BAD_USER_INPUT", ["nodes", i + 1]]));
  });
});

describe("request parameters that aren't what GraphQL over HTTP expects", () => {
  const raw = (url: string, init: RequestInit = {}) => t.app.fetch(`http://localhost${url}`, { ...init, headers: { accept: "application/json", ...(init.headers as Record<string, string> | undefined) } });

  it("variables or extensions that aren't JSON are HTTP 400 BAD_REQUEST, in a URL or a form body", async () => {
    const cases = [
      raw("/graphql?query=%7B__typename%7D&variables=notjson"),
      raw("/graphql?query=%7B__typename%7D&extensions=notjson"),
      raw("/graphql", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "query=%7B__typename%7D&variables=notjson" }),
    ];
    for (const response of await Promise.all(cases)) {
      expect(response.status).toBe(400);
      const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
      expect(body.errors.map((error) => error.extensions.code)).toEqual(["BAD_REQUEST"]);
    }
  });

  it("multipart bodies (file uploads) are not accepted", async () => {
    const form = new FormData();
    form.set("operations", JSON.stringify({ query: `mutation($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { organization { publicMetadata } } }`, variables: { input: { organizationId: acme.orgGid, publicMetadata: null } } }));
    form.set("map", JSON.stringify({ "0": ["variables.input.publicMetadata"] }));
    form.set("0", new Blob(["hello"], { type: "text/plain" }), "x.txt");
    const response = await raw("/graphql", { method: "POST", headers: { authorization: `Bearer ${acme.owner.token}` }, body: form });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    const stored = await t.db.prisma.organization.findUniqueOrThrow({ where: { id: acme.organization.id } });
    expect(JSON.stringify(stored.publicMetadata)).not.toContain("x.txt");
  });
});
