// What a REST route is: a method and a path under its profile's base path, how its path, query
// and body are validated (JSON Schema 2020-12, which OpenAPI 3.1 uses as it is), and a handler
// that runs trusted GraphQL documents through the same Yoga instance with the caller's
// credentials and shapes the answer as the replaced API did. One table per profile
// (profiles/*.ts) feeds the router (handler.ts) and the OpenAPI document (openapi.ts) alike.
import { createHash } from "node:crypto";
import { decodeGlobalID } from "@pothos/plugin-relay";

/** A JSON Schema (2020-12) object, as OpenAPI 3.1 takes it. */
export type Schema = Record<string, unknown>;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** A GraphQL document a route runs; its SHA-256 is its trusted-document id. */
export interface Document {
  readonly source: string;
  readonly id: string;
}

export const graphqlDocument = (source: string): Document => ({ source, id: createHash("sha256").update(source, "utf8").digest("hex") });

/** What a handler gets: the validated path, query and body, and the request's headers. */
interface RouteInput {
  path: Record<string, string>;
  query: Record<string, string | number | undefined>;
  body: Record<string, unknown>;
  headers: Headers;
}

/** Runs a document with variables; resolves with its data, or throws a RestError mapped from the first GraphQL error. */
export type Run = (document: Document, variables: Record<string, unknown>) => Promise<Record<string, any>>;

/** A handler's answer: the body (null for 204) and any headers (ETag). */
interface RouteResult {
  body: Json;
  headers?: Record<string, string>;
}

export interface Route {
  method: Method;
  /** Under the profile's base path, with `{name}` path parameters. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  /** Each path parameter's schema. */
  params: Record<string, Schema & { description?: string }>;
  /** Query parameters, each a string or integer schema; optional unless named in requiredQuery. */
  query?: Record<string, Schema & { description?: string }>;
  requiredQuery?: string[];
  /** The JSON body's schema (an object; unknown fields are refused). */
  body?: Schema;
  /** Headers the route reads, for the OpenAPI document (Idempotency-Key, If-Match). */
  headers?: Record<string, { description: string; schema: Schema }>;
  status: 200 | 201 | 204;
  /** The success body's schema (none for 204). */
  response?: Schema;
  /** GraphQL input field names as this API spells them, for BAD_USER_INPUT's `field` (roleId → role_id). */
  fields?: Record<string, string>;
  /** The error statuses it documents besides 401, 413, 429 and 500. */
  errors: number[];
  /** The documents it may run (they are trusted documents too). */
  documents: Document[];
  /** Answers the request (body null for 204), or throws a RestError. */
  handle(input: RouteInput, run: Run): Promise<RouteResult>;
}

export interface Profile {
  /** Its name in REST_PROFILES and its base path: /compat/<name>. */
  name: string;
  title: string;
  description: string;
  /** Reusable schemas (OpenAPI components.schemas), referenced as { $ref: "#/components/schemas/<Name>" }. */
  schemas: Record<string, Schema>;
  routes: Route[];
}

/** An error a route answers with: an HTTP status and { error: { code, message, field } }. */
export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

/** An RFC 4122 UUID, as the replaced APIs take their ids. */
export const uuid: Schema = { type: "string", format: "uuid" };

/** A timestamp as the replaced APIs wrote them: seconds, UTC ("2023-11-07T05:31:56Z"). */
export const timestamp = (iso: string | null | undefined): string | null => (iso ? iso.replace(/\.\d{3}Z$/, "Z") : null);

/** The database id inside a GraphQL global ID, as the replaced APIs show ids. */
export const rawId = (id: string | null | undefined): string | null => (id ? decodeGlobalID(id).id : null);
