// Personal access tokens: `pat_` + 32 random bytes (base64url). Only the SHA-256 of the whole
// token is stored; the token is shown once, when it is made.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

const TOKEN_PREFIX = "pat_";
const TOKEN_PATTERN = /^pat_[A-Za-z0-9_-]{43}$/;

export interface NewSecret {
  token: string;
  hash: string;
  /** What lists may show to tell tokens apart: `pat_` and the first 8 secret characters. */
  displayPrefix: string;
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

export function newSecret(prefix = TOKEN_PREFIX): NewSecret {
  const token = `${prefix}${randomBytes(32).toString("base64url")}`;
  return { token, hash: hashSecret(token), displayPrefix: token.slice(0, prefix.length + 8) };
}

export function looksLikeToken(value: string): boolean {
  return TOKEN_PATTERN.test(value);
}

/** Constant-time comparison of two hex hashes of equal length. */
export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === right.length && timingSafeEqual(left, right);
}
