// Every GraphQL example in README.md is valid against the schema, so the front door never shows
// a query that fails with GRAPHQL_VALIDATION_FAILED.
import { readFileSync } from "node:fs";
import { parse, validate } from "graphql";
import { describe, expect, it } from "vitest";
import { getSchema } from "../src/graphql/schema.js";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((match) => match[1]!);

describe("README.md GraphQL examples", () => {
  it("has examples", () => {
    expect(blocks.length).toBeGreaterThan(5);
  });

  it.each(blocks.map((block, index) => [index + 1, block.split("\n")[0], block] as const))("example %i (%s) validates", (_index, _first, block) => {
    const errors = validate(getSchema(), parse(block));
    expect(errors.map((error) => error.message)).toEqual([]);
  });
});
