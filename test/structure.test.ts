// What keeps the code easy to change: layers that depend one way and no import cycles, one source
// of configuration, page sizes that follow it.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, orgWithPeople, type OrgFixture, type TestApp } from "./helpers.js";

const SRC = fileURLToPath(new URL("../src", import.meta.url));

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "generated" ? [] : sourceFiles(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

/**
 * The layers of src/, lowest first (README, Architecture): a file may import from its own layer
 * and the layers below it, never above. Within src/graphql/, types/ sits above the rest.
 */
const LAYERS: { name: string; holds: (file: string) => boolean }[] = [
  { name: "foundation (config, logger, generated code)", holds: (f) => f === "config.ts" || f === "logger.ts" || f.startsWith("generated/") },
  { name: "core (errors, permissions, rules, tokens)", holds: (f) => f.startsWith("core/") },
  { name: "db and domain", holds: (f) => f.startsWith("db/") || f.startsWith("domain/") },
  { name: "auth, observability and webhooks", holds: (f) => f.startsWith("auth/") || f.startsWith("observability/") || f.startsWith("webhooks/") },
  {
    name: "graphql (builder, plugins, loaders), http and rest",
    holds: (f) => (f.startsWith("graphql/") && !f.startsWith("graphql/types/") && f !== "graphql/schema.ts") || f.startsWith("http/") || f.startsWith("rest/"),
  },
  { name: "graphql/types", holds: (f) => f.startsWith("graphql/types/") || f === "graphql/schema.ts" },
  { name: "entry points (server, main, cli)", holds: (f) => f === "server.ts" || f === "main.ts" || f === "cli.ts" },
];

/** Within these pairs of layers' folders, neither may import the other (they are side by side). */
const SIDE_BY_SIDE: [string, string][] = [["db/", "domain/"], ["auth/", "observability/"], ["auth/", "webhooks/"], ["observability/", "webhooks/"], ["graphql/", "http/"], ["graphql/", "rest/"], ["http/", "rest/"]];

const layerOf = (file: string) => {
  const index = LAYERS.findIndex((layer) => layer.holds(file));
  if (index < 0) throw new Error(`${file} belongs to no layer: add it to LAYERS (and README, Architecture)`);
  return index;
};

/** Every relative import of every file of src/ (static, type-only and dynamic), as paths relative to src/. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = fs.readFileSync(file, "utf8");
    const targets = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)"(\.{1,2}\/[^"]+)"/g)].map((match) =>
      path.relative(SRC, path.resolve(path.dirname(file), match[1]!)).replace(/\.js$/, ".ts"),
    );
    graph.set(path.relative(SRC, file), [...new Set(targets)]);
  }
  return graph;
}

describe("layers depend one way", () => {
  const graph = importGraph();

  it("reads the imports (a graph that saw nothing would prove nothing)", () => {
    expect(graph.get("server.ts")).toEqual(expect.arrayContaining(["graphql/errors.ts", "http/health.ts", "config.ts"]));
    expect(graph.get("graphql/types/member.ts")).toEqual(expect.arrayContaining(["domain/members.ts", "graphql/builder.ts"]));
  });

  it("no file imports from a layer above its own, nor from the folder beside it", () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      for (const target of targets) {
        if (layerOf(target) > layerOf(file)) wrong.push(`${file} -> ${target} (${LAYERS[layerOf(file)]!.name} may not import ${LAYERS[layerOf(target)]!.name})`);
        for (const [a, b] of SIDE_BY_SIDE) {
          const aside = (x: string) => x.startsWith(a) && layerOf(x) === layerOf(`${a}x`);
          if ((aside(file) && target.startsWith(b)) || (file.startsWith(b) && aside(target))) wrong.push(`${file} -> ${target} (${a} and ${b} are side by side)`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it("no cycle between files", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const visit = (file: string, trail: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "open") {
        cycles.push([...trail.slice(trail.indexOf(file)), file].join(" -> "));
        return;
      }
      state.set(file, "open");
      for (const target of graph.get(file) ?? []) if (graph.has(target)) visit(target, [...trail, file]);
      state.set(file, "done");
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });
});

describe("one source of configuration", () => {
  it("nothing in src/ but config.ts reads the environment", () => {
    const readers = sourceFiles(SRC).filter((file) => path.basename(file) !== "config.ts" && /process\.env/.test(fs.readFileSync(file, "utf8")));
    expect(readers.map((file) => path.relative(SRC, file))).toEqual([]);
  });
});

describe("page sizes follow the Config of the app, not the process", () => {
  let t: TestApp;
  let acme: OrgFixture;
  beforeAll(async () => {
    t = await createTestApp({ MAX_PAGE_SIZE: "150", DEFAULT_PAGE_SIZE: "3", RATE_LIMITS: "false" });
    acme = await orgWithPeople(t.db, "acme");
    await t.db.prisma.location.createMany({ data: Array.from({ length: 105 }, (_, i) => ({ organizationId: acme.organization.id, name: `Site ${i}` })) });
  });
  afterAll(() => t.close());

  it("DEFAULT_PAGE_SIZE is the page when first/last are left out, and MAX_PAGE_SIZE above 100 is not cut", async () => {
    const query = `query($o: ID!, $n: Int) { node(id: $o) { ... on Organization { locations(first: $n) { totalCount edges { node { id } } pageInfo { hasNextPage } } } } }`;
    const byDefault = await t.gql(query, { o: acme.orgGid }, acme.owner.token);
    expect(byDefault.errors).toBeUndefined();
    expect(byDefault.data.node.locations.edges).toHaveLength(3);
    const large = await t.gql(query, { o: acme.orgGid, n: 120 }, acme.owner.token);
    expect(large.data.node.locations.edges).toHaveLength(105);
    expect(large.data.node.locations.pageInfo.hasNextPage).toBe(false);
    const tooLarge = await t.gql(query, { o: acme.orgGid, n: 151 }, acme.owner.token);
    expect(tooLarge.errors?.map((e) => e.extensions?.code)).toEqual(["BAD_USER_INPUT"]);
  });
});

describe("the lean member list can't drift from the models", () => {
  let t: TestApp;
  let acme: OrgFixture;
  beforeAll(async () => {
    t = await createTestApp({ RATE_LIMITS: "false" });
    acme = await orgWithPeople(t.db, "acme");
    await t.db.prisma.user.update({ where: { id: acme.member.user.id }, data: { firstName: "Ann", timezone: "Europe/Paris", username: "ann" } });
    const custom = await t.db.prisma.role.create({ data: { organizationId: acme.organization.id, key: "helper", name: "Helper", permissions: ["org:read"] } });
    await t.db.prisma.member.update({ where: { id: acme.admin.memberId }, data: { roleId: custom.id, publicMetadata: { a: 1 }, profilePictureUrl: "https://x.example/p.png" } });
  });
  afterAll(() => t.close());

  it("a page from lean SQL holds every column of Member, User and Role, equal to what Prisma loads", async () => {
    const { createMemberPageLoaders, pageKey } = await import("../src/db/queries/member-pages.js");
    const loaders = createMemberPageLoaders(t.db.query, { maxPageSize: 100, defaultPageSize: 20 });
    const page = await loaders.pages.load(pageKey(acme.organization.id, { first: 10 }));
    const plain = await t.db.prisma.member.findMany({ where: { organizationId: acme.organization.id }, include: { user: true, role: true }, orderBy: [{ joinedAt: "asc" }, { id: "asc" }] });
    expect(page.edges.map((edge) => edge.node)).toEqual(plain);
  });
});
