// Benchmark scenario s1 (npm run bench, PostgreSQL): 1,000 SSE subscribers to one organization,
// spread over two server processes, while 20 mutations a second go through a third connection
// for `seconds`, after a warm-up of LIVE.warmUpSeconds at the same rate (as the other scenarios
// have one: a server that has just started runs its code cold; the warm-up's lag is printed, not
// counted). Reports commit-to-delivery p50/p99 (from the event's occurredAt, written just before
// its commit, to its arrival at the subscriber: a little more than the true lag), whether any
// subscriber missed or received an event twice, and the servers' RSS per 1,000 subscribers (less
// the growth of V8's young generation, printed beside it: see LiveResult.youngGrowthMb).
//
// The subscribers are the organization's (up to) 50 active members made admins, ≈ 20 streams
// each, half on each server (SUBSCRIPTIONS_PER_USER's default), so the credential and standing
// checks are those of 50 users, not of one.
import fs from "node:fs";
import http from "node:http";
import { newSecret } from "../src/core/tokens.js";
import { SYSTEM_ROLES } from "../src/core/permissions.js";
import type { SqlRunner } from "../src/db/sql.js";

export const LIVE = { subscribers: 1_000, users: 50, mutationsPerSecond: 20, warmUpSeconds: 2 };

const SUBSCRIBE = `subscription($org: ID!) { membershipEvents(organizationId: $org) { revision occurredAt } }`;
/** What SUBSCRIBE's results hold, as Yoga serializes them. */
const EVENT = /^data: \{"data":\{"membershipEvents":\{"revision":(\d+),"occurredAt":"([^"]+)"\}\}\}$/;
const MUTATE = `mutation($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { revision } }`;

export interface LiveResult {
  subscribers: number;
  /** The users holding them. */
  users: number;
  events: number;
  p50Ms: number;
  p99Ms: number;
  /** The events of the warm-up (each checked for loss and duplicates too), and their lag, not counted. */
  warmUp: { events: number; p50Ms: number; p99Ms: number };
  /** Subscribers that missed an event, or got one twice or out of order. */
  incomplete: number;
  duplicates: number;
  /**
   * The servers' RSS growth from before subscribing to every stream open (before any event), per
   * 1,000 streams, less what V8's young generation grew meanwhile (youngGrowthMb).
   */
  rssPerThousandMb: number;
  /**
   * How much each server's young generation (V8's new space) grew while the streams opened: a
   * buffer for short-lived objects that any load grows to its working size (at most twice
   * --max-semi-space-size), once per process, not memory the streams hold.
   */
  youngGrowthMb: number[];
  rssBeforeMb: number[];
  rssOpenMb: number[];
  /** After the mutations: the delivery load grows the young generation too (up to --max-semi-space-size). */
  rssAfterMb: number[];
}

/** Makes `users` members of the organization admins, each with a token (they hold events:read). */
export async function liveSubscribers(sql: SqlRunner, organizationIdSql: string, users: number): Promise<string[]> {
  const rows = await sql.query<{ userId: string }>(
    `UPDATE "Member" SET "roleId" = $1 WHERE id IN (
       SELECT m.id FROM "Member" m JOIN "User" u ON u.id = m."userId"
        WHERE m."organizationId" = ${organizationIdSql} AND m."roleId" <> $2 AND m.status = 'ACTIVE' AND u.status = 'ACTIVE' ORDER BY m.id LIMIT $3)
     RETURNING "userId"`,
    [SYSTEM_ROLES.admin.id, SYSTEM_ROLES.owner.id, users],
  );
  const tokens: string[] = [];
  for (const { userId } of rows) {
    const secret = newSecret();
    await sql.query(`INSERT INTO "ApiToken" (id, "userId", name, "tokenHash", prefix, "createdAt") VALUES (gen_random_uuid(), $1, 'bench live', $2, $3, now())`, [
      userId,
      secret.hash,
      secret.displayPrefix,
    ]);
    tokens.push(secret.token);
  }
  return tokens;
}

interface Subscriber {
  /** extensions.code of errors the stream answered with (it ended). */
  errors: string[];
  revisions: number[];
  /** Commit to arrival of each of `revisions`, ms. */
  lags: number[];
  controller: AbortController;
}

/**
 * One SSE stream read by hand over node:http (no client library, not fetch: a thousand streams in
 * one benchmark process, whose CPU the servers share on a small machine).
 */
function subscribe(url: string, token: string, org: string, opened: () => void): Subscriber {
  const subscriber: Subscriber = { errors: [], revisions: [], lags: [], controller: new AbortController() };
  const body = JSON.stringify({ query: SUBSCRIBE, variables: { org } });
  const request = http.request(`${url}/graphql`, {
    method: "POST",
    agent: false,
    headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), accept: "text/event-stream", authorization: `Bearer ${token}` },
    signal: subscriber.controller.signal,
  });
  request.on("error", () => {});
  request.on("response", (response) => {
    response.setEncoding("utf8");
    let buffer = "";
    let first = true;
    response.on("error", () => {});
    response.on("data", (chunk: string) => {
      if (first) {
        first = false;
        opened();
      }
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split("\n").find((line) => line.startsWith("data: {"));
        if (!data) continue;
        // An event is read with a pattern (cheap: this process reads a thousand streams beside the
        // servers); anything else, an error, in full.
        const event = EVENT.exec(data);
        if (!event) {
          const result = JSON.parse(data.slice(6)) as { errors?: { extensions?: { code?: string } }[] };
          for (const error of result.errors ?? []) subscriber.errors.push(error.extensions?.code ?? "unknown");
          continue;
        }
        subscriber.revisions.push(Number(event[1]));
        subscriber.lags.push(Date.now() - Date.parse(event[2]!));
      }
    });
  });
  request.end(body);
  return subscriber;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runLive(options: {
  urls: [string, string];
  pids: [number, number];
  tokens: string[];
  ownerToken: string;
  org: string;
  seconds: number;
  /** How many streams (LIVE.subscribers unless `npm run bench -- --subscribers N`). */
  subscribers: number;
  rssMb: (pid: number) => number;
  log: (message: string) => void;
}): Promise<LiveResult> {
  const { urls, pids, tokens, ownerToken, org, seconds, subscribers: count, rssMb, log } = options;
  /** One figure of each server's /metrics (the number `line` captures). */
  const fromMetrics = async (line: RegExp) =>
    Promise.all(urls.map(async (url) => Number(line.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? NaN)));
  /** The size of each server's V8 young generation (new space), MB, from prom-client's defaults. */
  const youngMb = async () => (await fromMetrics(/^nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)/m)).map((bytes) => Math.round(bytes / 1_048_576));
  const rssBeforeMb = pids.map(rssMb);
  const youngBeforeMb = await youngMb();
  let opened = 0;
  const subscribers: Subscriber[] = [];
  const perUser = Math.ceil(count / tokens.length);
  // SUBSCRIPTIONS_PER_USER (20) counts per process: a user holds at most 20 on each server.
  if (perUser > 40) throw new Error(`s1: ${tokens.length} subscribing users can't hold ${count} streams at 20 per server each (SUBSCRIPTIONS_PER_USER)`);
  for (let i = 0; i < count; i++) {
    // Each user's streams alternate between the two servers.
    subscribers.push(subscribe(urls[i % 2]!, tokens[Math.floor(i / perUser)]!, org, () => opened++));
    if (i % 100 === 99) await sleep(50);
  }
  for (const began = Date.now(); opened < count; await sleep(100)) {
    if (Date.now() - began > 60_000) throw new Error(`s1: only ${opened} of ${count} subscriptions opened`);
  }
  // Give every stream its first read (the revision it starts from) before changing anything.
  await sleep(1_500);
  // What holding the subscribers costs, before any event: the figure per 1,000 subscribers.
  const rssOpenMb = pids.map(rssMb);
  const youngOpenMb = await youngMb();
  log(`s1: ${count} subscribers open on two servers; ${LIVE.mutationsPerSecond} mutations/s for ${LIVE.warmUpSeconds} s of warm-up, then ${seconds} s`);
  const statements = () => fromMetrics(/^db_statements_total (\d+)/m);
  const cpu = () => pids.map((pid) => {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  });
  const made: number[] = [];
  /** The revisions of the mutations sent during the warm-up. */
  const warmUp = new Set<number>();
  /** Mutations that didn't answer with a revision: their error codes. */
  const failed: string[] = [];
  const interval = 1_000 / LIVE.mutationsPerSecond;
  const started = Date.now();
  const measuredFrom = started + LIVE.warmUpSeconds * 1_000;
  let n = 0;
  const inFlight: Promise<void>[] = [];
  let before: { statements: Promise<number[]>; cpu: number[]; own: NodeJS.CpuUsage } | null = null;
  while (Date.now() < measuredFrom + seconds * 1_000) {
    const due = started + n * interval;
    if (Date.now() < due) await sleep(due - Date.now());
    // The CPU and statement figures are those of the measured seconds.
    if (!before && due >= measuredFrom) before = { statements: statements(), cpu: cpu(), own: process.cpuUsage() };
    n++;
    const inWarmUp = due < measuredFrom;
    inFlight.push(
      fetch(`${urls[n % 2]}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${ownerToken}` },
        body: JSON.stringify({ query: MUTATE, variables: { input: { organizationId: org, name: `Live ${n}` } } }),
      })
        .then((response) => response.json() as Promise<{ data?: { updateOrganization?: { revision: number } }; errors?: { message: string; extensions?: { code?: string } }[] }>)
        .then((body) => {
          const revision = body.data?.updateOrganization?.revision;
          if (typeof revision === "number") {
            made.push(revision);
            if (inWarmUp) warmUp.add(revision);
          } else failed.push(body.errors?.[0]?.extensions?.code ?? body.errors?.[0]?.message ?? "no answer");
        }),
    );
  }
  await Promise.all(inFlight);
  made.sort((a, b) => a - b);
  if (failed.length > 0) log(`s1: ${failed.length} of ${n} mutations failed: ${[...new Set(failed)].join(", ")}`);
  // Let the last events arrive.
  for (const began = Date.now(); Date.now() - began < 5_000 && subscribers.some((s) => s.revisions.length < made.length); ) await sleep(100);
  const rssAfterMb = pids.map(rssMb);
  const statementsAfter = await statements();
  const cpuAfter = cpu();
  const own = process.cpuUsage(before!.own);
  const statementsBefore = await before!.statements;
  log(`s1: CPU while it ran (after the warm-up): servers ${cpuAfter.map((after, i) => `${Math.round(((after - before!.cpu[i]!) / seconds) * 100)}%`).join(", ")}, this benchmark's subscribers ${Math.round(((own.user + own.system) / 1e6 / seconds) * 100)}%`);
  log(`s1: SQL statements per second on each server while it ran: ${statementsAfter.map((after, i) => Math.round((after - statementsBefore[i]!) / seconds)).join(", ")}`);
  for (const subscriber of subscribers) subscriber.controller.abort();
  const expected = made.join(",");
  let incomplete = 0;
  let duplicates = 0;
  const lags: number[] = [];
  const warmUpLags: number[] = [];
  const madeSet = new Set(made);
  let shown = 0;
  for (const subscriber of subscribers) {
    if (subscriber.revisions.join(",") !== expected) {
      incomplete++;
      if (shown++ < 3) {
        const got = new Set(subscriber.revisions);
        const missing = made.filter((revision) => !got.has(revision));
        const extra = subscriber.revisions.filter((revision) => !madeSet.has(revision));
        log(
          `s1: a stream got ${subscriber.revisions.length} of ${made.length} events (missing ${missing.slice(0, 10).join(",")}${missing.length > 10 ? "…" : ""}${extra.length ? `; not made here ${extra.slice(0, 5).join(",")}` : ""})${subscriber.errors.length ? `; it ended with ${subscriber.errors.join(", ")}` : ""}`,
        );
      }
    }
    duplicates += subscriber.revisions.length - new Set(subscriber.revisions).size;
    subscriber.revisions.forEach((revision, i) => (warmUp.has(revision) ? warmUpLags : lags).push(subscriber.lags[i]!));
  }
  lags.sort((a, b) => a - b);
  warmUpLags.sort((a, b) => a - b);
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const grown = sum(rssOpenMb) - sum(rssBeforeMb);
  const youngGrowthMb = youngOpenMb.map((open, i) => open - youngBeforeMb[i]!);
  return {
    subscribers: count,
    users: tokens.length,
    events: made.length - warmUp.size,
    p50Ms: percentile(lags, 50),
    p99Ms: percentile(lags, 99),
    warmUp: { events: warmUp.size, p50Ms: percentile(warmUpLags, 50), p99Ms: percentile(warmUpLags, 99) },
    incomplete,
    duplicates,
    rssPerThousandMb: Math.round(((grown - sum(youngGrowthMb)) / count) * 1_000),
    youngGrowthMb,
    rssBeforeMb,
    rssOpenMb,
    rssAfterMb,
  };
}
