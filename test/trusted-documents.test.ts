// Trusted documents: with TRUSTED_DOCUMENTS=require only documents from the client build's
// manifest run (sent as documentId or Apollo's persistedQuery hash); allow accepts both.
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { loadManifest } from "../src/graphql/trusted-documents.js";
import { createTestApp, userWithToken, type TestApp, type TestUser } from "./helpers.js";

const VIEWER = "query Viewer { viewer { email } }";
const hash = createHash("sha256").update(VIEWER).digest("hex");
const dir = mkdtempSync(path.join(tmpdir(), "trusted-"));
const codegen = path.join(dir, "persisted-documents.json");
const apollo = path.join(dir, "apollo.json");
writeFileSync(codegen, JSON.stringify({ [hash]: VIEWER }));
writeFileSync(apollo, JSON.stringify({ format: "apollo-persisted-query-manifest", version: 1, operations: [{ id: hash, name: "Viewer", type: "query", body: VIEWER }] }));

let strict: TestApp;
let user: TestUser;

async function post(app: TestApp, body: unknown, token: string) {
  const response = await app.app.fetch("http://localhost/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { data?: any; errors?: { extensions?: { code?: string } }[] } };
}

beforeAll(async () => {
  strict = await createTestApp({ TRUSTED_DOCUMENTS: "require", TRUSTED_DOCUMENTS_FILE: codegen });
  user = await userWithToken(strict.db, "trusted@example.com");
});
afterAll(() => strict.close());

describe("TRUSTED_DOCUMENTS=require", () => {
  it("runs a manifest document by documentId or by Apollo's persistedQuery hash", async () => {
    expect((await post(strict, { documentId: `sha256:${hash}` }, user.token)).body.data).toEqual({ viewer: { email: "trusted@example.com" } });
    expect((await post(strict, { documentId: hash }, user.token)).body.data.viewer.email).toBe("trusted@example.com");
    expect((await post(strict, { extensions: { persistedQuery: { version: 1, sha256Hash: hash } } }, user.token)).body.data.viewer.email).toBe("trusted@example.com");
  });

  it("refuses any other document and unknown ids with their own codes", async () => {
    const arbitrary = await post(strict, { query: "{ viewer { email } }" }, user.token);
    expect(arbitrary.body.errors?.[0]?.extensions?.code).toBe("PERSISTED_QUERY_ONLY");
    expect(arbitrary.body.data ?? null).toBeNull();
    const unknown = await post(strict, { documentId: "0".repeat(64) }, user.token);
    expect(unknown.body.errors?.[0]?.extensions?.code).toBe("PERSISTED_QUERY_NOT_FOUND");
  });
});

describe("TRUSTED_DOCUMENTS=allow and the manifest", () => {
  it("accepts both trusted ids and ordinary documents; reads Apollo's manifest format", async () => {
    const open = await createTestApp({ TRUSTED_DOCUMENTS: "allow", TRUSTED_DOCUMENTS_FILE: apollo });
    try {
      const someone = await userWithToken(open.db, "open@example.com");
      expect((await post(open, { documentId: hash }, someone.token)).body.data.viewer.email).toBe("open@example.com");
      expect((await post(open, { query: "{ viewer { email } }" }, someone.token)).body.data.viewer.email).toBe("open@example.com");
    } finally {
      await open.close();
    }
  });

  it("refuses a manifest whose ids aren't the documents' hashes, and require without a file", () => {
    const forged = path.join(dir, "forged.json");
    writeFileSync(forged, JSON.stringify({ [hash]: "mutation { deleteOrganization(input: { organizationId: \"x\" }) { deletedOrganizationId } }" }));
    expect(() => loadManifest(forged)).toThrow(/not the SHA-256/);
    expect(() => loadConfig({ TRUSTED_DOCUMENTS: "require" })).toThrow(/TRUSTED_DOCUMENTS_FILE/);
    expect(() => loadConfig({ TRUSTED_DOCUMENTS: "sometimes" })).toThrow(/off, allow or require/);
  });
});
