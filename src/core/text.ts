// What every layer checks text and ids against: the UUID form every id has, the id that matches
// no row, and the text PostgreSQL can't store.

/** Every id of the service is a UUID (v7). */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A well-formed UUID no row has: where a filter must match nothing, or an id is not a UUID at all. */
export const NO_ROW = "00000000-0000-0000-0000-000000000000";

// Half of a surrogate pair without its other half (code units, so no `u` flag).
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why PostgreSQL can't store this text, or null: it refuses the NUL character, and a lone UTF-16
 * surrogate is not Unicode at all (jsonb refuses it, and as text it can't round-trip).
 */
export function unstorableText(text: string): string | null {
  if (text.includes("\u0000")) return "Text may not contain the NUL character (\\u0000)";
  if (LONE_SURROGATE.test(text)) return "Text may not contain unpaired UTF-16 surrogates";
  return null;
}

/** The first unstorableText() problem in any key or string of a JSON-ish value (an explicit stack: any depth is safe). */
export function unstorableIn(value: unknown): string | null {
  const stack = [value];
  while (stack.length > 0) {
    const next = stack.pop();
    if (typeof next === "string") {
      const problem = unstorableText(next);
      if (problem) return problem;
    } else if (next !== null && typeof next === "object") {
      for (const [key, child] of Object.entries(next as Record<string, unknown>)) {
        const problem = unstorableText(key);
        if (problem) return problem;
        stack.push(child);
      }
    }
  }
  return null;
}
