// Webhook signing secrets and signatures, per the Standard Webhooks specification
// (https://www.standardwebhooks.com): a secret is `whsec_` + base64 of 32 random bytes, and a
// delivery carries `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one
// signature per secret in use, separated by spaces.
import { createHmac, randomBytes } from "node:crypto";

const SECRET_PREFIX = "whsec_";
export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString("base64")}`;
}

/** The signature of one delivery attempt under one secret (its key: the base64 after the prefix). */
function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestampSeconds}.${body}`).digest("base64")}`;
}

/** The webhook-signature header: a signature per secret (the new one first after a rotation). */
export const signatureHeader = (secrets: readonly string[], id: string, timestampSeconds: number, body: string) =>
  secrets.map((secret) => signWebhook(secret, id, timestampSeconds, body)).join(" ");
