// The delivery worker: sends each enabled endpoint the change-feed events after its
// deliveredRevision, one at a time, in revision order. An event is retried on the schedule
// (WEBHOOK_RETRY_SCHEDULE) until it succeeds or the schedule ends (given up); only then is the
// next one sent. The queue is the database: an endpoint's owed events are the feed's rows after
// its revision, so nothing is lost when a process dies, and any number of processes share the work.
//
// Claims: a process takes one due endpoint at a time with a lease (UPDATE … FOR UPDATE SKIP
// LOCKED: a row no other process holds; the one claimed longest ago first) under a token of that
// claim, delivers, and records each outcome in a transaction that checks the claim still holds an
// unexpired lease, renewing it. No transaction stays open across an HTTP request (the embedded
// database has one connection). A process killed mid-attempt leaves its lease to expire
// (WEBHOOK_TIMEOUT_MS + 5 s); the next holder repeats the attempt, with the same webhook-id. A
// claim that fails unexpectedly keeps its lease too, so the endpoint rests until it expires.
//
// What is sent: at each claim, the endpoint's visibility narrowed to what the member who set its
// URL holds now (domain/webhooks.ts, currentVisibility); an endpoint whose member may no longer
// read the feed is disabled instead. A delivery rendered with more than that is rendered again.
import { hostname } from "node:os";
import { encodeGlobalID } from "@pothos/plugin-relay";
import { randomBytes } from "node:crypto";
import { EVENT_TYPES, actionsOf } from "../core/events.js";
import { signatureHeader } from "../core/webhook-signatures.js";
import type { WebhookConfig } from "../config.js";
import type { Database } from "../db/client.js";
import { operatorActor } from "../domain/actor.js";
import type { Tx } from "../domain/access.js";
import { EVENTS_CHANNEL, recordAudit } from "../domain/audit.js";
import { currentVisibility, WEBHOOKS_CHANNEL } from "../domain/webhooks.js";
import type { WebhookSecretBox } from "../domain/webhook-secrets.js";
import { resolveDeliveryAddress } from "../domain/webhook-urls.js";
import type { MembershipEvent, WebhookDelivery, WebhookEndpoint } from "../generated/prisma/client.js";
import type { Logger } from "../logger.js";
import { showsActor, webhookBody, type PayloadReader } from "./payloads.js";
import { postWebhook, type AttemptResult } from "./send.js";

/** Events one claim of an endpoint delivers before giving others a turn. */
const EVENTS_PER_CLAIM = 50;
/** Replays (redeliverWebhook) one claim sends before the owed events. */
const REPLAYS_PER_CLAIM = 10;
/** The longest response excerpt, error and disabled reason the log keeps. */
const EXCERPT_CHARS = 1_024;
/** New events arriving together wake the worker once. */
const WAKE_DEBOUNCE_MS = 20;
/** How often the organizations with enabled endpoints are read again (they are also told through WEBHOOKS_CHANNEL). */
const RELOAD_ORGANIZATIONS_MS = 30_000;

type AttemptOutcome = "succeeded" | "retrying" | "failed";

export interface WebhookWorker {
  /** Starts listening for new events and polling for due retries. */
  start(): void;
  /** Looks for due work now. */
  wake(): void;
  /** For /metrics: each attempt's outcome and duration (seconds). */
  readonly stats: { onAttempt: Set<(outcome: AttemptOutcome, seconds: number) => void> };
  /** Stops claiming; waits for the attempts in flight (at most the timeout). */
  close(): Promise<void>;
}

export interface WorkerOptions {
  config: WebhookConfig;
  secrets: WebhookSecretBox;
  logger: Logger;
}

/** What one claim holds: the endpoint as its last recorded outcome left it, and whether its next attempt is due now. */
interface Held {
  endpoint: WebhookEndpoint;
  due: boolean;
}

/** One claim of one endpoint: the lease's token, and the organization's revision when it was taken. */
interface Claim {
  id: string;
  token: string;
  headRevision: number;
  due: boolean;
}

type Attempted = AttemptResult & { ms: number };

export function createWebhookWorker(db: Pick<Database, "prisma" | "query" | "listen">, { config, secrets, logger }: WorkerOptions): WebhookWorker {
  const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  let claims = 0;
  const leaseMs = config.timeoutMs + 5_000;
  // A failure after a pause well beyond any retry wait starts a new failing streak (WEBHOOK_DISABLE_AFTER counts a streak);
  // twice the longest, so a busy queue or a clock apart by seconds does not cut a streak short.
  const quietGapMs = 2 * Math.max(...config.retrySchedule) + leaseMs;
  const onAttempt = new Set<(outcome: AttemptOutcome, seconds: number) => void>();
  const serving = new Set<Promise<void>>();
  let closing = false;
  let started = false;
  let pumping = false;
  let again = false;
  let poller: NodeJS.Timeout | null = null;
  let wakeTimer: NodeJS.Timeout | null = null;
  let stopListening: Promise<(() => Promise<void>)[]> | null = null;
  // Organizations with enabled endpoints: only their events wake the worker, and without any the
  // worker sends no statement at all (null until first read).
  let organizations: Set<string> | null = null;
  let organizationsReadAt = 0;

  async function readOrganizations(): Promise<void> {
    const rows = await db.query<{ organizationId: string }>(`SELECT DISTINCT "organizationId" FROM "WebhookEndpoint" WHERE "disabledAt" IS NULL`);
    organizations = new Set(rows.map((row) => row.organizationId));
    organizationsReadAt = Date.now();
  }

  /** Takes the due endpoint no one holds that was claimed longest ago, under a token of this claim. */
  async function claim(): Promise<Claim | null> {
    const token = `${owner}:${++claims}`;
    const rows = await db.query<{ id: string; headRevision: number; due: boolean }>(
      `UPDATE "WebhookEndpoint" e SET "leaseOwner" = $1, "leaseExpiresAt" = (now() AT TIME ZONE 'UTC') + $2::int * interval '1 millisecond',
              "lastClaimedAt" = (now() AT TIME ZONE 'UTC')
       FROM (
         SELECT w."id", o."revision" AS "headRevision",
                (o."revision" > w."deliveredRevision" AND (w."nextAttemptAt" IS NULL OR w."nextAttemptAt" <= (now() AT TIME ZONE 'UTC'))) AS "due"
         FROM "WebhookEndpoint" w JOIN "Organization" o ON o."id" = w."organizationId"
         WHERE w."disabledAt" IS NULL AND (w."leaseExpiresAt" IS NULL OR w."leaseExpiresAt" < (now() AT TIME ZONE 'UTC'))
           AND ((o."revision" > w."deliveredRevision" AND (w."nextAttemptAt" IS NULL OR w."nextAttemptAt" <= (now() AT TIME ZONE 'UTC')))
                OR EXISTS (SELECT 1 FROM "WebhookDelivery" d WHERE d."endpointId" = w."id" AND d."redeliver"))
         ORDER BY w."lastClaimedAt" NULLS FIRST, w."id"
         LIMIT 1 FOR UPDATE OF w SKIP LOCKED
       ) claimed
       WHERE e."id" = claimed."id"
       RETURNING e."id", claimed."headRevision", claimed."due"`,
      [token, leaseMs],
    );
    return rows[0] ? { ...rows[0], token } : null;
  }

  const release = (held: Claim) =>
    db.query(`UPDATE "WebhookEndpoint" SET "leaseOwner" = NULL, "leaseExpiresAt" = NULL WHERE "id" = $1::uuid AND "leaseOwner" = $2`, [held.id, held.token]);

  /**
   * Locks the endpoint's row if the claim still holds an unexpired lease on it (else null: it ran
   * out and someone else may have it, or the endpoint was deleted): the database's clock, and what
   * the outcome is recorded against.
   */
  async function fence(tx: Tx, held: Claim) {
    const rows = await tx.$queryRaw<{ nowMs: number; deliveredRevision: number; failingSince: Date | null; updatedAt: Date }[]>`
      SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS "nowMs", "deliveredRevision", "failingSince", "updatedAt" FROM "WebhookEndpoint"
      WHERE "id" = ${held.id}::uuid AND "leaseOwner" = ${held.token} AND "leaseExpiresAt" > (clock_timestamp() AT TIME ZONE 'UTC') FOR UPDATE`;
    const row = rows[0];
    return row ? { ...row, now: new Date(row.nowMs) } : null;
  }

  /** Disables the endpoint (audited, as the operator), if the claim still holds it. */
  async function disable(tx: Tx, held: Claim, endpoint: WebhookEndpoint, now: Date, reason: string, details: Record<string, unknown> = {}): Promise<WebhookEndpoint> {
    const disabledReason = reason.slice(0, EXCERPT_CHARS);
    const updated = await tx.webhookEndpoint.update({ where: { id: held.id }, data: { disabledAt: now, disabledReason, leaseExpiresAt: new Date(now.getTime() + leaseMs) } });
    await recordAudit(tx, operatorActor(), {
      organizationId: endpoint.organizationId,
      action: "webhook_endpoint.disabled",
      targetType: "WebhookEndpoint",
      targetId: endpoint.id,
      after: { reason: disabledReason, ...details },
    });
    logger.warn({ endpointId: endpoint.id, organizationId: endpoint.organizationId, reason: disabledReason }, "webhook endpoint disabled");
    return updated;
  }

  /**
   * The delivery as it may be sent to a reader who may see `reader.visibility`: as stored when it
   * showed no more than that, else rendered again with less (null when its event is gone and it
   * can't be: then it is not sent).
   */
  async function sendable(delivery: WebhookDelivery, reader: PayloadReader): Promise<WebhookDelivery | null> {
    if (delivery.visibility.every((permission) => reader.visibility.includes(permission))) return delivery;
    const event = await db.prisma.membershipEvent.findUnique({ where: { id: delivery.eventId } });
    if (!event) return null;
    return db.prisma.webhookDelivery.update({ where: { id: delivery.id }, data: { payload: await bodyOf(reader, event), visibility: [...reader.visibility] } });
  }

  /** The event the endpoint waits on: a delivery already begun, else the next matching event up to `head`, made a delivery. */
  async function owed(endpoint: WebhookEndpoint, head: number, reader: PayloadReader): Promise<WebhookDelivery | null> {
    const begun = await db.prisma.webhookDelivery.findFirst({
      where: { endpointId: endpoint.id, status: "PENDING", revision: { gt: endpoint.deliveredRevision } },
      orderBy: { revision: "asc" },
    });
    if (begun) return begun;
    const actions = endpoint.eventTypes.length > 0 ? actionsOf(endpoint.eventTypes) : null;
    const event = await db.prisma.membershipEvent.findFirst({
      where: { organizationId: endpoint.organizationId, revision: { gt: endpoint.deliveredRevision, lte: head }, ...(actions ? { action: { in: actions } } : {}) },
      orderBy: { revision: "asc" },
    });
    if (!event) return null;
    return db.prisma.webhookDelivery.upsert({
      where: { endpointId_revision: { endpointId: endpoint.id, revision: event.revision } },
      create: {
        endpointId: endpoint.id,
        organizationId: endpoint.organizationId,
        eventId: event.id,
        revision: event.revision,
        action: event.action,
        payload: await bodyOf(reader, event),
        visibility: [...reader.visibility],
      },
      update: {},
    });
  }

  async function bodyOf(reader: PayloadReader, event: MembershipEvent): Promise<string> {
    const email = showsActor(reader, event) ? ((await db.prisma.user.findUnique({ where: { id: event.actorUserId! }, select: { email: true } }))?.email ?? null) : null;
    return webhookBody(event, reader, email);
  }

  /** The secrets that sign now: the current one, and the previous one within its 24 hours. */
  function signingSecrets(endpoint: WebhookEndpoint): string[] {
    const sealed = [endpoint.secret];
    if (endpoint.previousSecret && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt.getTime() > Date.now()) sealed.push(endpoint.previousSecret);
    return sealed.map((value) => secrets.open(value));
  }

  async function attempt(endpoint: WebhookEndpoint, delivery: WebhookDelivery | null): Promise<Attempted> {
    if (!delivery) return { ok: false, status: null, body: null, error: "not sent: it showed more than the endpoint may see now, and its event is no longer in the feed to render again", ms: 0 };
    const began = performance.now();
    const result = await (async (): Promise<AttemptResult> => {
      let signing: string[];
      try {
        signing = signingSecrets(endpoint);
      } catch (error) {
        return { ok: false, status: null, body: null, error: `could not sign: ${(error as Error).message}` };
      }
      const url = new URL(endpoint.url);
      let to;
      try {
        to = await withDeadline(resolveDeliveryAddress(url, config), config.timeoutMs);
      } catch (error) {
        return { ok: false, status: null, body: null, error: (error as Error).message };
      }
      const remaining = Math.max(100, config.timeoutMs - (performance.now() - began));
      const id = webhookId(delivery);
      const timestamp = Math.floor(Date.now() / 1000);
      return postWebhook(url, to, { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signatureHeader(signing, id, timestamp, delivery.payload) }, delivery.payload, remaining);
    })();
    return { ...result, ms: performance.now() - began };
  }

  /**
   * Records an attempt's outcome, if the claim still holds the endpoint (else null), and renews the
   * lease. `unsendable`: the delivery could not be sent at all, so it is given up now.
   */
  async function record(held: Claim, endpoint: WebhookEndpoint, delivery: WebhookDelivery, result: Attempted, replay: boolean, unsendable = false): Promise<Held | null> {
    return db.prisma.$transaction(async (tx): Promise<Held | null> => {
      const current = await fence(tx, held);
      if (!current) return null;
      const { now } = current;
      const attempts = delivery.attempts + (unsendable ? 0 : 1);
      const last = {
        attempts,
        lastAttemptAt: now,
        lastResponseStatus: result.status,
        lastResponseBody: result.body === null ? null : result.body.slice(0, EXCERPT_CHARS),
        lastError: result.error === null ? null : result.error.slice(0, EXCERPT_CHARS),
        lastDurationMs: Math.round(result.ms),
      };
      const lease = { leaseExpiresAt: new Date(now.getTime() + leaseMs) };
      if (replay) {
        // A replay that could not be sent leaves the delivery's own outcome as it was.
        const status = unsendable ? delivery.status : result.ok ? "SUCCEEDED" : "FAILED";
        await tx.webhookDelivery.update({ where: { id: delivery.id }, data: { ...last, status, redeliver: false, nextAttemptAt: null } });
        if (!unsendable) onAttempt.forEach((listener) => listener(result.ok ? "succeeded" : "failed", result.ms / 1000));
        // A replay that got through shows the endpoint answers again: its failing streak is over.
        return heldAt(now, await tx.webhookEndpoint.update({ where: { id: endpoint.id }, data: { ...lease, ...(result.ok ? { failingSince: null } : {}) } }));
      }
      // Settled in order: never moves back, whatever another claim recorded before this one.
      const settled = Math.max(current.deliveredRevision, delivery.revision);
      if (result.ok) {
        await tx.webhookDelivery.updateMany({ where: { id: delivery.id, status: "PENDING" }, data: { ...last, status: "SUCCEEDED", nextAttemptAt: null } });
        onAttempt.forEach((listener) => listener("succeeded", result.ms / 1000));
        return heldAt(now, await tx.webhookEndpoint.update({ where: { id: endpoint.id }, data: { ...lease, deliveredRevision: settled, nextAttemptAt: null, failingSince: null } }));
      }
      const streak = current.failingSince !== null && now.getTime() - current.updatedAt.getTime() <= quietGapMs;
      const failingSince = streak ? current.failingSince! : now;
      const givenUp = unsendable || attempts >= config.retrySchedule.length;
      const nextAttemptAt = givenUp ? null : new Date(now.getTime() + config.retrySchedule[attempts]!);
      await tx.webhookDelivery.updateMany({ where: { id: delivery.id, status: "PENDING" }, data: { ...last, status: givenUp ? "FAILED" : "PENDING", nextAttemptAt } });
      if (!unsendable) onAttempt.forEach((listener) => listener(givenUp ? "failed" : "retrying", result.ms / 1000));
      const updated = await tx.webhookEndpoint.update({
        where: { id: endpoint.id },
        data: { ...lease, failingSince: unsendable ? current.failingSince : failingSince, nextAttemptAt, ...(givenUp ? { deliveredRevision: settled } : {}) },
      });
      if (!unsendable && now.getTime() - failingSince.getTime() >= config.disableAfterMs) {
        const reason = `Disabled after failing since ${failingSince.toISOString()} (WEBHOOK_DISABLE_AFTER) with no successful delivery; last attempt: ${result.error}`;
        return heldAt(now, await disable(tx, held, endpoint, now, reason, { failingSince: failingSince.toISOString() }));
      }
      return heldAt(now, updated);
    });
  }

  /** Disables an endpoint whose URL was set by a member who may no longer read the feed. */
  const disableFor = (held: Claim, endpoint: WebhookEndpoint, reason: string) =>
    db.prisma.$transaction(async (tx) => {
      const current = await fence(tx, held);
      if (current) await disable(tx, held, endpoint, current.now, reason, { registeredByUserId: endpoint.registeredByUserId });
    });

  /**
   * Serves one claim and gives its lease back. A claim that fails unexpectedly keeps its lease:
   * the endpoint rests until it expires, rather than being claimed again at once.
   */
  async function serve(held: Claim): Promise<void> {
    try {
      await deliver(held);
    } catch (error) {
      // Deleted (with its organization, or by a member) while it was being served: nothing is owed any more.
      if (!(await db.prisma.webhookEndpoint.count({ where: { id: held.id } }))) return;
      throw error;
    }
    await release(held).catch((error: unknown) => logger.warn({ err: error, endpointId: held.id }, "could not release a webhook endpoint's lease (it expires by itself)"));
  }

  /** Delivers to one claimed endpoint: replays first, then owed events in order, while they succeed or are given up. */
  async function deliver(held: Claim): Promise<void> {
    const endpointId = held.id;
    let endpoint = await db.prisma.webhookEndpoint.findUnique({ where: { id: endpointId } });
    if (!endpoint) return;
    const standing = await currentVisibility(db.prisma, endpoint);
    if ("refusal" in standing) {
      await disableFor(held, endpoint, standing.refusal);
      return;
    }
    const reader: PayloadReader = standing;
    const replays = await db.prisma.webhookDelivery.findMany({ where: { endpointId, redeliver: true }, orderBy: { revision: "asc" }, take: REPLAYS_PER_CLAIM });
    for (const replay of replays) {
      const delivery = await sendable(replay, reader);
      const outcome = await record(held, endpoint, delivery ?? replay, await attempt(endpoint, delivery), true, !delivery);
      if (!outcome || outcome.endpoint.disabledAt) return;
      endpoint = outcome.endpoint;
    }
    let due = held.due;
    for (let sent = 0; due && endpoint.disabledAt === null && !closing && sent < EVENTS_PER_CLAIM; sent++) {
      const next = await owed(endpoint, held.headRevision, reader);
      if (!next) {
        // Nothing (of its types) up to the revision seen at the claim: it is done with all of those.
        if (held.headRevision > endpoint.deliveredRevision) {
          await db.query(
            `UPDATE "WebhookEndpoint" SET "deliveredRevision" = $1::int
             WHERE "id" = $2::uuid AND "leaseOwner" = $3 AND "leaseExpiresAt" > (clock_timestamp() AT TIME ZONE 'UTC') AND "deliveredRevision" < $1::int`,
            [held.headRevision, endpoint.id, held.token],
          );
        }
        break;
      }
      const delivery = await sendable(next, reader);
      const outcome = await record(held, endpoint, delivery ?? next, await attempt(endpoint, delivery), false, !delivery);
      if (!outcome) return;
      ({ endpoint, due } = outcome);
    }
  }

  async function pump(): Promise<void> {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      if (organizations === null || Date.now() - organizationsReadAt > RELOAD_ORGANIZATIONS_MS) await readOrganizations();
      if (organizations!.size === 0) return;
      do {
        again = false;
        while (!closing && serving.size < config.concurrency) {
          const claimed = await claim();
          if (!claimed) break;
          const work = serve(claimed)
            .catch((error: unknown) => logger.error({ err: error, endpointId: claimed.id }, "webhook delivery failed unexpectedly; retried after the lease expires"))
            .finally(() => {
              serving.delete(work);
              if (!closing) setImmediate(() => void pump());
            });
          serving.add(work);
        }
      } while (again && !closing);
    } catch (error) {
      logger.warn({ err: error }, "could not look for webhook deliveries; trying again shortly");
    } finally {
      pumping = false;
    }
  }

  const wake = () => {
    if (closing || wakeTimer) return;
    wakeTimer = setTimeout(() => {
      wakeTimer = null;
      void pump();
    }, WAKE_DEBOUNCE_MS);
    wakeTimer.unref();
  };

  const listen = (channel: string, onMessage: (payload: string) => void, onGap: () => void) =>
    db.listen(channel, onMessage, onGap).catch((error: unknown) => {
      logger.warn({ err: error, channel }, `could not LISTEN for notifications; webhooks look for work every ${config.pollMs} ms`);
      return async () => {};
    });
  /** Listening (again): what was announced meanwhile is lost, so read the organizations again and look. */
  const afterGap = () => {
    organizations = null;
    wake();
  };

  return {
    stats: { onAttempt },
    start() {
      if (started || closing) return;
      started = true;
      poller = setInterval(() => {
        if (organizations === null || organizations.size > 0) wake();
      }, config.pollMs);
      poller.unref();
      stopListening = Promise.all([
        // A change in an organization with endpoints (payload "<organizationId>:<revision>").
        listen(EVENTS_CHANNEL, (payload) => organizations?.has(payload.split(":")[0]!) && wake(), afterGap),
        // An endpoint registered, enabled, changed or redelivered (payload: its organization).
        listen(
          WEBHOOKS_CHANNEL,
          (organizationId) => {
            organizations?.add(organizationId);
            wake();
          },
          afterGap,
        ),
      ]);
      wake();
    },
    wake,
    async close() {
      if (closing) return;
      closing = true;
      if (poller) clearInterval(poller);
      if (wakeTimer) clearTimeout(wakeTimer);
      for (const stop of (await stopListening) ?? []) await stop().catch(() => {});
      await Promise.race([Promise.allSettled([...serving]), new Promise((resolve) => setTimeout(resolve, config.timeoutMs + 1_000).unref())]);
    },
  };
}

/** Events owed to enabled endpoints (of their types), and how long ago the oldest of them was committed (seconds; null when none). */
export async function webhookQueue(db: Pick<Database, "query">): Promise<{ depth: number; oldestOwedSeconds: number | null }> {
  const names = Object.entries(EVENT_TYPES);
  const rows = await db.query<{ depth: number; oldest: number | null }>(
    `SELECT count(*)::int AS "depth", (extract(epoch FROM (clock_timestamp() AT TIME ZONE 'UTC') - min(m."occurredAt")))::float8 AS "oldest"
     FROM "WebhookEndpoint" w
     JOIN "MembershipEvent" m ON m."organizationId" = w."organizationId" AND m."revision" > w."deliveredRevision"
     JOIN unnest($1::text[], $2::text[]) AS t("action", "type") ON t."action" = m."action"
     WHERE w."disabledAt" IS NULL AND (cardinality(w."eventTypes") = 0 OR t."type" = ANY (w."eventTypes"))`,
    [names.map(([action]) => action), names.map(([, [type]]) => type)],
  );
  return { depth: rows[0]?.depth ?? 0, oldestOwedSeconds: rows[0]?.oldest ?? null };
}

/** The endpoint as recorded at `now` (the database's clock), and whether its next attempt is due then. */
const heldAt = (now: Date, endpoint: WebhookEndpoint): Held => ({
  endpoint,
  due: endpoint.disabledAt === null && (endpoint.nextAttemptAt === null || endpoint.nextAttemptAt.getTime() <= now.getTime()),
});

/** The webhook-id of a delivery: the event's global ID (MembershipEvent.id, data.id), the same on every attempt and replay. */
const webhookId = (delivery: WebhookDelivery) => encodeGlobalID("MembershipEvent", delivery.eventId);

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
