// Every GraphQL example in README.md is valid against the schema, so the front door never shows
// a query that fails with GRAPHQL_VALIDATION_FAILED.
import { readFileSync } from "node:fs";
import { parse, specifiedRules, validate } from "graphql";
import { costLimitRule } from "@escape.tech/graphql-armor-cost-limit";
import { maxAliasesRule } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthRule } from "@escape.tech/graphql-armor-max-depth";
import { maxDirectivesRule } from "@escape.tech/graphql-armor-max-directives";
import { loadConfig } from "../src/config.js";
import { describe, expect, it } from "vitest";
import { getSchema } from "../src/graphql/schema.js";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((match) => match[1]!);

describe("README.md GraphQL examples", () => {
  it("has examples", () => {
    expect(blocks.length).toBeGreaterThan(5);
  });

  // The default limits, exactly as the server applies them (src/graphql/limits.ts).
  const { limits } = loadConfig({});
  const rules = [
    ...specifiedRules,
    maxDepthRule({ n: limits.maxDepth, flattenFragments: true }),
    maxAliasesRule({ n: limits.maxAliases }),
    maxDirectivesRule({ n: limits.maxDirectives }),
    costLimitRule({ maxCost: limits.maxCost, objectCost: 2, scalarCost: 1, depthCostFactor: 1, flattenFragments: true }),
  ];

  it.each(blocks.map((block, index) => [index + 1, block.split("\n")[0], block] as const))("example %i (%s) validates within the default limits", (_index, _first, block) => {
    const errors = validate(getSchema(), parse(block, { maxTokens: limits.maxTokens }), rules);
    expect(errors.map((error) => error.message)).toEqual([]);
  });
});
