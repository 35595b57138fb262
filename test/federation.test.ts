// Federation: this service as the "membership" subgraph of a real supergraph. Both subgraphs
// listen on loopback, the supergraph is composed with @theguild/federation-composition, and an
// in-process Hive Gateway plans queries across them, forwarding the caller's token.
// Also the subgraph checks of Apollo's compatibility suite that apply here.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createGatewayRuntime } from "@graphql-hive/gateway-runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeSupergraph, fetchSubgraphSdl } from "../scripts/supergraph.js";
import { createProjectsSubgraph, PROJECTS_SDL, type ProjectFixture } from "./fixtures/projects-subgraph.js";
import { codes, createTestApp, globalId, orgWithPeople, type OrgFixture, type TestApp } from "./helpers.js";

let t: TestApp;
let acme: OrgFixture;
let globex: OrgFixture;
let membershipUrl: string;
let projectsUrl: string;
let supergraphSdl: string;
let gateway: ReturnType<typeof createGatewayRuntime>;
const servers: http.Server[] = [];
/** What the membership subgraph received: one entry per request, with its `_entities` representations. */
const membershipRequests: { entities: number; typenames: string[] }[] = [];

async function listen(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
}

async function viaGateway(query: string, token?: string, variables: Record<string, unknown> = {}) {
  const response = await gateway.fetch("http://gateway.local/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
}

const ENTITIES = `query($representations: [_Any!]!) { _entities(representations: $representations) {
  __typename ... on Organization { id slug } ... on User { id email } ... on Member { id role { key } } ... on Role { id key } } }`;

beforeAll(async () => {
  t = await createTestApp();
  acme = await orgWithPeople(t.db, "acme");
  globex = await orgWithPeople(t.db, "globex");

  const app = t.app;
  membershipUrl = await listen((request, response) => {
    // Count what the gateway asks of this subgraph, then hand the request to the real app.
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", async () => {
      const raw = Buffer.concat(chunks);
      try {
        const body = JSON.parse(raw.toString("utf8"));
        const representations = body?.variables?.representations ?? [];
        if (String(body?.query ?? "").includes("_entities")) {
          membershipRequests.push({ entities: representations.length, typenames: [...new Set<string>(representations.map((r: any) => r.__typename as string))] });
        } else {
          membershipRequests.push({ entities: 0, typenames: [] });
        }
      } catch {
        // not JSON: let the app answer
      }
      const headers = new Headers();
      for (const [key, value] of Object.entries(request.headers)) if (typeof value === "string") headers.set(key, value);
      const answer = await app.fetch(`http://127.0.0.1${request.url}`, { method: request.method, headers, body: request.method === "GET" ? undefined : raw });
      response.writeHead(answer.status, Object.fromEntries(answer.headers));
      response.end(Buffer.from(await answer.arrayBuffer()));
    });
  });

  const projects: ProjectFixture[] = [
    { id: "p1", name: "Rocket", organizationId: acme.orgGid, ownerId: globalId("User", acme.admin.user.id) },
    { id: "p2", name: "Anvil", organizationId: acme.orgGid, ownerId: globalId("User", acme.member.user.id) },
    { id: "p3", name: "Magnet", organizationId: acme.orgGid, ownerId: globalId("User", acme.owner.user.id) },
    { id: "p4", name: "Exports", organizationId: globex.orgGid, ownerId: globalId("User", globex.owner.user.id) },
  ];
  projectsUrl = await listen(createProjectsSubgraph(projects));

  supergraphSdl = composeSupergraph([
    { name: "membership", url: membershipUrl, sdl: await fetchSubgraphSdl(membershipUrl) },
    { name: "projects", url: projectsUrl, sdl: PROJECTS_SDL },
  ]);
  gateway = createGatewayRuntime({
    supergraph: supergraphSdl,
    // TEST_LOG_LEVEL=error shows the gateway's own errors unmasked.
    logging: process.env.TEST_LOG_LEVEL ? "error" : false,
    maskedErrors: !process.env.TEST_LOG_LEVEL,
    propagateHeaders: {
      fromClientToSubgraphs: ({ request }) => ({ authorization: request.headers.get("authorization") }),
    },
  });
});

afterAll(async () => {
  await gateway?.dispose();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  await t.close();
});

describe("the subgraph", () => {
  it("serves its SDL with @link, @key (single and multiple) and @shareable", async () => {
    const result = await t.gql("{ _service { sdl } }");
    const sdl: string = result.data._service.sdl;
    expect(sdl).toContain('@link(url: "https://specs.apollo.dev/federation/v2.6"');
    expect(sdl).toMatch(/type Organization implements Node\s+@key\(fields: "id"\)\s+@key\(fields: "slug"\)/);
    expect(sdl).toMatch(/type User implements Node\s+@key\(fields: "id"\)\s+@key\(fields: "email"\)/);
    expect(sdl).toMatch(/type Member implements Node\s+@key\(fields: "id"\)/);
    expect(sdl).toMatch(/type PageInfo\s+@shareable/);
  });

  it("resolves entities by every key, in one batch, with the same access rules as the API", async () => {
    const representations = [
      { __typename: "Organization", id: acme.orgGid },
      { __typename: "Organization", slug: "acme" },
      { __typename: "Organization", id: globex.orgGid },
      { __typename: "User", id: globalId("User", acme.member.user.id) },
      { __typename: "User", email: acme.admin.user.email },
      { __typename: "User", email: globex.owner.user.email },
      { __typename: "Member", id: acme.member.memberGid },
      { __typename: "Role", id: globalId("Role", "00000000-0000-7000-8000-000000000002") },
      { __typename: "Organization", id: "garbage" },
    ];
    const before = t.db.statementCount();
    const result = await t.gql(ENTITIES, { representations }, acme.owner.token);
    const statements = t.db.statementCount() - before;
    expect(result.data._entities).toEqual([
      { __typename: "Organization", id: acme.orgGid, slug: "acme" },
      { __typename: "Organization", id: acme.orgGid, slug: "acme" },
      null,
      { __typename: "User", id: globalId("User", acme.member.user.id), email: acme.member.user.email },
      { __typename: "User", id: globalId("User", acme.admin.user.id), email: acme.admin.user.email },
      null,
      { __typename: "Member", id: acme.member.memberGid, role: { key: "member" } },
      { __typename: "Role", id: globalId("Role", "00000000-0000-7000-8000-000000000002"), key: "admin" },
      null,
    ]);
    expect(codes(result).sort()).toEqual(["NOT_FOUND", "NOT_FOUND", "NOT_FOUND"]);

    // Twice as many references of the same kinds cost the same statements: one batch per loader.
    const more = [
      ...representations,
      { __typename: "Organization", id: globalId("Organization", acme.organization.id) },
      { __typename: "User", id: globalId("User", acme.admin.user.id) },
      { __typename: "User", id: globalId("User", acme.owner.user.id) },
      { __typename: "User", email: acme.member.user.email },
      { __typename: "User", email: globex.admin.user.email },
      { __typename: "Member", id: acme.admin.memberGid },
      { __typename: "Member", id: acme.owner.memberGid },
      { __typename: "Member", id: globex.member.memberGid },
      { __typename: "Role", id: globalId("Role", "00000000-0000-7000-8000-000000000003") },
    ];
    const beforeMore = t.db.statementCount();
    const larger = await t.gql(ENTITIES, { representations: more }, acme.owner.token);
    expect(larger.data._entities).toHaveLength(18);
    expect(t.db.statementCount() - beforeMore).toBeLessThanOrEqual(statements);
    expect(statements).toBeLessThanOrEqual(12);

    const anonymous = await t.gql(ENTITIES, { representations: representations.slice(0, 1) });
    expect(anonymous.data._entities).toEqual([null]);
  });
});

describe("through the gateway", () => {
  it("composes with another subgraph", () => {
    expect(supergraphSdl).toContain("join__graph");
    expect(supergraphSdl).toMatch(/MEMBERSHIP @join__graph/);
    expect(supergraphSdl).toMatch(/PROJECTS @join__graph/);
  });

  it("also composes with a subgraph that uses Relay's Node and Query.node itself", async () => {
    const relaySubgraph = `
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@shareable"])
      interface Node { id: ID! }
      type Document implements Node @key(fields: "id") { id: ID! title: String! organization: Organization }
      type Organization @key(fields: "id", resolvable: false) { id: ID! }
      type Query { node(id: ID!): Node @shareable nodes(ids: [ID!]!): [Node]! @shareable }`;
    const membershipSdl: string = (await t.gql("{ _service { sdl } }")).data._service.sdl;
    expect(() =>
      composeSupergraph([
        { name: "membership", url: membershipUrl, sdl: membershipSdl },
        { name: "projects", url: projectsUrl, sdl: PROJECTS_SDL },
        { name: "documents", url: "http://127.0.0.1:9/graphql", sdl: relaySubgraph },
      ]),
    ).not.toThrow();
  });

  it("answers queries across both subgraphs, fetching entities in batches", async () => {
    membershipRequests.length = 0;
    const result = await viaGateway(
      `{ organizations(first: 10, orderBy: { field: NAME }) { totalCount edges { node { slug projects { name owner { email name } } } } } }`,
      acme.owner.token,
    );
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    expect(result.data.organizations.edges).toEqual([
      {
        node: {
          slug: "acme",
          projects: [
            { name: "Rocket", owner: { email: acme.admin.user.email, name: null } },
            { name: "Anvil", owner: { email: acme.member.user.email, name: null } },
            { name: "Magnet", owner: { email: acme.owner.user.email, name: null } },
          ],
        },
      },
    ]);
    // One root request, then all three owners in one `_entities` request.
    expect(membershipRequests).toEqual([
      { entities: 0, typenames: [] },
      { entities: 3, typenames: ["User"] },
    ]);
  });

  it("forwards the caller's token, so the subgraph enforces its permissions", async () => {
    const outsider = await viaGateway(`{ project(id: "p1") { name owner { email } } }`, globex.owner.token);
    expect(outsider.data.project).toEqual({ name: "Rocket", owner: null });
    expect(outsider.errors?.map((error) => error.extensions?.code)).toContain("NOT_FOUND");

    const insider = await viaGateway(`{ project(id: "p1") { owner { email } } }`, acme.member.token);
    expect(insider.data.project.owner).toEqual({ email: acme.admin.user.email });

    const anonymous = await viaGateway(`{ organizations(first: 5) { totalCount } }`);
    expect(anonymous.data?.organizations ?? null).toBeNull();
    expect(anonymous.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});
