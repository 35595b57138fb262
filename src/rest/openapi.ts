// A profile's OpenAPI 3.1 document, made from its route table (routes.ts): paths, parameters,
// request and response schemas, and the error body every route answers with.
import type { Profile, Schema } from "./route.js";

const ERROR_SCHEMA: Schema = {
  type: "object",
  description: "Every error: a stable code (the GraphQL API's error codes, plus the REST layer's own), a message, and the input field it is about",
  required: ["error"],
  additionalProperties: false,
  properties: {
    error: {
      type: "object",
      required: ["code", "message", "field"],
      additionalProperties: false,
      properties: {
        code: { type: "string", examples: ["BAD_USER_INPUT", "NOT_FOUND", "FORBIDDEN"] },
        message: { type: "string" },
        field: { type: ["string", "null"] },
      },
    },
  },
};

const ERROR_TEXT: Record<number, string> = {
  400: "Invalid input: malformed JSON, an unknown field, a wrong type, or a value the rules refuse (`field` names it)",
  401: "No valid credentials (UNAUTHENTICATED)",
  403: "Not allowed (FORBIDDEN): a missing permission, or a role above your own",
  404: "Not found, or not visible to you (NOT_FOUND: the same answer either way)",
  405: "Not a method of this path (METHOD_NOT_ALLOWED)",
  409: "Conflicts with the current state (CONFLICT, LAST_OWNER)",
  412: "If-Match names an older version (STALE_VERSION)",
  413: "The body is over MAX_BODY_BYTES (PAYLOAD_TOO_LARGE)",
  415: "The body is not application/json (UNSUPPORTED_MEDIA_TYPE)",
  429: "Rate limited (RATE_LIMITED): retry after Retry-After seconds",
  500: "Unexpected failure (INTERNAL_SERVER_ERROR), with x-request-id for the logs",
  503: "The database is unavailable (SERVICE_UNAVAILABLE): retry after Retry-After seconds",
};

const ALWAYS = [401, 429, 500, 503];

export function openApiDocument(profile: Profile): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of profile.routes) {
    const statuses = [...new Set([...route.errors, ...ALWAYS, ...(route.body ? [400, 413, 415] : [])])].sort();
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      parameters: [
        ...Object.entries(route.params).map(([name, { description, ...schema }]) => ({ name, in: "path", required: true, ...(description ? { description } : {}), schema })),
        ...Object.entries(route.query ?? {}).map(([name, { description, ...schema }]) => ({
          name,
          in: "query",
          required: route.requiredQuery?.includes(name) ?? false,
          ...(description ? { description } : {}),
          schema,
        })),
        ...Object.entries(route.headers ?? {}).map(([name, { description, schema }]) => ({ name, in: "header", required: false, description, schema })),
      ],
      ...(route.body ? { requestBody: { required: true, content: { "application/json": { schema: route.body } } } } : {}),
      responses: {
        [String(route.status)]: route.response
          ? { description: "Success", content: { "application/json": { schema: route.response } } }
          : { description: "Done: no content" },
        ...Object.fromEntries(statuses.map((status) => [String(status), { $ref: `#/components/responses/E${status}` }])),
      },
    };
  }
  const used = new Set(profile.routes.flatMap((route) => [...route.errors, ...ALWAYS, ...(route.body ? [400, 413, 415] : [])]));
  return {
    openapi: "3.1.0",
    info: { title: profile.title, version: "1.0.0", description: profile.description },
    servers: [{ url: `/compat/${profile.name}` }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "A personal access token (npm run cli -- create-token, or createApiToken) or a JWT from the configured identity provider" } },
      schemas: { ...profile.schemas, Error: ERROR_SCHEMA },
      responses: Object.fromEntries(
        [...used].sort().map((status) => [`E${status}`, { description: ERROR_TEXT[status] ?? "Error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } }]),
      ),
    },
  };
}
