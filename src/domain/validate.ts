// Input rules shared by every mutation path (GraphQL, CLI, seed). Each throws BAD_USER_INPUT
// naming the field, so a client can show the message next to the right input.
import type { Prisma } from "../generated/prisma/client.js";
import { invalid } from "../core/errors.js";
import { unstorableIn, unstorableText } from "../core/text.js";

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$/;

/** The form every email is stored and compared in: trimmed and lower-cased (case-insensitive). */
export const canonicalEmail = (email: string): string => email.trim().toLowerCase();

/** An email in its canonical form, refused (BAD_USER_INPUT naming `field`) when it isn't an address. */
export function normalizeEmail(email: string, field = "email"): string {
  const value = canonicalEmail(email);
  if (value.length > 254 || !EMAIL_PATTERN.test(value)) throw invalid(field, `"${email}" is not a valid email address`);
  return value;
}


export function requireText(value: string, field: string, { min = 1, max }: { min?: number; max: number }): string {
  const problem = unstorableText(value);
  if (problem) throw invalid(field, problem);
  const text = value.trim();
  if (text.length < min) throw invalid(field, `${field} must not be empty`);
  if (text.length > max) throw invalid(field, `${field} must be at most ${max} characters (got ${text.length})`);
  return text;
}

export function optionalText(value: string | null | undefined, field: string, max: number): string | null | undefined {
  if (value === undefined || value === null) return value;
  const text = value.trim();
  if (text === "") return null;
  return requireText(text, field, { max });
}

export function validateSlug(slug: string, field = "slug"): string {
  const value = slug.trim();
  if (value.length < 2 || !SLUG_PATTERN.test(value)) {
    throw invalid(field, `slug must be 2-48 characters of lower-case letters, digits and dashes, not starting or ending with a dash (got "${slug}")`);
  }
  return value;
}

/** A slug made from a display name: "Acme, Inc." → "acme-inc". */
export function slugify(name: string): string {
  const base = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/g, "");
  return base.length >= 2 ? base : `org-${base}`.replace(/-+$/, "").padEnd(5, "0");
}

let timeZones: Set<string> | undefined;

export function validateTimeZone(value: string, field = "timezone"): string {
  timeZones ??= new Set(Intl.supportedValuesOf("timeZone").concat("UTC"));
  if (!timeZones.has(value)) {
    try {
      // Accept aliases Intl knows but does not list (e.g. "Etc/GMT+1").
      new Intl.DateTimeFormat("en", { timeZone: value });
    } catch {
      throw invalid(field, `"${value}" is not an IANA time zone (e.g. "Europe/Berlin")`);
    }
  }
  return value;
}

const MAX_METADATA_BYTES = 8 * 1024;

/** Metadata is a JSON object of at most 8 KB (serialised), so one member can't bloat every page. */
export function validateMetadata(value: unknown, field: string): Prisma.InputJsonObject {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw invalid(field, `${field} must be a JSON object`);
  if (depthOf(value) > MAX_METADATA_DEPTH) throw invalid(field, `${field} nests deeper than ${MAX_METADATA_DEPTH} levels`);
  const problem = unstorableIn(value);
  if (problem) throw invalid(field, problem);
  const size = Buffer.byteLength(JSON.stringify(value), "utf8");
  if (size > MAX_METADATA_BYTES) throw invalid(field, `${field} is ${size} bytes; at most ${MAX_METADATA_BYTES} are allowed`);
  return value as Prisma.InputJsonObject;
}

const MAX_METADATA_DEPTH = 10;

/** Nesting depth of a JSON value, stopping as soon as it passes the limit (so a deep bomb costs little). */
function depthOf(value: unknown, depth = 0): number {
  if (depth > MAX_METADATA_DEPTH || value === null || typeof value !== "object") return depth;
  let deepest = depth + 1;
  for (const child of Object.values(value as Record<string, unknown>)) {
    deepest = Math.max(deepest, depthOf(child, depth + 1));
    if (deepest > MAX_METADATA_DEPTH) break;
  }
  return deepest;
}

/** An absolute https URL of at most 2048 characters (profile pictures: never http, data: or javascript:). */
export function validateHttpsUrl(value: string, field: string): string {
  const text = value.trim();
  let url: URL | null = null;
  try {
    url = new URL(text);
  } catch {
    url = null;
  }
  if (!url || url.protocol !== "https:" || text.length > 2048 || !url.hostname) {
    throw invalid(field, `${field} must be an https:// URL of at most 2048 characters`);
  }
  return text;
}
