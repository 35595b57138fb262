// GraphQL over WebSocket (the graphql-ws protocol, "graphql-transport-ws") on /graphql. Every
// operation a socket sends is handed to the app as a GraphQL-over-SSE request (yoga.fetch, in
// process), so the WebSocket path runs exactly the plugins, limits, trusted documents, rate
// limits, authentication and logs of an HTTP request: there is one pipeline, not two. The
// credential is `connectionParams.authorization` ("Bearer <token>") or, failing that, the upgrade
// request's Authorization header.
import type http from "node:http";
import { Repeater } from "@repeaterjs/repeater";
import { buildSchema, parse, type ExecutionResult } from "graphql";
import type { SubscribePayload } from "graphql-ws";
import { useServer, type Extra } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import type { Logger } from "../logger.js";

type Fetch = (request: Request, serverContext: Record<string, unknown>) => Response | Promise<Response>;

interface Bridged {
  payload: SubscribePayload;
  extra: Extra;
  authorization: string | null;
}

// graphql-ws wants a document it can classify; the real one travels to the app untouched (it may
// be a trusted document's hash with no text at all). As a "query", graphql-ws hands it to
// `execute`, which may return a stream: the app's answer decides.
const PLACEHOLDER_SCHEMA = buildSchema("type Query { bridged: Boolean }");
const PLACEHOLDER_DOCUMENT = parse("{ bridged }");

/** Headers of the upgrade request that the app reads as it would on an HTTP request. */
const FORWARDED = ["x-forwarded-for", "x-request-id", "user-agent", "origin"];

/** The events of a text/event-stream body: each `next` result, until `complete`. */
async function* sseResults(reader: ReadableStreamDefaultReader<Uint8Array>): AsyncGenerator<ExecutionResult> {
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value: chunk, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (event === "complete") return;
      if (event === "next" && data.length > 0) yield JSON.parse(data.join("\n")) as ExecutionResult;
    }
  }
}

/**
 * graphql-ws sends each error's toJSON() (it expects GraphQLError objects): give the app's
 * already-serialized errors one that returns them exactly as the app wrote them.
 */
function asSendable(result: ExecutionResult): ExecutionResult {
  if (!result.errors) return result;
  return { ...result, errors: result.errors.map((error) => ({ ...error, toJSON: () => error })) as unknown as ExecutionResult["errors"] };
}

function bridge(fetch: Fetch, { payload, extra, authorization }: Bridged): AsyncIterable<ExecutionResult> {
  return new Repeater<ExecutionResult>(async (push, stop) => {
    const controller = new AbortController();
    let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
    let response: Response | null = null;
    let stopped = false;
    // The client completed or went away: cancelling the body is what ends the app's stream (also
    // when it goes while the app is still setting the stream up).
    void stop.then(() => {
      stopped = true;
      controller.abort();
      void (reader ? reader.cancel() : response?.body?.cancel())?.catch(() => {});
    });
    const headers = new Headers({ "content-type": "application/json", accept: "text/event-stream" });
    if (authorization) headers.set("authorization", authorization);
    for (const name of FORWARDED) {
      const value = extra.request.headers[name];
      if (typeof value === "string") headers.set(name, value);
    }
    try {
      const { query, variables, operationName, extensions } = payload;
      response = await fetch(
        new Request("http://websocket.local/graphql", {
          method: "POST",
          headers,
          body: JSON.stringify({ query: query || undefined, variables, operationName, extensions }),
          signal: controller.signal,
        }),
        { req: extra.request },
      );
      if (stopped) {
        await response.body?.cancel().catch(() => {});
        return;
      }
      if (!response.headers.get("content-type")?.includes("text/event-stream") || !response.body) {
        // Refused before it ran (a limit, an untrusted document): the app's JSON answer.
        await push(asSendable((await response.json()) as ExecutionResult));
      } else {
        reader = response.body.getReader();
        for await (const result of sseResults(reader)) await push(asSendable(result));
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    } finally {
      controller.abort();
      stop();
    }
  });
}

export interface WebSockets {
  /** Closes every socket (1001, going away) and stops accepting new ones. */
  close(): Promise<void>;
}

/** Serves graphql-ws on `path` of the server, through the app's own fetch. */
export function attachWebSockets(server: http.Server, fetch: Fetch, logger: Logger, { maxPayload, path = "/graphql" }: { maxPayload: number; path?: string }): WebSockets {
  // No message larger than an HTTP body may be (MAX_BODY_BYTES): ws's own default is 100 MiB, parsed before any authentication.
  const sockets = new WebSocketServer({ server, path, maxPayload });
  sockets.on("error", (error) => logger.warn({ err: error }, "websocket server error"));
  const disposable = useServer<Record<string, unknown> | undefined>(
    {
      onSubscribe: (ctx, _id, payload) => {
        const given = ctx.connectionParams?.authorization;
        const authorization = typeof given === "string" ? given : (ctx.extra.request.headers.authorization ?? null);
        const bridged: Bridged = { payload, extra: ctx.extra, authorization };
        return { schema: PLACEHOLDER_SCHEMA, document: PLACEHOLDER_DOCUMENT, contextValue: bridged };
      },
      execute: (args) => bridge(fetch, args.contextValue as Bridged),
    },
    sockets,
  );
  return {
    async close() {
      for (const client of sockets.clients) client.close(1001, "server shutting down");
      await disposable.dispose();
      await new Promise<void>((resolve) => sockets.close(() => resolve()));
    },
  };
}
