// Issue 15 (parts 1, 5, 6): long lists, page sizes from variables' defaults, and what a
// production deployment shows strangers. Each case is the attack first, then the ordinary use
// that must keep working.
import { randomUUID } from "node:crypto";
import { getIntrospectionQuery } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, configWarnings, loadConfig } from "../src/config.js";
import { codes, createTestApp, globalId, orgWithPeople, type OrgFixture, type TestApp } from "./helpers.js";

let t: TestApp;
let acme: OrgFixture;
let globex: OrgFixture;

beforeAll(async () => {
  t = await createTestApp();
  acme = await orgWithPeople(t.db, "acme");
  globex = await orgWithPeople(t.db, "globex");
});
afterAll(() => t.close());

/** Runs a document as the acme owner and reports the SQL statements it cost. */
async function measured(query: string, variables: Record<string, unknown> = {}, token: string | null = acme.owner.token, app: TestApp = t) {
  await app.gql("{ __typename }", {}, token); // the token's lastUsedAt write happens once a minute: not this request's
  const before = app.db.statementCount();
  const result = await app.gql(query, variables, token);
  return { result, statements: app.db.statementCount() - before };
}

/** A refusal before execution: BAD_USER_INPUT naming the limit, no data, and no SQL beyond authentication. */
async function refusedBeforeExecution(query: string, variables: Record<string, unknown> = {}) {
  const { result, statements } = await measured(query, variables);
  expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
  expect(result.data ?? null).toBeNull();
  expect(statements).toBeLessThanOrEqual(1);
  return result.errors![0]!;
}

const NODES = `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Member { status user { email } role { key } } ... on Organization { slug } ... on User { email } } }`;

/** `n` ids cycling through the acme owner's own objects, another organization's, and random ones. */
function mixedIds(n: number): string[] {
  const pool = [
    acme.owner.memberGid,
    acme.member.memberGid,
    acme.orgGid,
    globalId("User", acme.admin.user.id),
    globex.admin.memberGid,
    globex.orgGid,
    globalId("User", globex.member.user.id),
  ];
  const randomTypes = ["Member", "Organization", "User"];
  return Array.from({ length: n }, (_, i) => (i < pool.length ? pool[i]! : globalId(randomTypes[i % 3]!, randomUUID())));
}

describe("nodes(ids:) and list arguments (MAX_NODES)", () => {
  it("loads 100 ids of three types in a fixed number of statements, with invisible ids null like unknown ones", async () => {
    const few = await measured(NODES, { ids: mixedIds(10) });
    expect(few.result.errors).toBeUndefined();
    const many = await measured(NODES, { ids: mixedIds(100) });
    expect(many.result.errors).toBeUndefined();
    const nodes = many.result.data.nodes as ({ id: string; slug?: string; email?: string; user?: { email: string } } | null)[];
    expect(nodes).toHaveLength(100);
    expect(nodes[0]).toMatchObject({ id: acme.owner.memberGid, status: "ACTIVE", user: { email: "owner@acme.example" }, role: { key: "owner" } });
    expect(nodes[1]).toMatchObject({ id: acme.member.memberGid, user: { email: "member@acme.example" } });
    expect(nodes[2]).toMatchObject({ slug: "acme" });
    expect(nodes[3]).toMatchObject({ email: "admin@acme.example" });
    // Another organization's member, organization and user: null, exactly like the random ids.
    expect(nodes.slice(4)).toEqual(Array.from({ length: 96 }, () => null));
    // One statement per type (and per relation it includes) plus the caller's permissions: not per id.
    expect(many.statements).toBe(few.statements);
    expect(many.statements).toBeLessThanOrEqual(10);
  });

  it("keeps node(id:) answering visible objects and null for invisible ones", async () => {
    const query = `query($a: ID!, $b: ID!) { a: node(id: $a) { id ... on Member { user { email } } } b: node(id: $b) { id } }`;
    const { result } = await measured(query, { a: acme.member.memberGid, b: globex.member.memberGid });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ a: { id: acme.member.memberGid, user: { email: "member@acme.example" } }, b: null });
  });

  it("refuses 101 ids, whether sent as a variable, a literal or a variable's default", async () => {
    const ids = mixedIds(101);
    const asVariable = await refusedBeforeExecution(NODES, { ids });
    expect(asVariable.message).toContain("100");
    expect(asVariable.extensions).toMatchObject({ code: "BAD_USER_INPUT", maxItems: 100, field: "ids" });
    const literal = `[${ids.map((id) => JSON.stringify(id)).join(", ")}]`;
    await refusedBeforeExecution(`{ nodes(ids: ${literal}) { id } }`);
    await refusedBeforeExecution(`query($ids: [ID!]! = ${literal}) { nodes(ids: $ids) { id } }`);
  });

  it("answers _entities for 100 representations and refuses 101", async () => {
    const query = `query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Member { id } } }`;
    const representations = (n: number) => Array.from({ length: n }, (_, i) => ({ __typename: "Member", id: i === 0 ? acme.member.memberGid : globalId("Member", randomUUID()) }));
    const ok = await measured(query, { representations: representations(100) });
    expect(ok.result.data._entities).toHaveLength(100);
    expect(ok.result.data._entities[0]).toEqual({ id: acme.member.memberGid });
    const refused = await refusedBeforeExecution(query, { representations: representations(101) });
    expect(refused.extensions).toMatchObject({ maxItems: 100, field: "representations" });
  });

  it("caps list fields inside input objects, nested lists and connection filters too", async () => {
    const many = (n: number) => Array.from({ length: n }, () => globalId("Role", randomUUID()));
    const permissions = await refusedBeforeExecution(`mutation($input: CreateRoleInput!) { createRole(input: $input) { role { id } } }`, {
      input: { organizationId: acme.orgGid, name: "Flood", permissions: Array.from({ length: 101 }, () => "org:read") },
    });
    expect(permissions.extensions).toMatchObject({ field: "permissions", maxItems: 100 });
    const nested = await refusedBeforeExecution(
      `mutation($roleIds: [ID!]!) { setMemberLocations(input: { memberId: "${acme.member.memberGid}", locations: [{ locationId: "x", roleIds: $roleIds }] }) { member { id } } }`,
      { roleIds: many(101) },
    );
    expect(nested.extensions).toMatchObject({ field: "locations.roleIds", maxItems: 100 });
    const filter = await refusedBeforeExecution(
      `query($roleIds: [ID!] = ${JSON.stringify(many(101))}) { organization(slug: "acme") { members(first: 5, filter: { roleIds: $roleIds }) { totalCount } } }`,
    );
    expect(filter.extensions).toMatchObject({ field: "filter.roleIds" });
    // At the limit, a list passes on to the field's own, stricter rule where it has one.
    const atLimit = await measured(`{ checkPermissions(organizationId: "${acme.orgGid}", permissions: ${JSON.stringify(Array.from({ length: 100 }, () => "org:read"))}) { allowed } }`);
    expect(atLimit.result.errors?.[0]?.message).toBe("permissions takes at most 50 entries");
    expect(atLimit.result.errors?.[0]?.extensions?.maxItems).toBeUndefined();
  });

  it("reads MAX_NODES like the other limits", async () => {
    expect(loadConfig({}).maxNodes).toBe(100);
    expect(loadConfig({ MAX_NODES: "20" }).maxNodes).toBe(20);
    for (const bad of ["0", "-1", "ten", "100001"]) expect(() => loadConfig({ MAX_NODES: bad })).toThrow(ConfigError);
    const small = await createTestApp({ MAX_NODES: "3" });
    try {
      const result = await small.gql(`{ nodes(ids: ["a", "b", "c", "d"]) { id } }`, {}, null);
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", maxItems: 3 });
      expect(result.errors?.[0]?.message).toMatch(/at most 3/);
    } finally {
      await small.close();
    }
  });
});

describe("page sizes count the value the field receives (MAX_PAGE_SIZE)", () => {
  const AUDIT = `organization(slug: "acme") { auditEvents(first: $n) { edges { cursor } pageInfo { hasNextPage } } }`;

  it("refuses first above the maximum from a variable's default, a variable and a literal", async () => {
    const fromDefault = await refusedBeforeExecution(`query($n: Int = 1000) { ${AUDIT} }`);
    expect(fromDefault.message).toContain("maximum page size of 100");
    expect(fromDefault.extensions).toMatchObject({ code: "BAD_USER_INPUT", maxPageSize: 100 });
    await refusedBeforeExecution(`query($n: Int) { ${AUDIT} }`, { n: 1000 });
    await refusedBeforeExecution(`{ ${AUDIT.replace("$n", "1000")} }`);
    // A variable sent explicitly wins over its default, as in execution.
    const sent = await measured(`query($n: Int = 1000) { ${AUDIT} }`, { n: 5 });
    expect(sent.result.errors).toBeUndefined();
  });

  it("refuses last in a fragment and first on a nested connection", async () => {
    await refusedBeforeExecution(
      `query($n: Int = 101) { ...Audit } fragment Audit on Query { organization(slug: "acme") { auditEvents(last: $n) { edges { cursor } } } }`,
    );
    await refusedBeforeExecution(
      `query($n: Int = 500) { viewer { memberships(first: 1) { edges { node { organization { ... on Organization { members(first: $n) { totalCount } } } } } } } }`,
    );
  });

  it("keeps defaults within the maximum working", async () => {
    const { result } = await measured(`query($n: Int = 100) { ${AUDIT} }`);
    expect(result.errors).toBeUndefined();
    expect(result.data.organization.auditEvents.edges.length).toBeGreaterThan(0);
  });
});

describe("schema discovery in production (INTROSPECTION)", () => {
  let production: TestApp;
  let closed: TestApp;
  let productionOwner: OrgFixture;

  beforeAll(async () => {
    production = await createTestApp({ NODE_ENV: "production" });
    productionOwner = await orgWithPeople(production.db, "initech");
    closed = await createTestApp({ NODE_ENV: "production", INTROSPECTION: "false" });
  });
  afterAll(async () => {
    await production?.close();
    await closed?.close();
  });

  it("defaults to authenticated in production and true in development; false and garbage are read as such", () => {
    expect(loadConfig({ NODE_ENV: "production" }).introspection).toBe("authenticated");
    expect(loadConfig({}).introspection).toBe("true");
    expect(loadConfig({ NODE_ENV: "production", INTROSPECTION: "true" }).introspection).toBe("true");
    expect(loadConfig({ INTROSPECTION: "FALSE" }).introspection).toBe("false");
    expect(() => loadConfig({ INTROSPECTION: "sometimes" })).toThrow(/INTROSPECTION/);
  });

  it("refuses __schema and __type to anonymous callers with INTROSPECTION_DISABLED, before anything runs", async () => {
    for (const query of [getIntrospectionQuery(), "{ __schema { types { name } } }", '{ __type(name: "Member") { fields { name } } }', "{ ... on Query { __schema { queryType { name } } } }"]) {
      const result = await production.gql(query, {}, null);
      expect(codes(result)).toEqual(["INTROSPECTION_DISABLED"]);
      expect(result.data ?? null).toBeNull();
    }
    const typename = await production.gql("{ __typename }", {}, null);
    expect(typename.errors).toBeUndefined();
    expect(typename.data).toEqual({ __typename: "Query" });
  });

  it("lets signed-in callers introspect (GraphiQL sends the Headers tab with its introspection)", async () => {
    const result = await production.gql(getIntrospectionQuery(), {}, productionOwner.owner.token);
    expect(result.errors).toBeUndefined();
    expect(result.data.__schema.queryType.name).toBe("Query");
  });

  it("keeps _service { sdl } reachable for the gateway's composition", async () => {
    const result = await production.gql("{ _service { sdl } }", {}, null);
    expect(result.errors).toBeUndefined();
    expect(result.data._service.sdl).toContain("type Organization");
  });

  it("refuses everyone with INTROSPECTION=false", async () => {
    const owner = await orgWithPeople(closed.db, "closed");
    const result = await closed.gql("{ __schema { queryType { name } } }", {}, owner.owner.token);
    expect(codes(result)).toEqual(["INTROSPECTION_DISABLED"]);
    expect((await closed.gql("{ __typename }", {}, owner.owner.token)).errors).toBeUndefined();
  });

  it("hides field suggestions in production and keeps them in development", async () => {
    const misspelled = [
      "{ viewr { id } }",
      '{ organization(slug: "x") { membres(first: 1) { totalCount } } }',
      '{ organization(slg: "x") { id } }',
      '{ organizations(first: 1, orderBy: { field: NAM, direction: ASC }) { totalCount } }',
    ];
    for (const query of misspelled) {
      const result = await production.gql(query, {}, productionOwner.owner.token);
      expect(result.errors?.length).toBeGreaterThan(0);
      for (const error of result.errors!) expect(error.message).not.toMatch(/did you mean/i);
    }
    const variable = await production.gql(
      `query($input: CreateRoleInput!) { createRole(input: $input) { role { id } } }`,
      { input: { organizationId: "x", name: "x", permissions: [], descriptio: "x" } },
      productionOwner.owner.token,
    );
    expect(variable.errors?.[0]?.message).not.toMatch(/did you mean/i);
    const development = await t.gql("{ viewr { id } }", {}, acme.owner.token);
    expect(development.errors?.[0]?.message).toMatch(/Did you mean "viewer"/);
    const anonymousDevelopment = await t.gql("{ __schema { queryType { name } } }", {}, null);
    expect(anonymousDevelopment.errors).toBeUndefined();
  });

  it("warns at start when /metrics would be public on the API port in production", () => {
    const warned = configWarnings(loadConfig({ NODE_ENV: "production" }));
    expect(warned.join("\n")).toMatch(/\/metrics.*METRICS_PORT/);
    expect(configWarnings(loadConfig({ NODE_ENV: "production", METRICS_PORT: "9464" }))).toEqual([]);
    expect(configWarnings(loadConfig({ NODE_ENV: "production", METRICS: "false" }))).toEqual([]);
    expect(configWarnings(loadConfig({}))).toEqual([]);
  });
});

describe("objects loaded by id per request (MAX_NODES in all)", () => {
  it("aliases repeating nodes(ids:) or _entities add up: over MAX_NODES in all is refused before any SQL", async () => {
    const t = await createTestApp({ RATE_LIMITS: "false", MAX_NODES: "10", SQL_STATEMENTS_HEADER: "true" });
    try {
      const acme = await orgWithPeople(t.db, "acme");
      const ids = Array.from({ length: 6 }, () => acme.orgGid);
      const one = await t.gql(`query($ids: [ID!]!) { a: nodes(ids: $ids) { id } }`, { ids }, acme.owner.token);
      expect(one.errors).toBeUndefined();
      const twice = await t.gql(`query($ids: [ID!]!) { a: nodes(ids: $ids) { id } ...More } fragment More on Query { b: nodes(ids: $ids) { id } }`, { ids }, acme.owner.token);
      expect(twice.errors?.map((e) => [e.extensions?.code, e.extensions?.maxItems])).toEqual([["BAD_USER_INPUT", 10]]);
      expect(twice.data).toBeUndefined();
      const mixed = await t.gql(
        `query($ids: [ID!]!, $r: [_Any!]!) { nodes(ids: $ids) { id } _entities(representations: $r) { __typename } }`,
        { ids, r: ids.map((id) => ({ __typename: "Organization", id })) },
        acme.owner.token,
      );
      expect(mixed.errors?.map((e) => e.extensions?.code)).toEqual(["BAD_USER_INPUT"]);
    } finally {
      await t.close();
    }
  });
});
