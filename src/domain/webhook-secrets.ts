// Signing secrets at rest: the worker must sign with them, so they can't be kept as hashes; they
// are encrypted with AES-256-GCM under WEBHOOK_SECRET_KEY. Each ciphertext names its key (the
// first bytes of the key's SHA-256), so several keys can be configured while rotating: the first
// encrypts, every one decrypts. The embedded database, without a configured key, keeps one of its
// own in its data folder (made on first start), so webhooks work on a bare `npm start`.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { AppError } from "../core/errors.js";

const VERSION = "v1";

const keyId = (key: Buffer) => createHash("sha256").update(key).digest("hex").slice(0, 8);

export class WebhookSecretBox {
  private readonly byId: Map<string, Buffer>;
  constructor(private readonly keys: readonly Buffer[]) {
    this.byId = new Map(keys.map((key) => [keyId(key), key]));
  }

  get configured(): boolean {
    return this.keys.length > 0;
  }

  private firstKey(): Buffer {
    const key = this.keys[0];
    if (!key) {
      throw new AppError("NOT_CONFIGURED", "Webhooks need WEBHOOK_SECRET_KEY (the base64 of 32 random bytes, e.g. `openssl rand -base64 32`) to keep signing secrets encrypted; ask the operator to set it");
    }
    return key;
  }

  seal(secret: string): string {
    const key = this.firstKey();
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    const sealed = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
    return [VERSION, keyId(key), iv.toString("base64"), cipher.getAuthTag().toString("base64"), sealed.toString("base64")].join(":");
  }

  /** The secret, or an Error saying why it can't be read (a key no longer configured, a changed row). */
  open(sealed: string): string {
    const [version, id, iv, tag, data] = sealed.split(":");
    if (version !== VERSION || !id || !iv || !tag || !data) throw new Error("the stored signing secret is not in a known format");
    const key = this.byId.get(id);
    if (!key) throw new Error(`the signing secret was encrypted with a key that is not in WEBHOOK_SECRET_KEY (key id ${id})`);
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64"));
    decipher.setAuthTag(Buffer.from(tag, "base64"));
    return Buffer.concat([decipher.update(Buffer.from(data, "base64")), decipher.final()]).toString("utf8");
  }
}

const KEY_FILE = "webhook-secret.key";

/**
 * For the embedded database with no WEBHOOK_SECRET_KEY: its own key (embeddedWebhookKey) becomes
 * the configured one. Call before anything reads the webhook settings. Returns whether it did.
 */
export function useEmbeddedWebhookKey(config: { dataDir: string; webhooks: { secretKeys: Buffer[] } }, kind: "embedded" | "postgresql"): boolean {
  if (kind !== "embedded" || config.webhooks.secretKeys.length > 0) return false;
  const key = embeddedWebhookKey(config.dataDir);
  if (key) config.webhooks.secretKeys.push(key);
  return key !== null;
}

/**
 * The embedded database's own key, in its data folder (readable by the owner only): read, or made
 * on first use. Null for an in-memory database (tests configure a key).
 */
function embeddedWebhookKey(dataDir: string): Buffer | null {
  if (!dataDir) return null;
  const file = path.join(dataDir, KEY_FILE);
  try {
    return Buffer.from(fs.readFileSync(file, "utf8").trim(), "base64");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  fs.writeFileSync(file, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  return key;
}
