// kill -9 during a stream of writes on the embedded database: the next start must open the data
// directory (stale lock taken over, PostgreSQL crash recovery) and every acknowledged mutation —
// an HTTP 200 without errors — must be there, with its audit event. README, "Embedded database durability".
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { demoTokens, gql, startServer, stopServer, type ServerProcess } from "./fixtures/server-process.js";
import { TEST_DATABASE_URL } from "./helpers.js";

const CREATE = `mutation ($input: CreateOrganizationInput!) {
  createOrganization(input: $input) { organization { id slug } }
}`;

const PAGE = `query ($after: String) {
  organizations(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { id slug auditEvents(action: "organization.created", first: 5) { edges { node { action targetId } } } } }
  }
}`;

interface Stored {
  id: string;
  auditTargets: string[];
}

/** Every organization the token's user sees, by slug, with the targets of its "organization.created" events. */
async function storedOrganizations(url: string, token: string): Promise<Map<string, Stored>> {
  const stored = new Map<string, Stored>();
  let after: string | null = null;
  for (;;) {
    const result = await gql(url, PAGE, token, { after });
    expect(result.body.errors).toBeUndefined();
    const page = result.body.data.organizations;
    for (const { node } of page.edges) {
      stored.set(node.slug, { id: node.id, auditTargets: node.auditEvents.edges.map((edge: any) => edge.node.targetId) });
    }
    if (!page.pageInfo.hasNextPage) return stored;
    after = page.pageInfo.endCursor;
  }
}

/**
 * Sends createOrganization from `workers` concurrent loops until the server dies; SIGKILLs it
 * once `killAfter` creations have been acknowledged. Returns the acknowledged slugs and how
 * many requests were still in flight when the signal was sent.
 */
async function writeUntilKilled(server: ServerProcess, token: string, cycle: number, killAfter: number, workers = 6) {
  const acknowledged: string[] = [];
  let inFlight = 0;
  let inFlightAtKill = -1;
  let killed = false;
  const kill = () => {
    killed = true;
    inFlightAtKill = inFlight;
    server.child.kill("SIGKILL");
  };
  const worker = async (w: number) => {
    for (let i = 0; !killed; i++) {
      const slug = `crash-${cycle}-${w}-${i}`;
      inFlight++;
      try {
        const result = await gql(server.url, CREATE, token, { input: { name: `Crash ${cycle} ${w} ${i}`, slug } });
        // An answer is an acknowledgement only when it is a success that names what it created.
        if (result.status === 200 && !result.body.errors && result.body.data?.createOrganization?.organization?.slug === slug) {
          acknowledged.push(slug);
        } else if (!killed) {
          throw new Error(`mutation failed before the kill: ${JSON.stringify(result.body)}`);
        }
      } catch (error) {
        if (!killed) {
          kill(); // stop the other workers too
          throw error;
        }
        return; // the connection died with the process: outcome unknown, not acknowledged
      } finally {
        inFlight--;
      }
      if (!killed && acknowledged.length >= killAfter) kill();
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  expect(await server.exited).toBeNull(); // ended by the signal, not by itself
  return { acknowledged, inFlightAtKill };
}

describe.runIf(!TEST_DATABASE_URL)("kill -9 on the embedded database", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mg-crash-"));
  const env = { DATA_DIR: dataDir, DATABASE_URL: undefined, RATE_LIMITS: "false" };
  let server: ServerProcess | undefined;

  afterAll(async () => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) await stopServer(server);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("restarts cleanly after SIGKILL mid-stream and keeps every acknowledged write, twice over", async () => {
    server = await startServer(env);
    const [token] = demoTokens(server);
    expect(token).toBeDefined();

    const everAcknowledged: string[] = [];
    for (let cycle = 1; cycle <= 2; cycle++) {
      const { acknowledged, inFlightAtKill } = await writeUntilKilled(server, token!, cycle, 15 + 10 * cycle);
      expect(acknowledged.length).toBeGreaterThanOrEqual(15 + 10 * cycle);
      expect(inFlightAtKill).toBeGreaterThan(0); // the kill really landed mid-stream
      everAcknowledged.push(...acknowledged);

      // What the killed process left behind: its lock file and PostgreSQL's postmaster.pid.
      expect(fs.existsSync(path.join(dataDir, "lock.pid"))).toBe(true);
      expect(fs.existsSync(path.join(dataDir, "pgdata", "postmaster.pid"))).toBe(true);

      server = await startServer(env);
      expect(server.log()).toContain('"msg":"database opened"');
      expect(demoTokens(server)).toEqual([]); // not an empty database re-seeded: the old one, recovered
      expect(fs.readFileSync(path.join(dataDir, "lock.pid"), "utf8").trim()).toBe(String(server.child.pid));

      const stored = await storedOrganizations(server.url, token!);
      const missing = everAcknowledged.filter((slug) => !stored.has(slug));
      expect(missing, `cycle ${cycle}: acknowledged but lost`).toEqual([]);
      const withoutAudit = everAcknowledged.filter((slug) => !stored.get(slug)!.auditTargets.includes(stored.get(slug)!.id));
      expect(withoutAudit, `cycle ${cycle}: organization without its audit event`).toEqual([]);
      // Unacknowledged requests may have committed or not; what is there is whole: exactly one event.
      for (const [slug, organization] of stored) {
        if (slug.startsWith("crash-")) expect(organization.auditTargets, slug).toEqual([organization.id]);
      }
    }

    expect(await stopServer(server)).toBe(0);
    expect(fs.existsSync(path.join(dataDir, "lock.pid"))).toBe(false);
  }, 180_000); // ~55 s alone: three process starts dominate; room for a loaded machine
});
