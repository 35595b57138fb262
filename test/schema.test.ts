// schema.graphql is printed from code; a stale checked-in file fails the build.
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { printSchemaSdl } from "../src/graphql/schema.js";

it("schema.graphql matches the schema built from code (run `npm run print-schema`)", () => {
  const checkedIn = readFileSync(new URL("../schema.graphql", import.meta.url), "utf8");
  expect(checkedIn).toBe(printSchemaSdl());
});

it("every root field and every object type is behind an auth scope", async () => {
  // The scope-auth plugin records scopes in field extensions; a field without one is public.
  const { getSchema } = await import("../src/graphql/schema.js");
  const schema = getSchema();
  for (const rootName of ["Query", "Mutation"]) {
    const root = schema.getType(rootName) as import("graphql").GraphQLObjectType;
    for (const field of Object.values(root.getFields())) {
      // Federation's fields: `_service` returns the SDL (public, like introspection); `_entities`
      // resolves each reference through checks in resolveReference and the entity types' scopes.
      if (field.name === "_service" || field.name === "_entities") continue;
      const ext = field.extensions as { pothosOptions?: { authScopes?: unknown } };
      expect(ext.pothosOptions?.authScopes, `${rootName}.${field.name} has no authScopes`).toBeDefined();
    }
  }
  for (const typeName of ["Organization", "Member", "Role", "User"]) {
    const type = schema.getType(typeName)!;
    const ext = type.extensions as { pothosOptions?: { authScopes?: unknown } };
    expect(ext.pothosOptions?.authScopes, `${typeName} has no type-level authScopes`).toBeDefined();
  }
});
