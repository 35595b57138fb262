// What keeps the code easy to change: one source of configuration, page sizes that follow it.
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
