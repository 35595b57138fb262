// Live change feed: the streams behind `subscription { membershipEvents }`, over SSE and WebSocket
// alike (both reach the same Yoga pipeline). One EventHub per app LISTENs for the NOTIFY that
// recordAudit sends when an event commits (domain/audit.ts) and wakes the streams of that
// organization; each stream then reads what it hasn't delivered, in revision order, from the
// database (the only source of truth: a missed notification costs latency, never an event).
//
// Access is re-checked every second and before each delivery: the caller's credential is
// authenticated again (revoked, expired, user suspended) and their events:read in the
// organization read afresh. The events are read first and the check started after the read has
// answered, so an event committed after access was lost is never delivered; the stream ends with
// the refusal instead.
//
// Streams at the same place share their work: one read per organization, position and filter,
// one credential check per credential and one standing check per user and organization, each
// reused only by streams that asked for it after it started (so the ordering above holds for each).
import { createHash } from "node:crypto";
import type { Viewer } from "../auth/authenticate.js";
import DataLoader from "dataloader";
import { recheckTokens } from "../auth/authenticate.js";
import { standingsIn, type Policy, type StandingWithLocations } from "../auth/policy.js";
import { AppError } from "../core/errors.js";
import type { EventAction } from "../core/events.js";
import type { Database } from "../db/client.js";
import { isDatabaseBusy, isDatabaseUnavailable } from "../db/health.js";
import { columnsOf, selectList } from "../db/queries/columns.js";
import { cursorExpired, expiredAfter, revisionAfter } from "../db/queries/event-pages.js";
import { EVENTS_CHANNEL } from "../domain/audit.js";
import type { MembershipEvent } from "../generated/prisma/client.js";
import type { Logger } from "../logger.js";

/** What a stream needs of the subscriber's request context (graphql/context.ts, which imports this file). */
interface Subscriber {
  viewer: Viewer | null;
  requestId: string;
  /** Identifies the credential the request came with (its hash), so streams with the same one share its re-check. */
  credentialKey(): string | null;
  policy: Pick<Policy, "can">;
  /** The standing the fields see from now on, with rows and scope checks read afresh (Context.startAfresh). */
  startAfresh(organizationId: string, standing: StandingWithLocations): void;
  reauthenticate(): Promise<Viewer | null>;
}

/** How often a stream re-checks access and, without a notification, looks for events anyway. */
const RECHECK_MS = 1_000;
/** How long a stream rides out a database it can't use (a busy pool, an outage) before it ends with SERVICE_UNAVAILABLE. */
const RIDE_OUT_MS = 30_000;
/** Events read per statement while a stream catches up. */
const BATCH = 100;

/**
 * Results shared by callers that ask for the same thing, kept until RECHECK_MS after they settle:
 * reads, re-checks, and events' results (stream-results.ts). A caller reuses one only if it
 * started no earlier than `notBefore`.
 */
class Shared {
  private readonly entries = new Map<string, { startedAt: number; promise: Promise<unknown> }>();

  run<T>(key: string, notBefore: number, work: () => Promise<T>): Promise<T> {
    const entry = this.entries.get(key);
    if (entry && entry.startedAt >= notBefore) return entry.promise as Promise<T>;
    const startedAt = performance.now();
    const promise = work();
    this.entries.set(key, { startedAt, promise });
    const forget = () => setTimeout(() => this.entries.get(key)?.promise === promise && this.entries.delete(key), RECHECK_MS).unref();
    promise.then(forget, forget);
    return promise;
  }
}

/**
 * What the app's streams share: the LISTEN connection and its wake-ups, the shared reads and
 * checks, the per-user count, and the figures /metrics reports.
 */
export interface EventHub {
  /**
   * A stream's wake-up: resolves on a notification for the organization, at the hub's next
   * one-second tick, or when the hub closes, with the moment it was woken (the same for every
   * stream woken together, so they can share the read that follows).
   */
  wait(organizationId: string): { promise: Promise<number>; cancel(): void };
  /** Starts listening (once); streams poll until it has. */
  start(): void;
  readonly closing: boolean;
  /** Registers an open stream of a user (SUBSCRIPTIONS_PER_USER); returns its release. */
  open(userId: string): () => void;
  openCount(userId: string): number;
  readonly shared: Shared;
  /** The re-checks streams ask for in the same tick, batched: one statement for all their access tokens, one per organization for their standings. */
  readonly checks: { token: DataLoader<string, AppError | null>; standing: DataLoader<{ organizationId: string; userId: string }, StandingWithLocations, string> };
  /**
   * A number for an object, the same each time it is asked: part of the keys of shared work (a
   * standing the checks read, the same object for every stream of a user checked in one batch; a
   * parsed document).
   */
  objectId(object: object): number;
  /**
   * For /metrics: open streams, the lag of each delivered event (commit to hand-over, ms), and
   * each result a stream got: computed for it, or shared from another stream (stream-results.ts).
   */
  readonly stats: { open: number; onDelivered: Set<(lagMs: number) => void>; onResult: Set<(shared: boolean) => void> };
  delivered(event: MembershipEvent): void;
  /** Ends every stream (SERVICE_UNAVAILABLE: reconnect elsewhere with the last cursor) and stops listening. */
  close(): Promise<void>;
}

export function createEventHub(db: Pick<Database, "listen" | "query">, logger: Logger): EventHub {
  const waiters = new Map<string, Set<(at: number) => void>>();
  const perUser = new Map<string, number>();
  const onDelivered = new Set<(lagMs: number) => void>();
  const onResult = new Set<(shared: boolean) => void>();
  let open = 0;
  const objectIds = new WeakMap<object, number>();
  let lastObjectId = 0;
  let stopListening: Promise<() => Promise<void>> | null = null;
  let closing = false;
  let ticker: NodeJS.Timeout | null = null;
  const wakeAll = () => {
    const at = performance.now();
    for (const set of waiters.values()) for (const wake of [...set]) wake(at);
  };
  // Not cached: each batch is read after every stream in it has read its events.
  const checks = {
    token: new DataLoader<string, AppError | null>(
      async (tokenIds) => {
        const found = await recheckTokens(db, tokenIds);
        return tokenIds.map((id) => found.get(id) ?? null);
      },
      { cache: false },
    ),
    standing: new DataLoader<{ organizationId: string; userId: string }, StandingWithLocations, string>(
      async (keys) => {
        const byOrganization = new Map<string, string[]>();
        for (const { organizationId, userId } of keys) byOrganization.set(organizationId, [...(byOrganization.get(organizationId) ?? []), userId]);
        const read = new Map(
          await Promise.all([...byOrganization].map(async ([organizationId, userIds]) => [organizationId, await standingsIn(db, organizationId, [...new Set(userIds)])] as const)),
        );
        return keys.map(({ organizationId, userId }) => read.get(organizationId)!.get(userId)!);
      },
      { cache: false },
    ),
  };
  return {
    shared: new Shared(),
    checks,
    objectId(object) {
      let id = objectIds.get(object);
      if (id === undefined) objectIds.set(object, (id = ++lastObjectId));
      return id;
    },
    stats: {
      get open() {
        return open;
      },
      onDelivered,
      onResult,
    },
    get closing() {
      return closing;
    },
    start() {
      if (stopListening || closing) return;
      // One tick for all streams: each re-checks access and looks for events every second, together.
      ticker = setInterval(wakeAll, RECHECK_MS);
      ticker.unref();
      stopListening = db
        .listen(
          EVENTS_CHANNEL,
          (payload) => {
            const organizationId = payload.split(":")[0]!;
            const at = performance.now();
            for (const wake of [...(waiters.get(organizationId) ?? [])]) wake(at);
          },
          // Listening (again): what was sent meanwhile is lost, so every stream looks now.
          wakeAll,
        )
        .catch((error: unknown) => {
          logger.warn({ err: error }, "could not LISTEN for change-feed notifications; subscriptions poll every second");
          return async () => {};
        });
    },
    wait(organizationId) {
      let wake!: (at: number) => void;
      const promise = new Promise<number>((resolve) => {
        wake = (at) => {
          const set = waiters.get(organizationId);
          set?.delete(wake);
          if (set?.size === 0) waiters.delete(organizationId);
          resolve(at);
        };
      });
      if (closing) wake(performance.now());
      else {
        let set = waiters.get(organizationId);
        if (!set) waiters.set(organizationId, (set = new Set()));
        set.add(wake);
      }
      return { promise, cancel: () => wake(performance.now()) };
    },
    open(userId) {
      perUser.set(userId, (perUser.get(userId) ?? 0) + 1);
      open++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        open--;
        const left = (perUser.get(userId) ?? 1) - 1;
        if (left > 0) perUser.set(userId, left);
        else perUser.delete(userId);
      };
    },
    openCount: (userId) => perUser.get(userId) ?? 0,
    delivered(event) {
      if (onDelivered.size === 0) return;
      const lag = Date.now() - event.occurredAt.getTime();
      for (const listener of onDelivered) listener(lag);
    },
    async close() {
      closing = true;
      if (ticker) clearInterval(ticker);
      wakeAll();
      const stop = await stopListening;
      await stop?.();
    },
  };
}

/**
 * Hand-overs run per turn of the event loop; the work each one starts (execute, serialize, write)
 * follows in its microtasks, a few milliseconds for 128. Fewer caps delivery below what a
 * server can do, since every turn also polls I/O: at 32, s1's first events (cold code) queued
 * up to half a second behind each other; more keeps I/O waiting longer.
 */
const HANDOVERS_PER_TURN = 128;
const handovers: (() => void)[] = [];
let handoverHead = 0;
let handoverScheduled = false;

/**
 * Hands items to the consumers of all streams a few at a time, one batch per turn of the event
 * loop: a burst to a thousand streams then lets I/O in between every few milliseconds, so the
 * database answers of transactions holding an organization's lock (the next event's writers)
 * are not kept waiting behind the whole burst. FIFO: each stream's items keep their order.
 */
function handOver(deliver: () => void): void {
  handovers.push(deliver);
  if (handoverScheduled) return;
  handoverScheduled = true;
  setImmediate(runHandovers);
}

function runHandovers(): void {
  const end = Math.min(handovers.length, handoverHead + HANDOVERS_PER_TURN);
  try {
    // (each is a promise's resolve, which doesn't throw; if one ever did, the queue still goes on)
    while (handoverHead < end) handovers[handoverHead++]!();
  } finally {
    if (handoverHead < handovers.length) {
      // Under a steady load the queue may never empty: drop what has run.
      if (handoverHead >= 1_024) {
        handovers.splice(0, handoverHead);
        handoverHead = 0;
      }
      setImmediate(runHandovers);
    } else {
      handovers.length = 0;
      handoverHead = 0;
      handoverScheduled = false;
    }
  }
}

/**
 * A stream's queue towards its consumer: items wait here until the transport pulls them, at most
 * `limit` of them. The last item (why the stream ended) always fits.
 */
class Outbox<T> implements AsyncIterableIterator<T> {
  /**
   * Who would get the same answer for this stream's next event, as of now: set with the standing
   * its fields see (null: nobody, e.g. before its first check). stream-results.ts shares an
   * event's execution among the streams with the same key, document and variables.
   */
  shareKey: string | null = null;
  private queue: T[] = [];
  private pulling: ((result: IteratorResult<T>) => void) | null = null;
  private finished = false;
  closed = false;
  private closedSignal!: () => void;
  /** Resolves when the consumer has gone (returned) or has read everything after finish(). */
  readonly whenClosed = new Promise<void>((resolve) => (this.closedSignal = resolve));

  constructor(private readonly limit: number) {}

  /** Queues an item; false when the consumer already has `limit` unread. */
  offer(item: T): boolean {
    if (this.finished) return false;
    if (this.pulling) {
      const pull = this.pulling;
      this.pulling = null;
      handOver(() => pull({ value: item, done: false }));
      return true;
    }
    if (this.queue.length >= this.limit) return false;
    this.queue.push(item);
    return true;
  }

  /** Ends the stream after what is queued (or instead of it), with `last` as its final item. */
  finish(last?: T, dropQueued = false): void {
    if (this.finished) return;
    this.finished = true;
    if (dropQueued) this.queue = [];
    if (last !== undefined) this.queue.push(last);
    if (this.pulling) {
      const pull = this.pulling;
      this.pulling = null;
      void this.next().then(pull);
    }
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.queue.shift();
    if (item !== undefined) return new Promise((resolve) => handOver(() => resolve({ value: item, done: false })));
    if (this.finished) return this.return();
    return new Promise((resolve) => (this.pulling = resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.finished = true;
    this.closed = true;
    this.queue = [];
    this.pulling?.({ value: undefined, done: true });
    this.pulling = null;
    this.closedSignal();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator]() {
    return this;
  }
}

const COLUMNS = columnsOf("MembershipEvent");

/**
 * One snapshot: the organization's committed revision, the oldest event kept, and the events
 * after `after` up to that revision (all committed: a revision is assigned in the transaction
 * that commits it). No row when the organization is gone.
 */
const READ_EVENTS = `SELECT o.revision AS "o_latest", (SELECT min(k.revision) FROM "MembershipEvent" k WHERE k."organizationId" = o.id) AS "o_oldest", page.*
  FROM "Organization" o
  LEFT JOIN LATERAL (
    SELECT ${selectList("e", COLUMNS).join(", ")} FROM "MembershipEvent" e
     WHERE e."organizationId" = o.id AND e.revision > $2 AND e.revision <= o.revision AND ($4::text[] IS NULL OR e.action = ANY($4::text[]))
     ORDER BY e.revision LIMIT $3) page ON true
  WHERE o.id = $1::uuid`;

type EventRow = MembershipEvent & { o_latest: number; o_oldest: number | null };

interface Snapshot {
  latest: number;
  oldest: number | null;
  events: MembershipEvent[];
  /** When the read had answered: an access check started after it comes after the read's snapshot. */
  doneAt: number;
}

async function readEvents(db: Pick<Database, "query">, organizationId: string, after: number, actions: EventAction[] | null): Promise<Snapshot | null> {
  const rows = await db.query<EventRow>(READ_EVENTS, [organizationId, after, BATCH, actions]);
  if (rows.length === 0) return null;
  const events: MembershipEvent[] = [];
  for (const { o_latest: _latest, o_oldest: _oldest, ...event } of rows) if (event.id !== null) events.push(event);
  return { latest: Number(rows[0]!.o_latest), oldest: rows[0]!.o_oldest === null ? null : Number(rows[0]!.o_oldest), events, doneAt: performance.now() };
}

export interface StreamDeps {
  db: Pick<Database, "prisma" | "query">;
  hub: EventHub;
  maxPerUser: number;
  /** Events a stream holds for a consumer that doesn't read them (SUBSCRIPTION_BUFFER); one more ends it with SLOW_CONSUMER. */
  buffer: number;
  /** Told when a stream starts riding out a database it can't use. */
  logger?: Logger;
}

export interface StreamInput {
  organizationId: string;
  after: string | null | undefined;
  actions: EventAction[] | null;
}

/** Each request context's stream (stream-results.ts reads its events and shareKey). */
const streams = new WeakMap<object, Outbox<MembershipEvent | Error>>();

/** The stream a subscription request opened, once its subscribe resolver has run. */
export function streamOf(context: object): (AsyncIterator<MembershipEvent | Error> & { readonly shareKey: string | null }) | undefined {
  return streams.get(context);
}

const noEventsRead = () => new AppError("FORBIDDEN", "Reading this organization's events needs events:read");

/**
 * Whether the caller may still read the feed, as of a moment after `notBefore`: their access
 * token checked again (or, for a JWT, the credential authenticated again), then their standing
 * read afresh. Batched with the other streams that ask in the same tick.
 */
async function stillAllowed(
  deps: StreamDeps,
  subscriber: Subscriber,
  stream: { shareKey: string | null },
  viewerKey: string | null,
  organizationId: string,
  notBefore: number,
): Promise<AppError | null> {
  const { hub } = deps;
  const viewer = subscriber.viewer!;
  // The streams woken together share each answer (one promise, not a DataLoader key per stream);
  // the DataLoaders batch the different tokens and users into one statement each.
  if (viewer.tokenId) {
    const tokenId = viewer.tokenId;
    const refusal = await hub.shared.run(`token:${tokenId}`, notBefore, () => hub.checks.token.load(tokenId));
    if (refusal) return refusal;
  } else {
    let again: Viewer | null;
    try {
      again = await hub.shared.run(`credential:${subscriber.credentialKey() ?? subscriber.requestId}`, notBefore, () => subscriber.reauthenticate());
    } catch (error) {
      if (error instanceof AppError) return error;
      throw error;
    }
    if (!again || again.user.id !== viewer.user.id) return new AppError("UNAUTHENTICATED", "Sign in again: the stream's credential no longer signs you in");
  }
  const userId = viewer.user.id;
  const standing = await hub.shared.run(`standing:${organizationId}:${userId}`, notBefore, () => hub.checks.standing.load({ organizationId, userId }));
  if (!standing.permissions.has("events:read")) return new AppError("FORBIDDEN", "You no longer hold events:read in this organization; the stream has ended");
  // Field resolvers (redaction, subjects, the type's own check) see this standing, as it is now;
  // and, in the same step, the streams of this credential that see this very standing (checked in
  // the same batch) may share the answers they compute from now on.
  subscriber.startAfresh(organizationId, standing);
  stream.shareKey = viewerKey && `${viewerKey}:${hub.objectId(standing)}`;
  return null;
}

/**
 * The stream of one subscription: checked and positioned before it starts (UNAUTHENTICATED,
 * FORBIDDEN, BAD_USER_INPUT for a cursor, CURSOR_EXPIRED, RATE_LIMITED), then the events after the
 * cursor (or from now), live, each once, in revision order. Its last item, when it ends on its
 * own, is an error saying why: access lost, SLOW_CONSUMER, the organization deleted, shutdown.
 */
export async function membershipEventStream(deps: StreamDeps, subscriber: Subscriber, input: StreamInput): Promise<AsyncIterable<MembershipEvent | Error>> {
  const { hub, db } = deps;
  const viewer = subscriber.viewer;
  if (!viewer) throw new AppError("UNAUTHENTICATED", "Sign in first: send an Authorization: Bearer <token> header (WebSocket: connectionParams.authorization)");
  const { organizationId, actions } = input;
  if (!(await subscriber.policy.can(organizationId, "events:read"))) throw noEventsRead();
  const start = revisionAfter(input.after, organizationId);
  const first = await readEvents(db, organizationId, start, actions);
  if (!first) throw noEventsRead();
  if (input.after != null && expiredAfter(start, first.oldest, first.latest)) throw cursorExpired(start, first.oldest ?? first.latest + 1);
  if (hub.openCount(viewer.user.id) >= deps.maxPerUser) {
    throw new AppError("RATE_LIMITED", `At most ${deps.maxPerUser} subscriptions per user may be open on one server (SUBSCRIPTIONS_PER_USER); close one first`, {
      limit: deps.maxPerUser,
    });
  }
  const release = hub.open(viewer.user.id);
  hub.start();
  const outbox = new Outbox<MembershipEvent | Error>(deps.buffer);
  streams.set(subscriber, outbox);
  // Streams share answers only with the same credential, signing in the very same viewer (user row, addresses).
  const credential = subscriber.credentialKey();
  const viewerKey = credential && createHash("sha256").update(credential).update(JSON.stringify(viewer)).digest("base64url");

  const run = async () => {
    // Without a cursor: from the revision the organization has now.
    let last = input.after == null ? first.latest : start;
    let pending: Snapshot | null = input.after == null ? null : first;
    let wokeAt = performance.now();
    /** Since when reads or checks fail for want of the database (null: they don't). */
    let failingSince: number | null = null;
    // The wake-up waited for; a consumer that goes away cancels it.
    let waiting: { promise: Promise<number>; cancel(): void } | null = null;
    void outbox.whenClosed.then(() => waiting?.cancel());
    const nextWake = async () => {
      const wake = (waiting = hub.wait(organizationId));
      if (outbox.closed) wake.cancel();
      const at = await wake.promise;
      waiting = null;
      return at;
    };
    while (!outbox.closed) {
      if (hub.closing) return outbox.finish(new AppError("SERVICE_UNAVAILABLE", "The server is shutting down; subscribe again with the last event's cursor as `after`"), true);
      let snapshot: Snapshot | null;
      let refusal: AppError | null;
      try {
        snapshot = pending ?? (await hub.shared.run(`events:${organizationId}:${last}:${actions?.join(",") ?? "*"}`, wokeAt, () => readEvents(db, organizationId, last, actions)));
        pending = null;
        if (!snapshot) return outbox.finish(new AppError("NOT_FOUND", "The organization no longer exists; the stream has ended"), true);
        // The events first, then the check (started after the read answered): nothing committed after a loss of access goes out.
        refusal = await stillAllowed(deps, subscriber, outbox, viewerKey, organizationId, snapshot.doneAt);
      } catch (error) {
        // A busy pool or a short outage: nothing was delivered since the last check, so the
        // stream tries again from where it is at the next wake-up (later, never lost).
        if (!(isDatabaseBusy(error) || isDatabaseUnavailable(error))) throw error;
        if (failingSince === null) {
          failingSince = performance.now();
          deps.logger?.warn({ requestId: subscriber.requestId, message: (error as Error).message }, "a subscription can't read or re-check for now; it tries again at the next wake-up");
        }
        if (performance.now() - failingSince > RIDE_OUT_MS) throw error;
        wokeAt = await nextWake();
        continue;
      }
      failingSince = null;
      if (refusal) return outbox.finish(refusal, true);
      for (const event of snapshot.events) {
        if (event.revision <= last) continue;
        if (!outbox.offer(event)) {
          // What waits unread is dropped with it: nothing is delivered without a check after it.
          return outbox.finish(
            new AppError("SLOW_CONSUMER", `More than ${deps.buffer} events waited for this stream to read them; subscribe again with the last event's cursor as \`after\``, {
              buffer: deps.buffer,
            }),
            true,
          );
        }
        last = event.revision;
        hub.delivered(event);
      }
      const caughtUp = snapshot.events.length < BATCH;
      if (!caughtUp) {
        wokeAt = performance.now();
        continue;
      }
      // With a type filter, revisions in between are the other types': skip them.
      last = Math.max(last, snapshot.latest);
      wokeAt = await nextWake();
    }
  };
  // e.g. the database went away: the stream ends with the (masked) error as its last result.
  run().catch((error: unknown) => outbox.finish(error instanceof Error ? error : new Error(String(error)), true));
  // The slot is held until the consumer is gone or has read the stream's end, not only until it stops producing.
  void outbox.whenClosed.then(release);
  return outbox;
}
