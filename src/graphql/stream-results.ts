// A subscription event's result, computed once for all the streams that would get the same one.
// A thousand streams of one organization otherwise execute every event a thousand times, and
// serialize it as often. Streams share a result only when all of this is the same:
// - the credential, signing in the same viewer (user row, addresses);
// - the standing their fields see: checked in the same batch, after the event was read
//   (event-streams.ts sets each stream's shareKey with the standing);
// - the document, the operation and the variables.
// A stream whose answer would differ in anything computes its own. Only results without errors
// are shared (an error carries the request's id), and each is serialized once for SSE.
//
// The spec's MapSourceToResponseEvent is kept: each event of the stream the subscribe resolver
// returned is executed with the event as the root value, as Yoga's executor does per stream.
import { createHash } from "node:crypto";
import { execute } from "@graphql-tools/executor";
import type { ExecutionArgs, ExecutionResult } from "graphql";
import { isAsyncIterable, type Plugin } from "graphql-yoga";
import { streamOf, type EventHub } from "./event-streams.js";

/** A result with its JSON: Yoga's SSE writer calls `stringify` instead of JSON.stringify. */
type SharedResult = ExecutionResult & { stringify?: (result: ExecutionResult) => string };

function withOneSerialization(result: SharedResult): SharedResult {
  let json: string | undefined;
  Object.defineProperty(result, "stringify", {
    enumerable: false,
    value: (value: ExecutionResult) => (value === result ? (json ??= JSON.stringify(result)) : JSON.stringify(value)),
  });
  return result;
}

export function sharedStreamResults(hub: Pick<EventHub, "stats" | "shared" | "objectId">): Plugin {
  const counted = (shared: boolean) => {
    for (const listener of hub.stats.onResult) listener(shared);
  };

  return {
    onSubscribe({ subscribeFn, setSubscribeFn }) {
      setSubscribeFn(async (args: ExecutionArgs) => {
        const mapped = await subscribeFn(args);
        const stream = streamOf(args.contextValue as object);
        if (!stream || !isAsyncIterable(mapped)) return mapped;
        // What the answer depends on besides the event and the stream's standing (hashed: the
        // variables may be large, and the key is kept per event).
        const operation = createHash("sha256")
          .update(`${hub.objectId(args.document)}:${args.operationName ?? ""}:${JSON.stringify(args.variableValues ?? {})}`)
          .digest("base64url");
        const executeFor = (event: unknown) => Promise.resolve(execute({ ...args, rootValue: event }) as SharedResult | Promise<SharedResult>);
        const resultOf = async (event: unknown): Promise<SharedResult> => {
          const key = stream.shareKey === null || event instanceof Error ? null : `result:${stream.shareKey}\u0000${operation}\u0000${(event as { id: string }).id}`;
          if (key === null) {
            counted(false);
            return executeFor(event);
          }
          // Shared from the moment it starts (the group's other streams ask while it runs), as
          // long as the hub keeps it; null when it had errors: each stream then computes its own.
          let own: Promise<SharedResult> | null = null;
          const shared = await hub.shared.run(key, -Infinity, () => {
            own = executeFor(event);
            return own.then(
              (result) => {
                if ("initialResult" in result) throw new Error("incremental delivery is not served for subscriptions");
                return result.errors?.length ? null : withOneSerialization(result);
              },
              () => null,
            );
          });
          counted(shared !== null && own === null);
          return shared ?? (await (own ?? executeFor(event)));
        };
        const events = mapped[Symbol.asyncIterator]();
        const iterator: AsyncIterableIterator<SharedResult> = {
          async next() {
            const item = await stream.next();
            if (item.done) return item;
            try {
              return { value: await resultOf(item.value), done: false };
            } catch (error) {
              // As Yoga's own mapping does: a failure ends the stream (and gives its slot back).
              await events.return?.();
              throw error;
            }
          },
          // Ending it ends what Yoga's executor made of the stream (and so the stream itself).
          return: async () => {
            await events.return?.();
            return { value: undefined, done: true };
          },
          [Symbol.asyncIterator]() {
            return this;
          },
        };
        return iterator;
      });
    },
  };
}
