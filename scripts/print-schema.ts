// Writes schema.graphql from the code-first schema. `npm run print-schema` after changing types;
// test/schema.test.ts fails while the checked-in file is stale.
import { writeFileSync } from "node:fs";
import { printSchemaSdl } from "../src/graphql/schema.js";

const target = new URL("../schema.graphql", import.meta.url);
writeFileSync(target, printSchemaSdl());
console.error(`wrote ${target.pathname}`);
