// Live change feed: the streams behind `subscription { membershipEvents }`, over SSE and WebSocket
// alike (both reach the same Yoga pipeline). One EventHub per app LISTENs for the NOTIFY that
// recordAudit sends when an event commits (domain/audit.ts) and wakes the streams of that
// organization; each stream then reads what it hasn't delivered, in revision order, from the
// database (the only source of truth: a missed notification costs latency, never an event).
//
// Access is re-checked every second and before each delivery: the caller's credential is
// authenticated again (revoked, expired, user suspended) and their events:read in the
// organization read afresh. The events are read first and the check made after, so an event
// committed after access was lost is never delivered; the stream ends with the refusal instead.
import { Repeater } from "@repeaterjs/repeater";
import type { Viewer } from "../auth/authenticate.js";
import { Policy } from "../auth/policy.js";
import { AppError } from "../core/errors.js";
import type { EventAction } from "../core/events.js";
import type { Database } from "../db/client.js";
import { columnsOf, selectList } from "../db/queries/columns.js";
import { cursorExpired, expiredAfter, revisionAfter } from "../db/queries/event-pages.js";
import { EVENTS_CHANNEL } from "../domain/audit.js";
import type { MembershipEvent } from "../generated/prisma/client.js";
import type { Logger } from "../logger.js";

/** What a stream needs of the subscriber's request context (graphql/context.ts, which imports this file). */
interface Subscriber {
  viewer: Viewer | null;
  requestId: string;
  policy: Pick<Policy, "can" | "forget">;
  reauthenticate(): Promise<Viewer | null>;
}

/** How often a stream re-checks access and, without a notification, looks for events anyway. */
const RECHECK_MS = 1_000;
/** Events read per statement while a stream catches up. */
const BATCH = 100;

export interface EventHub {
  /** A stream's wake-up: resolves on a notification for the organization, after `ms`, or when the hub closes. */
  wait(organizationId: string, ms: number): { promise: Promise<void>; cancel(): void };
  /** Starts listening (once); streams poll until it has. */
  start(): void;
  readonly closing: boolean;
  /** Open streams per user (MAX_SUBSCRIPTIONS_PER_USER). */
  open(userId: string): () => void;
  openCount(userId: string): number;
  /** Ends every stream (SERVICE_UNAVAILABLE: reconnect elsewhere with the last cursor) and stops listening. */
  close(): Promise<void>;
}

export function createEventHub(db: Pick<Database, "listen">, logger: Logger): EventHub {
  const waiters = new Map<string, Set<() => void>>();
  const everyone = new Set<() => void>();
  const perUser = new Map<string, number>();
  let stopListening: Promise<() => Promise<void>> | null = null;
  let closing = false;
  const wakeAll = () => {
    for (const set of waiters.values()) for (const wake of [...set]) wake();
  };
  return {
    get closing() {
      return closing;
    },
    start() {
      if (stopListening || closing) return;
      stopListening = db
        .listen(
          EVENTS_CHANNEL,
          (payload) => {
            const organizationId = payload.split(":")[0]!;
            for (const wake of [...(waiters.get(organizationId) ?? [])]) wake();
          },
          // Listening (again): what was sent meanwhile is lost, so every stream looks now.
          wakeAll,
        )
        .catch((error: unknown) => {
          logger.warn({ err: error }, "could not LISTEN for change-feed notifications; subscriptions poll every second");
          return async () => {};
        });
    },
    wait(organizationId, ms) {
      let wake!: () => void;
      let timer: NodeJS.Timeout | undefined;
      const promise = new Promise<void>((resolve) => {
        wake = () => {
          clearTimeout(timer);
          waiters.get(organizationId)?.delete(wake);
          everyone.delete(wake);
          resolve();
        };
      });
      if (closing) wake();
      else {
        let set = waiters.get(organizationId);
        if (!set) waiters.set(organizationId, (set = new Set()));
        set.add(wake);
        everyone.add(wake);
        timer = setTimeout(wake, ms);
      }
      return {
        promise,
        cancel: () => {
          wake();
          if (waiters.get(organizationId)?.size === 0) waiters.delete(organizationId);
        },
      };
    },
    open(userId) {
      perUser.set(userId, (perUser.get(userId) ?? 0) + 1);
      let closed = false;
      return () => {
        if (closed) return;
        closed = true;
        const left = (perUser.get(userId) ?? 1) - 1;
        if (left > 0) perUser.set(userId, left);
        else perUser.delete(userId);
      };
    },
    openCount: (userId) => perUser.get(userId) ?? 0,
    async close() {
      closing = true;
      for (const wake of [...everyone]) wake();
      const stop = await stopListening;
      await stop?.();
    },
  };
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
}

async function readEvents(db: Pick<Database, "query">, organizationId: string, after: number, actions: EventAction[] | null): Promise<Snapshot | null> {
  const rows = await db.query<EventRow>(READ_EVENTS, [organizationId, after, BATCH, actions]);
  if (rows.length === 0) return null;
  const events: MembershipEvent[] = [];
  for (const { o_latest: _latest, o_oldest: _oldest, ...event } of rows) if (event.id !== null) events.push(event);
  return { latest: Number(rows[0]!.o_latest), oldest: rows[0]!.o_oldest === null ? null : Number(rows[0]!.o_oldest), events };
}

export interface StreamDeps {
  db: Pick<Database, "prisma" | "query">;
  hub: EventHub;
  maxPerUser: number;
}

export interface StreamInput {
  organizationId: string;
  after: string | null | undefined;
  actions: EventAction[] | null;
}

const forbidden = () => new AppError("FORBIDDEN", "You no longer hold events:read in this organization; the stream has ended");

/** Whether the caller may still read the feed: their credential again, then their standing afresh. */
async function stillAllowed(deps: StreamDeps, context: Subscriber, organizationId: string): Promise<AppError | null> {
  let viewer: Viewer | null;
  try {
    viewer = await context.reauthenticate();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  if (!viewer || viewer.user.id !== context.viewer?.user.id) return new AppError("UNAUTHENTICATED", "Sign in again: the stream's credential no longer signs you in");
  const policy = new Policy(deps.db, viewer, context.requestId);
  return (await policy.can(organizationId, "events:read")) ? null : forbidden();
}

/**
 * The stream of one subscription: checked and positioned before it starts (UNAUTHENTICATED,
 * FORBIDDEN, BAD_USER_INPUT for a cursor, CURSOR_EXPIRED), then the events after the cursor (or
 * from now), live, each once, in revision order; it ends with an AppError as its last item when
 * access is lost or the server shuts down.
 */
export async function membershipEventStream(deps: StreamDeps, context: Subscriber, input: StreamInput): Promise<AsyncIterable<MembershipEvent | Error>> {
  const { hub, db } = deps;
  const viewer = context.viewer;
  if (!viewer) throw new AppError("UNAUTHENTICATED", "Sign in first: send an Authorization: Bearer <token> header (WebSocket: connectionParams.authorization)");
  const { organizationId } = input;
  if (!(await context.policy.can(organizationId, "events:read"))) throw new AppError("FORBIDDEN", "Reading this organization's events needs events:read");
  const start = revisionAfter(input.after, organizationId);
  const first = await readEvents(db, organizationId, start, input.actions);
  if (!first) throw new AppError("FORBIDDEN", "Reading this organization's events needs events:read");
  if (input.after != null && expiredAfter(start, first.oldest, first.latest)) throw cursorExpired(start, first.oldest ?? first.latest + 1);
  if (hub.openCount(viewer.user.id) >= deps.maxPerUser) {
    throw new AppError("RATE_LIMITED", `At most ${deps.maxPerUser} subscriptions per user may be open on one server; close one first`, { limit: deps.maxPerUser });
  }
  const release = hub.open(viewer.user.id);
  hub.start();

  return new Repeater<MembershipEvent | Error>(async (push, stop) => {
    let ended = false;
    let waiting: { cancel(): void } | null = null;
    void stop.then(() => {
      ended = true;
      waiting?.cancel();
    });
    // Without a cursor: from the revision the organization has now.
    let last = input.after == null ? first.latest : start;
    let pending: MembershipEvent[] | null = input.after == null ? [] : first.events;
    let caughtUp = input.after == null || first.events.length < BATCH;
    if (input.after != null && caughtUp) last = Math.max(last, first.latest);
    try {
      while (!ended) {
        if (hub.closing) {
          await push(new AppError("SERVICE_UNAVAILABLE", "The server is shutting down; subscribe again with the last event's cursor as `after`"));
          break;
        }
        // The events first, then the check: nothing committed after a loss of access goes out.
        let events: MembershipEvent[] = [];
        if (pending) {
          events = pending;
          pending = null;
        } else {
          const snapshot = await readEvents(db, organizationId, last, input.actions);
          if (!snapshot) {
            await push(new AppError("NOT_FOUND", "The organization no longer exists; the stream has ended"));
            break;
          }
          events = snapshot.events;
          caughtUp = events.length < BATCH;
          // With a type filter, revisions in between are the other types': skip them.
          if (caughtUp) last = Math.max(last, snapshot.latest);
        }
        const refusal = await stillAllowed(deps, context, organizationId);
        if (refusal) {
          await push(refusal);
          break;
        }
        // Field resolvers (redaction, subjects) see the standing as it is now.
        if (events.length > 0) context.policy.forget();
        for (const event of events) {
          if (ended) break;
          await push(event);
          last = Math.max(last, event.revision);
        }
        if (!caughtUp || ended) continue;
        const wake = hub.wait(organizationId, RECHECK_MS);
        waiting = wake;
        await wake.promise;
        waiting = null;
      }
    } catch (error) {
      // e.g. the database went away: the stream ends with the (masked) error as its last result.
      if (!ended) await push(error instanceof Error ? error : new Error(String(error)));
    } finally {
      release();
      stop();
    }
  });
}
