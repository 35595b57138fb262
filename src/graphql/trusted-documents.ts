// Trusted documents (persisted operations) for production frontends: the build writes a
// manifest of the operations the app may send, keyed by their SHA-256; the client sends only
// the hash. TRUSTED_DOCUMENTS=require refuses any other document (PERSISTED_QUERY_ONLY), which
// takes the whole "arbitrary query" attack surface away; allow accepts both.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { usePersistedOperations } from "@graphql-yoga/plugin-persisted-operations";
import type { GraphQLParams, Plugin } from "graphql-yoga";
import { ConfigError, type TrustedDocumentsConfig } from "../config.js";

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

/**
 * Reads a manifest: GraphQL Code Generator's client preset (`{ "<sha256>": "<document>" }`) or
 * Apollo's persisted query manifest (`{ format: "apollo-persisted-query-manifest", operations:
 * [{ id, body }] }`). Every id must be the SHA-256 of its document.
 */
export function loadManifest(file: string): Map<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new ConfigError(`TRUSTED_DOCUMENTS_FILE: can't read ${file} as JSON (${(error as Error).message})`);
  }
  const entries: [string, string][] = [];
  if (parsed && typeof parsed === "object" && (parsed as { format?: unknown }).format === "apollo-persisted-query-manifest") {
    for (const operation of (parsed as { operations?: { id?: unknown; body?: unknown }[] }).operations ?? []) {
      if (typeof operation.id !== "string" || typeof operation.body !== "string") throw new ConfigError(`TRUSTED_DOCUMENTS_FILE: an operation without id or body in ${file}`);
      entries.push([operation.id, operation.body]);
    }
  } else if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
    for (const [id, body] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof body !== "string") throw new ConfigError(`TRUSTED_DOCUMENTS_FILE: the entry ${id} is not a document string`);
      entries.push([id.replace(/^sha256:/, ""), body]);
    }
  } else {
    throw new ConfigError(`TRUSTED_DOCUMENTS_FILE: ${file} is neither a { hash: document } map nor an Apollo persisted query manifest`);
  }
  for (const [id, body] of entries) {
    if (sha256(body) !== id) throw new ConfigError(`TRUSTED_DOCUMENTS_FILE: ${id} is not the SHA-256 of its document`);
  }
  return new Map(entries);
}

/** `documentId` (GraphQL over HTTP, optionally "sha256:<hash>") or Apollo's `extensions.persistedQuery.sha256Hash`. */
function documentId(params: GraphQLParams): string | null {
  const direct = (params as GraphQLParams & { documentId?: unknown }).documentId;
  if (typeof direct === "string") return direct.replace(/^sha256:/, "");
  const hash = (params.extensions?.persistedQuery as { sha256Hash?: unknown } | undefined)?.sha256Hash;
  return typeof hash === "string" ? hash : null;
}

/** Documents the server itself sends (the REST routes'): trusted beside the manifest's, only on the requests it makes itself. */
export interface BuiltInDocuments {
  documents: ReadonlyMap<string, string>;
  sentBy: (request: Request) => boolean;
}

export function trustedDocuments(config: TrustedDocumentsConfig, builtIn?: BuiltInDocuments): Plugin[] {
  if (config.mode === "off") return [];
  const manifest = loadManifest(config.file!);
  return [
    usePersistedOperations({
      getPersistedOperation: (key, request) => manifest.get(key) ?? (builtIn?.sentBy(request) ? builtIn.documents.get(key) : undefined) ?? null,
      allowArbitraryOperations: config.mode === "allow",
      extractPersistedOperationId: documentId,
      customErrors: {
        notFound: { message: "Unknown document id: it is not in this server's trusted documents", extensions: { code: "PERSISTED_QUERY_NOT_FOUND", http: { status: 400 } } },
        persistedQueryOnly: { message: "This server only runs trusted documents: send documentId instead of query", extensions: { code: "PERSISTED_QUERY_ONLY", http: { status: 400 } } },
        keyNotFound: { message: "Send documentId (or extensions.persistedQuery.sha256Hash)", extensions: { code: "PERSISTED_QUERY_NOT_FOUND", http: { status: 400 } } },
      },
    }) as Plugin,
  ];
}
