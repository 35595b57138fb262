import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module). Node, and so every dependency, loads the
    // CJS build; Vite would hand our own files the ESM one, and two graphql copies can't share
    // a schema. Point our imports at the same file Node uses.
    alias: [{ find: /^graphql$/, replacement: require.resolve("graphql") }],
  },
  test: {
    include: ["test/**/*.test.ts"],
    // dist/ for the suites that start the server as `npm start` does (test/fixtures/server-process.ts).
    globalSetup: ["test/fixtures/build-once.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each file opens its own database; two at a time suits a 2-core machine and PostgreSQL.
    maxWorkers: 2,
  },
});
