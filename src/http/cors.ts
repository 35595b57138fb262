// Cross-origin access (CORS_ORIGINS) and the Vary header that keeps caches honest about it.
import type { Plugin } from "graphql-yoga";

/** CORS: exact origins from CORS_ORIGINS may call with credentials; "*" any origin without; otherwise no cross-origin access. */
export function corsOptions(origins: string[]) {
  if (origins.length === 0) return false as const;
  const allowAny = origins.includes("*");
  const allowed = new Set(origins);
  return (request: Request) => {
    const origin = request.headers.get("origin");
    if (!origin || (!allowAny && !allowed.has(origin))) return false as const;
    return {
      origin: [origin],
      credentials: !allowAny,
      // PATCH, PUT and DELETE for the REST routes, whose ETag a client sends back in If-Match.
      methods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      exposedHeaders: ["x-request-id", "retry-after", "etag"],
      maxAge: 600,
    };
  };
}

/** Responses differ by Origin when CORS is on: caches must keep them apart. */
export function varyOnOrigin(): Plugin {
  return {
    onResponse({ response }) {
      const vary = response.headers.get("vary");
      if (!vary) response.headers.set("vary", "Origin");
      else if (!/\borigin\b/i.test(vary)) response.headers.set("vary", `${vary}, Origin`);
    },
  };
}
