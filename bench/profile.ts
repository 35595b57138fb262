// Profiles one scenario in-process: seeds the standard scale into a throwaway PostgreSQL
// database, then runs the document N times through yoga.fetch and prints the mean time.
//   node --import tsx bench/profile.ts [q0|q1|q2|q3|q4] [runs] [profile.cpuprofile]
// With a third argument it records a CPU profile of the timed runs only (not the seeding or the
// start) into that file: open it in Chrome DevTools (Performance tab) or speedscope.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { newSecret } from "../src/core/tokens.js";
import { loadConfig } from "../src/config.js";
import { openDatabase } from "../src/db/client.js";
import { applyMigrations } from "../src/db/migrate.js";
import { createThrowawayDatabase } from "../test/fixtures/throwaway.js";
import { createLogger } from "../src/logger.js";
import { createApp } from "../src/server.js";
import { Q0, Q1, Q2, Q3, Q4 } from "./queries.js";
import { seedBench, VIEWER_ID_SQL } from "./seed.js";

const [name = "q2", runsArg = "30", profileFile] = process.argv.slice(2);
const documents: Record<string, [string, Record<string, unknown>]> = {
  q0: [Q0, {}],
  q1: [Q1, { slug: "org-2" }],
  q2: [Q2, {}],
  q3: [Q3, { slug: "org-2", search: "user12" }],
  q4: [Q4, { id: "" }],
};
const serverUrl = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const database = await createThrowawayDatabase(serverUrl, "membership_profile");
const db = await openDatabase({ databaseUrl: database.url, dataDir: "", poolSize: 10 });
try {
  const sql = await db.sqlRunner();
  const secret = newSecret();
  await applyMigrations(sql);
  await seedBench(sql, "standard", () => {});
  await sql.query(`INSERT INTO "ApiToken" (id, "userId", name, "tokenHash", prefix, "createdAt") VALUES (gen_random_uuid(), ${VIEWER_ID_SQL}, 'p', $1, $2, now())`, [secret.hash, secret.displayPrefix]);
  sql.release();
  const app = createApp({ config: loadConfig({ ...process.env, NODE_ENV: "production", LOG_LEVEL: "silent", RATE_LIMITS: "false" }), db, logger: createLogger("silent") });
  const [query, variables] = documents[name]!;
  const run = async () => {
    const response = await app.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${secret.token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = await response.json();
    if (body.errors) throw new Error(JSON.stringify(body.errors));
  };
  for (let i = 0; i < 3; i++) await run();
  const runs = Number(runsArg);
  const session = profileFile ? new Session() : null;
  if (session) {
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.start");
  }
  const started = performance.now();
  for (let i = 0; i < runs; i++) await run();
  const elapsed = performance.now() - started;
  if (session) {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(profileFile!, JSON.stringify(profile));
    session.disconnect();
  }
  console.log(`${name}: ${(elapsed / runs).toFixed(2)} ms per request (sequential, ${runs} runs)`);
} finally {
  await db.close();
  await database.drop();
}
