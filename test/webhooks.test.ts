// Webhooks, end to end: endpoints registered through GraphQL, the worker delivering to a real
// receiver on 127.0.0.1, signatures verified with the `standardwebhooks` package as a receiver
// would, retries and their order, giving up and disabling, rotation, redelivery, two workers
// sharing the queue, URL rules at registration and at every delivery, and the permission and
// cross-organization checks on every webhook field and mutation.
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { pruneEvents, pruneWebhookDeliveries } from "../src/domain/events.js";
import { webhookSettings } from "../src/domain/webhooks.js";
import { isNonPublicAddress, parseWebhookUrl } from "../src/domain/webhook-urls.js";
import { createLogger } from "../src/logger.js";
import { createWebhookWorker, type WebhookWorker } from "../src/webhooks/worker.js";
import { startReceiver, type Receiver } from "./fixtures/webhook-receiver.js";
import { codes, createTestApp, globalId, orgWithPeople, reasons, userWithToken, type OrgFixture, type TestApp } from "./helpers.js";

const KEY = Buffer.alloc(32, 7).toString("base64");
const ENV = {
  WEBHOOK_SECRET_KEY: KEY,
  WEBHOOK_ALLOW_HTTP_HOSTS: "127.0.0.1",
  WEBHOOK_ALLOW_PRIVATE_HOSTS: "127.0.0.1",
  WEBHOOK_RETRY_SCHEDULE: "0,150ms,150ms,150ms",
  WEBHOOK_TIMEOUT_MS: "1000",
  WEBHOOK_POLL_MS: "100",
  RATE_LIMITS: "false",
};

const CREATE = `mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret webhookEndpoint { id url enabled eventTypes deliveredRevision description } } }`;
const UPDATE = `mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) { webhookEndpoint { id url eventTypes description } } }`;
const ROTATE = `mutation($input: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $input) { secret webhookEndpoint { previousSecretExpiresAt } } }`;
const DISABLE = `mutation($input: DisableWebhookEndpointInput!) { disableWebhookEndpoint(input: $input) { webhookEndpoint { enabled disabledReason } } }`;
const ENABLE = `mutation($input: EnableWebhookEndpointInput!) { enableWebhookEndpoint(input: $input) { skippedEvents webhookEndpoint { enabled } } }`;
const DELETE = `mutation($input: DeleteWebhookEndpointInput!) { deleteWebhookEndpoint(input: $input) { deletedWebhookEndpointId } }`;
const REDELIVER = `mutation($input: RedeliverWebhookInput!) { redeliverWebhook(input: $input) { delivery { id status redeliveryRequested } } }`;
const RENAME = `mutation($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { revision } }`;
const ENDPOINT = `query($id: ID!) { node(id: $id) { ... on WebhookEndpoint {
  id url enabled disabledReason failingSince deliveredRevision
  deliveries(first: 100) { totalCount edges { node { id webhookId revision action status attemptCount lastResponseStatus lastResponseBody lastError nextAttemptAt event { revision } } } } } } }`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(read: () => T | Promise<T>, ok: (value: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const began = Date.now();
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() - began > timeoutMs) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 2000)}`);
    await sleep(25);
  }
}

let t: TestApp;
let receiver: Receiver;
let worker: WebhookWorker;
const workers: WebhookWorker[] = [];
const silent = createLogger("silent");
let slugs = 0;

function startWorker(overrides: Partial<TestApp["config"]["webhooks"]> = {}): WebhookWorker {
  const config = { ...t.config.webhooks, ...overrides };
  const started = createWebhookWorker(t.db, { config, secrets: webhookSettings(t.config.webhooks).secrets, logger: silent });
  started.start();
  workers.push(started);
  return started;
}

/** A new organization, an endpoint of its owner at a path of its own, and helpers around both. */
async function setUp(input: Record<string, unknown> = {}) {
  const slug = `hooks-${++slugs}`;
  const fx = await orgWithPeople(t.db, slug);
  const path = `/${slug}`;
  const created = await t.gql(CREATE, { input: { organizationId: fx.orgGid, url: receiver.url(path), ...input } }, fx.owner.token);
  expect(created.errors).toBeUndefined();
  const { secret, webhookEndpoint } = created.data.createWebhookEndpoint;
  let n = 0;
  return {
    fx,
    path,
    secret: secret as string,
    endpointId: webhookEndpoint.id as string,
    received: () => receiver.at(path),
    /** A change to the organization; its revision. */
    async change(): Promise<number> {
      const result = await t.gql(RENAME, { input: { organizationId: fx.orgGid, name: `${slug} ${++n}` } }, fx.owner.token);
      expect(result.errors).toBeUndefined();
      return result.data.updateOrganization.revision;
    },
    async endpoint() {
      const result = await t.gql(ENDPOINT, { id: webhookEndpoint.id }, fx.owner.token);
      expect(result.errors).toBeUndefined();
      return result.data.node;
    },
  };
}

beforeAll(async () => {
  t = await createTestApp(ENV);
  receiver = await startReceiver();
  worker = startWorker();
});
afterAll(async () => {
  for (const started of workers) await started.close();
  await receiver?.close();
  await t?.close();
});

describe("registering an endpoint", () => {
  it("returns a Standard Webhooks secret once and keeps it encrypted, starting after the current revision", async () => {
    const hook = await setUp({ eventTypes: ["ORGANIZATION_UPDATED"], description: "CRM sync" });
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const row = await t.db.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: Buffer.from(hook.endpointId, "base64").toString().split(":")[1]! } });
    expect(row.secret).not.toContain(hook.secret.slice(6));
    expect(row.secret).toMatch(/^v1:[0-9a-f]{8}:/);
    const { revision } = await t.db.prisma.organization.findUniqueOrThrow({ where: { id: hook.fx.organization.id } });
    expect(row.deliveredRevision).toBe(revision);
    const read = await t.gql(`query($id: ID!) { node(id: $id) { ... on Organization { webhookEndpoints(first: 10) { totalCount edges { node { url eventTypes description enabled } } } } } }`, { id: hook.fx.orgGid }, hook.fx.owner.token);
    expect(read.data.node.webhookEndpoints).toEqual({ totalCount: 1, edges: [{ node: { url: receiver.url(hook.path), eventTypes: ["ORGANIZATION_UPDATED"], description: "CRM sync", enabled: true } }] });
    // Nothing before registration is sent: the organization's creation was revision 1.
    await hook.change();
    await until(hook.received, (list) => list.length === 1, "the first delivery");
    expect(hook.received()[0]!.json.revision).toBeGreaterThan(1);
  });

  it("audits every change without the secret or the URL's path and query (a receiver's own token may be in either)", async () => {
    const hook = await setUp();
    await t.gql(UPDATE, { input: { webhookEndpointId: hook.endpointId, url: `${receiver.url(hook.path)}?token=receiver-secret`, description: "x" } }, hook.fx.owner.token);
    await t.gql(ROTATE, { input: { webhookEndpointId: hook.endpointId } }, hook.fx.owner.token);
    await t.gql(DISABLE, { input: { webhookEndpointId: hook.endpointId } }, hook.fx.owner.token);
    await t.gql(ENABLE, { input: { webhookEndpointId: hook.endpointId } }, hook.fx.owner.token);
    await t.gql(DELETE, { input: { webhookEndpointId: hook.endpointId } }, hook.fx.owner.token);
    const audit = await t.db.prisma.auditEvent.findMany({ where: { organizationId: hook.fx.organization.id, targetType: "WebhookEndpoint" }, orderBy: { createdAt: "asc" } });
    expect(audit.map((event) => event.action)).toEqual([
      "webhook_endpoint.created",
      "webhook_endpoint.updated",
      "webhook_endpoint.secret_rotated",
      "webhook_endpoint.disabled",
      "webhook_endpoint.enabled",
      "webhook_endpoint.deleted",
    ]);
    const text = JSON.stringify(audit);
    expect(text).not.toContain(hook.secret.slice(6));
    expect(text).not.toContain("receiver-secret");
    expect(text).not.toContain(hook.path);
    const [created, updated] = audit;
    expect((created!.after as { url: string }).url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/… \(sha256:[0-9a-f]{12}\)$/);
    // Two URLs are still told apart.
    expect((updated!.after as { url: string }).url).not.toBe((updated!.before as { url: string }).url);
    // Configuration changes are not events of the feed (they would show URLs to every events:read holder).
    expect(await t.db.prisma.membershipEvent.count({ where: { organizationId: hook.fx.organization.id, action: { startsWith: "webhook" } } })).toBe(0);
  });

  it("refuses http:// (except WEBHOOK_ALLOW_HTTP_HOSTS), credentials in the URL, and non-URLs, naming the field", async () => {
    const fx = await orgWithPeople(t.db, `hooks-urls-${++slugs}`);
    for (const url of ["http://example.com/hook", "ftp://127.0.0.1/hook", "https://user:pass@127.0.0.1/hook", "not a url", "", `https://x.example/${"a".repeat(2000)}`]) {
      const result = await t.gql(CREATE, { input: { organizationId: fx.orgGid, url } }, fx.owner.token);
      expect(codes(result), url).toEqual(["BAD_USER_INPUT"]);
      expect(result.errors![0]!.extensions!.field, url).toBe("url");
    }
    expect(await t.db.prisma.webhookEndpoint.count({ where: { organizationId: fx.organization.id } })).toBe(0);
  });

  it("refuses an unknown event type and a description over 500 characters", async () => {
    const fx = await orgWithPeople(t.db, `hooks-input-${++slugs}`);
    const long = await t.gql(CREATE, { input: { organizationId: fx.orgGid, url: receiver.url("/x"), description: "d".repeat(501) } }, fx.owner.token);
    expect(codes(long)).toEqual(["BAD_USER_INPUT"]);
    const unknown = await t.gql(CREATE, { input: { organizationId: fx.orgGid, url: receiver.url("/x"), eventTypes: ["NOPE"] } }, fx.owner.token);
    expect(codes(unknown)).toEqual(["BAD_USER_INPUT"]);
  });
});

describe("delivery", () => {
  it("signs per Standard Webhooks: the standardwebhooks package verifies it, and the body has type, organizationId, revision, occurredAt, data", async () => {
    const hook = await setUp();
    const revision = await hook.change();
    const [delivery] = await until(hook.received, (list) => list.length === 1, "a delivery");
    const verified = new Webhook(hook.secret).verify(delivery!.body, delivery!.headers) as Received["json"];
    expect(verified).toEqual(delivery!.json);
    expect(Object.keys(delivery!.json).sort()).toEqual(["data", "occurredAt", "organizationId", "revision", "type"]);
    expect(delivery!.json).toMatchObject({ type: "organization.updated", organizationId: hook.fx.orgGid, revision });
    expect(delivery!.json.data).toMatchObject({ revision, type: "ORGANIZATION_UPDATED", action: "organization.updated", subjectType: "Organization", organizationId: hook.fx.orgGid });
    expect(delivery!.json.data.actor).toEqual({ id: globalId("User", hook.fx.owner.user.id), email: hook.fx.owner.user.email });
    expect(delivery!.id).toBe(delivery!.json.data.id);
    // The data is what the API shows of the same event.
    const feed = await t.gql(`query($id: ID!) { node(id: $id) { ... on Organization { events(first: 100) { edges { node { id revision cursor changes { before after } } } } } } }`, { id: hook.fx.orgGid }, hook.fx.owner.token);
    const event = feed.data.node.events.edges.map((edge: any) => edge.node).find((node: any) => node.revision === revision);
    expect(delivery!.json.data).toMatchObject({ id: event.id, cursor: event.cursor, changes: event.changes });
    // A wrong secret or a changed body doesn't verify.
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 1).toString("base64")}`).verify(delivery!.body, delivery!.headers)).toThrow();
    expect(() => new Webhook(hook.secret).verify(delivery!.body.replace("organization.updated", "organization.created"), delivery!.headers)).toThrow();
  });

  it("a receiver that fails twice then succeeds gets the event three times with the same webhook-id, and the next only after", async () => {
    const hook = await setUp();
    receiver.answer(hook.path, (request, attempt) => (request.json.data.revision === firstRevision && attempt <= 2 ? { status: 500, body: "down for maintenance" } : 200));
    const firstRevision = await hook.change();
    const second = await hook.change();
    const list = await until(hook.received, (items) => items.length >= 4, "three attempts and the next event");
    expect(list.map((item) => item.json.revision)).toEqual([firstRevision, firstRevision, firstRevision, second]);
    expect(new Set(list.slice(0, 3).map((item) => item.id)).size).toBe(1);
    expect(list[3]!.id).not.toBe(list[0]!.id);
    // Each attempt is signed anew, and verifies.
    for (const item of list) expect(new Webhook(hook.secret).verify(item.body, item.headers)).toBeTruthy();
    const endpoint = await until(hook.endpoint, (node) => node.deliveredRevision === second, "the log");
    const [later, earlier] = endpoint.deliveries.edges.map((edge: any) => edge.node);
    expect(earlier).toMatchObject({ revision: firstRevision, status: "SUCCEEDED", attemptCount: 3, lastResponseStatus: 200, lastError: null, event: { revision: firstRevision } });
    expect(later).toMatchObject({ revision: second, status: "SUCCEEDED", attemptCount: 1 });
    expect(endpoint.failingSince).toBeNull();
  });

  it("logs a failing attempt's status and body excerpt, and the next attempt's time", async () => {
    const hook = await setUp();
    receiver.answer(hook.path, () => ({ status: 503, body: "x".repeat(5000) }));
    await worker.close();
    await hook.change();
    // One worker with a long second wait, to read the log between attempts.
    const slow = startWorker({ retrySchedule: [0, 60_000] });
    const endpoint = await until(hook.endpoint, (node) => node.deliveries.edges[0]?.node.attemptCount === 1, "the first attempt");
    const delivery = endpoint.deliveries.edges[0].node;
    expect(delivery).toMatchObject({ status: "PENDING", lastResponseStatus: 503, lastError: "answered 503" });
    expect(delivery.lastResponseBody).toHaveLength(1024);
    expect(new Date(delivery.nextAttemptAt).getTime()).toBeGreaterThan(Date.now() + 50_000);
    expect(endpoint.failingSince).not.toBeNull();
    await slow.close();
    worker = startWorker();
    // redeliverWebhook on the event it waits on: that retry, now.
    receiver.answer(hook.path, () => 200);
    const redelivered = await t.gql(REDELIVER, { input: { deliveryId: delivery.id } }, hook.fx.owner.token);
    expect(redelivered.errors).toBeUndefined();
    await until(hook.endpoint, (node) => node.deliveries.edges[0].node.status === "SUCCEEDED", "the retry, now");
  });

  it("keeps revision order under a burst of 100 changes, with failures on the way", async () => {
    const hook = await setUp();
    // Every seventh event fails once.
    receiver.answer(hook.path, (request, attempt) => (request.json.revision % 7 === 0 && attempt === 1 ? 500 : 200));
    const revisions = await Promise.all(Array.from({ length: 100 }, () => hook.change()));
    const last = Math.max(...revisions);
    await until(hook.endpoint, (node) => node.deliveredRevision === last, "the burst", 60_000);
    const arrived = hook.received().map((item) => item.json.revision);
    // Never a later event before an earlier one succeeded: the sequence only repeats or rises.
    for (let i = 1; i < arrived.length; i++) expect(arrived[i]!, `position ${i}: ${arrived.slice(Math.max(0, i - 3), i + 2)}`).toBeGreaterThanOrEqual(arrived[i - 1]!);
    expect([...new Set(arrived)]).toEqual([...revisions].sort((a, b) => a - b));
    for (const revision of revisions) expect(arrived.filter((r) => r === revision)).toHaveLength(revision % 7 === 0 ? 2 : 1);
  });

  it("gives an event up when the schedule ends, then sends the next; disables an endpoint failing for WEBHOOK_DISABLE_AFTER, and says so", async () => {
    const hook = await setUp();
    receiver.answer(hook.path, () => 500);
    const first = await hook.change();
    const list = await until(hook.received, (items) => items.length >= 4, "four attempts");
    expect(list.slice(0, 4).map((item) => item.json.revision)).toEqual([first, first, first, first]);
    const endpoint = await until(hook.endpoint, (node) => node.deliveredRevision === first, "given up");
    expect(endpoint.deliveries.edges[0].node).toMatchObject({ status: "FAILED", attemptCount: 4 });
    expect(endpoint.enabled).toBe(true);

    // A worker that disables after 300 ms of failures.
    await worker.close();
    const strict = startWorker({ disableAfterMs: 300 });
    await sleep(350);
    await hook.change();
    const disabled = await until(hook.endpoint, (node) => !node.enabled, "disabled");
    expect(disabled.disabledReason).toMatch(/failing since .*WEBHOOK_DISABLE_AFTER/i);
    const audit = await t.db.prisma.auditEvent.findFirst({ where: { organizationId: hook.fx.organization.id, action: "webhook_endpoint.disabled" } });
    expect(audit).toMatchObject({ actorUserId: null });
    await strict.close();
    worker = startWorker();
    // While disabled nothing is sent; enabling sends what it is owed, in order.
    receiver.answer(hook.path, () => 200);
    const before = hook.received().length;
    const owed = await hook.change();
    await sleep(400);
    expect(hook.received().length).toBe(before);
    const enabled = await t.gql(ENABLE, { input: { webhookEndpointId: hook.endpointId } }, hook.fx.owner.token);
    expect(enabled.data.enableWebhookEndpoint).toEqual({ skippedEvents: 0, webhookEndpoint: { enabled: true } });
    await until(hook.received, (items) => items.at(-1)?.json.revision === owed, "the owed events");
    const after = hook.received().slice(before).map((item) => item.json.revision);
    expect(after).toEqual([...after].sort((a, b) => a - b));
  });

  it("receives only its event types", async () => {
    const hook = await setUp({ eventTypes: ["MEMBER_ADDED"] });
    await hook.change();
    const added = await t.gql(`mutation($input: AddMemberInput!) { addMember(input: $input) { revision } }`, { input: { organizationId: hook.fx.orgGid, email: `new@${hook.path.slice(1)}.example` } }, hook.fx.owner.token);
    expect(added.errors).toBeUndefined();
    await hook.change();
    await until(hook.received, (list) => list.length === 1, "the member.added event");
    await until(hook.endpoint, (node) => node.deliveredRevision >= added.data.addMember.revision + 1, "the endpoint done with the rest");
    expect(hook.received().map((item) => item.json.type)).toEqual(["member.added"]);
  });

  it("rotating the secret signs with both for a day: receivers on the old or the new one verify", async () => {
    const hook = await setUp();
    const rotated = await t.gql(ROTATE, { input: { webhookEndpointId: hook.endpointId } }, hook.fx.owner.token);
    const next = rotated.data.rotateWebhookSecret;
    expect(next.secret).not.toBe(hook.secret);
    expect(new Date(next.webhookEndpoint.previousSecretExpiresAt).getTime() - Date.now()).toBeGreaterThan(23.9 * 3_600_000);
    await hook.change();
    const [delivery] = await until(hook.received, (list) => list.length === 1, "a delivery");
    expect(delivery!.signature.split(" ")).toHaveLength(2);
    expect(new Webhook(next.secret).verify(delivery!.body, delivery!.headers)).toBeTruthy();
    expect(new Webhook(hook.secret).verify(delivery!.body, delivery!.headers)).toBeTruthy();
    // Rotating again drops the oldest one at once.
    const again = await t.gql(ROTATE, { input: { webhookEndpointId: hook.endpointId } }, hook.fx.owner.token);
    await hook.change();
    const [, latest] = await until(hook.received, (list) => list.length === 2, "a second delivery");
    expect(new Webhook(again.data.rotateWebhookSecret.secret).verify(latest!.body, latest!.headers)).toBeTruthy();
    expect(new Webhook(next.secret).verify(latest!.body, latest!.headers)).toBeTruthy();
    expect(() => new Webhook(hook.secret).verify(latest!.body, latest!.headers)).toThrow();
  });

  it("redelivers a settled delivery with the same body and webhook-id", async () => {
    const hook = await setUp();
    await hook.change();
    const [first] = await until(hook.received, (list) => list.length === 1, "a delivery");
    const endpoint = await until(hook.endpoint, (node) => node.deliveries.edges[0]?.node.status === "SUCCEEDED", "success");
    const deliveryId = endpoint.deliveries.edges[0].node.id;
    const result = await t.gql(REDELIVER, { input: { deliveryId } }, hook.fx.owner.token);
    expect(result.data.redeliverWebhook.delivery).toMatchObject({ redeliveryRequested: true });
    const [, replay] = await until(hook.received, (list) => list.length === 2, "the replay");
    expect(replay!.id).toBe(first!.id);
    expect(replay!.body).toBe(first!.body);
    const log = await until(hook.endpoint, (node) => node.deliveries.edges[0].node.attemptCount === 2, "the replay logged");
    expect(log.deliveries.edges[0].node).toMatchObject({ status: "SUCCEEDED" });
    expect(await t.db.prisma.auditEvent.count({ where: { organizationId: hook.fx.organization.id, action: "webhook.redelivered" } })).toBe(1);
  });

  it("two workers deliver each attempt once", async () => {
    const second = startWorker();
    const third = startWorker();
    const hooks = await Promise.all([setUp(), setUp(), setUp()]);
    for (const hook of hooks) receiver.answer(hook.path, (_request, attempt) => (attempt === 1 && Math.random() < 0.2 ? 500 : 200));
    await Promise.all(hooks.flatMap((hook) => Array.from({ length: 20 }, () => hook.change())));
    for (const hook of hooks) {
      const endpoint = await until(hook.endpoint, (node) => node.deliveries.totalCount === 20 && node.deliveries.edges.every((edge: any) => edge.node.status === "SUCCEEDED"), "all delivered", 30_000);
      const attempts = endpoint.deliveries.edges.reduce((sum: number, edge: any) => sum + edge.node.attemptCount, 0);
      // What the receiver saw is exactly what the log counts: no attempt was sent twice.
      expect(hook.received()).toHaveLength(attempts);
      const arrived = hook.received().map((item) => item.json.revision);
      for (let i = 1; i < arrived.length; i++) expect(arrived[i]!).toBeGreaterThanOrEqual(arrived[i - 1]!);
    }
    await second.close();
    await third.close();
  });

  it("payloads show what the endpoint's creator could see at registration: a role without members:read or members:read_private gets them redacted", async () => {
    const fx = await orgWithPeople(t.db, `hooks-redact-${++slugs}`);
    const role = await t.db.prisma.role.create({ data: { organizationId: fx.organization.id, key: "integrations", name: "Integrations", permissions: ["org:read", "events:read", "webhooks:manage"] } });
    const integrator = await userWithToken(t.db, `integrator@${fx.organization.slug}.example`);
    await t.db.prisma.member.create({ data: { organizationId: fx.organization.id, userId: integrator.user.id, roleId: role.id } });
    const restricted = await t.gql(CREATE, { input: { organizationId: fx.orgGid, url: receiver.url(`/${fx.organization.slug}-restricted`) } }, integrator.token);
    expect(restricted.errors).toBeUndefined();
    const full = await t.gql(CREATE, { input: { organizationId: fx.orgGid, url: receiver.url(`/${fx.organization.slug}-full`) } }, fx.owner.token);
    expect(full.errors).toBeUndefined();
    const updated = await t.gql(`mutation($input: UpdateMemberInput!) { updateMember(input: $input) { revision } }`, { input: { memberId: fx.member.memberGid, privateMetadata: { salary: 1 } } }, fx.owner.token);
    expect(updated.errors).toBeUndefined();
    const [hidden] = await until(() => receiver.at(`/${fx.organization.slug}-restricted`), (list) => list.length === 1, "the restricted delivery");
    const [shown] = await until(() => receiver.at(`/${fx.organization.slug}-full`), (list) => list.length === 1, "the full delivery");
    expect(hidden!.json.data.changes.after.privateMetadata).toBe("[redacted]");
    expect(hidden!.json.data.actor).toBeNull();
    expect(hidden!.body).not.toContain("salary");
    expect(shown!.json.data.changes.after.privateMetadata).toEqual({ salary: 1 });
    expect(shown!.json.data.actor.email).toBe(fx.owner.user.email);
    // The integrator re-pointing the owner's endpoint at their own URL lowers it to their level.
    const fullId = full.data.createWebhookEndpoint.webhookEndpoint.id;
    await t.gql(UPDATE, { input: { webhookEndpointId: fullId, url: receiver.url(`/${fx.organization.slug}-taken`) } }, integrator.token);
    await t.gql(`mutation($input: UpdateMemberInput!) { updateMember(input: $input) { revision } }`, { input: { memberId: fx.member.memberGid, privateMetadata: { salary: 2 } } }, fx.owner.token);
    const [taken] = await until(() => receiver.at(`/${fx.organization.slug}-taken`), (list) => list.length === 1, "the re-pointed delivery");
    expect(taken!.body).not.toContain("salary");
  });
});

describe("what an endpoint may be sent, as people and URLs change", () => {
  const UPDATE_MEMBER = `mutation($input: UpdateMemberInput!) { updateMember(input: $input) { revision } }`;
  const dbId = (gid: string) => Buffer.from(gid, "base64").toString().split(":")[1]!;

  /** An organization with an integrations role (it may manage webhooks) held by one more person. */
  async function withIntegrator(permissions: string[]) {
    const fx = await orgWithPeople(t.db, `hooks-standing-${++slugs}`);
    const role = await t.db.prisma.role.create({ data: { organizationId: fx.organization.id, key: "integrations", name: "Integrations", permissions } });
    const integrator = await userWithToken(t.db, `integrator@${fx.organization.slug}.example`);
    const member = await t.db.prisma.member.create({ data: { organizationId: fx.organization.id, userId: integrator.user.id, roleId: role.id } });
    let salary = 0;
    const raise = async () => {
      const result = await t.gql(UPDATE_MEMBER, { input: { memberId: fx.member.memberGid, privateMetadata: { salary: ++salary } } }, fx.owner.token);
      expect(result.errors).toBeUndefined();
      return result.data.updateMember.revision as number;
    };
    return { fx, role, integrator, member, raise, path: (name: string) => `/${fx.organization.slug}-${name}` };
  }

  it("a lower-privileged manager re-pointing an owner's endpoint gets its waiting delivery and any replay rendered again at their level, attempted at once", async () => {
    const { fx, integrator, raise, path } = await withIntegrator(["org:read", "events:read", "webhooks:manage"]);
    const created = await t.gql(CREATE, { input: { organizationId: fx.orgGid, url: receiver.url(path("owner")) } }, fx.owner.token);
    const endpointId = created.data.createWebhookEndpoint.webhookEndpoint.id as string;
    await raise();
    const [settled] = await until(() => receiver.at(path("owner")), (list) => list.length === 1, "the owner-level delivery");
    expect(settled!.body).toContain("salary");
    const settledLog = await until(() => t.db.prisma.webhookDelivery.findFirst({ where: { endpointId: dbId(endpointId) } }), (row) => row?.status === "SUCCEEDED", "the delivery settled");
    // A failing receiver and a long retry wait: the next delivery waits, rendered for the owner.
    await worker.close();
    const patient = startWorker({ retrySchedule: [0, 60_000] });
    try {
      receiver.answer(path("owner"), () => 500);
      await raise();
      await until(() => t.db.prisma.webhookDelivery.findFirst({ where: { endpointId: dbId(endpointId), status: "PENDING" } }), (row) => row?.attempts === 1, "a failed first attempt");
      const moved = await t.gql(UPDATE, { input: { webhookEndpointId: endpointId, url: receiver.url(path("taken")) } }, integrator.token);
      expect(moved.errors).toBeUndefined();
      // Attempted now (not in a minute), and without what only the owner may see.
      const [waiting] = await until(() => receiver.at(path("taken")), (list) => list.length === 1, "the waiting delivery at the new URL", 5_000);
      expect(waiting!.json.data.changes.after.privateMetadata).toBe("[redacted]");
      expect(waiting!.body).not.toContain("salary");
      const replay = await t.gql(REDELIVER, { input: { deliveryId: globalId("WebhookDelivery", settledLog!.id) } }, integrator.token);
      expect(replay.errors).toBeUndefined();
      const [, replayed] = await until(() => receiver.at(path("taken")), (list) => list.length === 2, "the replay at the new URL", 5_000);
      expect(replayed!.id).toBe(settled!.id);
      expect(replayed!.body).not.toContain("salary");
      expect(replayed!.json.data.actor).toBeNull();
      const rows = await t.db.prisma.webhookDelivery.findMany({ where: { endpointId: dbId(endpointId) } });
      for (const row of rows) expect(row.visibility).not.toContain("members:read_private");
    } finally {
      await patient.close();
      worker = startWorker();
    }
  });

  it("a URL changed while a worker is sending a burst ends that claim: nothing more goes out at the old standing", async () => {
    const { fx, integrator, raise, path } = await withIntegrator(["org:read", "events:read", "webhooks:manage"]);
    const created = await t.gql(CREATE, { input: { organizationId: fx.orgGid, url: receiver.url(path("owner")) } }, fx.owner.token);
    const endpointId = created.data.createWebhookEndpoint.webhookEndpoint.id as string;
    receiver.answer(path("owner"), () => ({ status: 200, delayMs: 150 }));
    for (let i = 0; i < 8; i++) await raise();
    await until(() => receiver.at(path("owner")), (list) => list.length >= 2, "the burst under way");
    const moved = await t.gql(UPDATE, { input: { webhookEndpointId: endpointId, url: receiver.url(path("taken")) } }, integrator.token);
    expect(moved.errors).toBeUndefined();
    const sentBefore = receiver.at(path("owner")).length;
    const taken = await until(() => receiver.at(path("taken")), (list) => new Set(list.map((item) => item.json.revision)).size + sentBefore >= 8, "the rest at the new URL");
    // At most the attempt already in flight reached the old URL after the change.
    expect(receiver.at(path("owner")).length).toBeLessThanOrEqual(sentBefore + 1);
    for (const item of taken) expect(item.body, `revision ${item.json.revision}`).not.toContain("salary");
  });

  it("narrows to what the member who set the URL holds now; disables the endpoint, audited, once they may not read the feed", async () => {
    const { fx, role, integrator, member, raise, path } = await withIntegrator(["org:read", "events:read", "webhooks:manage", "members:read", "members:read_private"]);
    const created = await t.gql(CREATE, { input: { organizationId: fx.orgGid, url: receiver.url(path("hook")) } }, integrator.token);
    const endpointId = created.data.createWebhookEndpoint.webhookEndpoint.id as string;
    await raise();
    const [full] = await until(() => receiver.at(path("hook")), (list) => list.length === 1, "a delivery at their level");
    expect(full!.json.data.changes.after.privateMetadata).toEqual({ salary: 1 });
    // Their role loses members:read_private: the endpoint is sent no more than they may see.
    await t.db.prisma.role.update({ where: { id: role.id }, data: { permissions: ["org:read", "events:read", "webhooks:manage", "members:read"] } });
    await raise();
    const [, narrowed] = await until(() => receiver.at(path("hook")), (list) => list.length === 2, "a narrowed delivery");
    expect(narrowed!.json.data.changes.after.privateMetadata).toBe("[redacted]");
    // Removed from the organization: nothing more is sent, and the endpoint says why.
    const removed = await t.gql(`mutation($input: RemoveMemberInput!) { removeMember(input: $input) { removedMemberId } }`, { input: { memberId: globalId("Member", member.id) } }, fx.owner.token);
    expect(removed.errors).toBeUndefined();
    await raise();
    const endpoint = await until(() => t.gql(ENDPOINT, { id: endpointId }, fx.owner.token), (result) => result.data.node.enabled === false, "the endpoint disabled");
    expect(endpoint.data.node.disabledReason).toMatch(/member who set its URL is no longer an active member/);
    expect(receiver.at(path("hook"))).toHaveLength(2);
    const audit = await t.db.prisma.auditEvent.findFirst({ where: { organizationId: fx.organization.id, action: "webhook_endpoint.disabled" } });
    expect(audit).toMatchObject({ actorUserId: null, targetId: dbId(endpointId) });
    // Enabling it as it is would send to a URL nobody who may read the feed vouches for.
    const enable = await t.gql(ENABLE, { input: { webhookEndpointId: endpointId } }, fx.owner.token);
    expect(codes(enable)).toEqual(["CONFLICT"]);
    expect(enable.errors![0]!.message).toMatch(/set its URL again/);
    await t.gql(UPDATE, { input: { webhookEndpointId: endpointId, url: receiver.url(path("hook")) } }, fx.owner.token);
    const enabled = await t.gql(ENABLE, { input: { webhookEndpointId: endpointId } }, fx.owner.token);
    expect(enabled.data.enableWebhookEndpoint.webhookEndpoint).toEqual({ enabled: true });
    expect(integrator.user.id).toBeTruthy();
  });
});

describe("a worker meeting the unexpected", () => {
  it("an endpoint whose claim fails unexpectedly rests until its lease expires, instead of being claimed again at once", async () => {
    const hook = await setUp();
    const id = Buffer.from(hook.endpointId, "base64").toString().split(":")[1]!;
    // A row no version writes (what a bug would leave): serving it throws.
    await t.db.query(`UPDATE "WebhookEndpoint" SET "url" = 'not a URL' WHERE "id" = $1::uuid`, [id]);
    await hook.change();
    const claimed = await until(() => t.db.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id } }), (row) => row.lastClaimedAt !== null, "a claim");
    await sleep(1_000);
    const later = await t.db.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id } });
    expect(later.lastClaimedAt).toEqual(claimed.lastClaimedAt);
    expect(later.leaseOwner).not.toBeNull();
    // Mended, and its lease run out: it is served.
    await t.db.query(`UPDATE "WebhookEndpoint" SET "url" = $2, "leaseExpiresAt" = NULL WHERE "id" = $1::uuid`, [id, receiver.url(hook.path)]);
    worker.wake();
    await until(hook.received, (list) => list.length === 1, "the delivery after the mend");
  });

  it("records an attempt only for the claim that holds the lease: an attempt outliving its lease is repeated, not counted twice", async () => {
    const hook = await setUp();
    const id = Buffer.from(hook.endpointId, "base64").toString().split(":")[1]!;
    receiver.answer(hook.path, (_request, attempt) => (attempt === 1 ? { status: 200, delayMs: 600 } : 200));
    const first = await hook.change();
    await until(hook.received, (list) => list.length === 1, "the first attempt in flight");
    // Its lease runs out while it waits: another claim (of the same process) takes the endpoint.
    await t.db.query(`UPDATE "WebhookEndpoint" SET "leaseExpiresAt" = (now() AT TIME ZONE 'UTC') - interval '1 second' WHERE "id" = $1::uuid`, [id]);
    const second = await hook.change();
    await until(hook.received, (list) => list.some((item) => item.json.revision === second), "the next event");
    await sleep(800);
    const rows = await t.db.prisma.webhookDelivery.findMany({ where: { endpointId: id }, orderBy: { revision: "asc" } });
    expect(rows.map((row) => [row.revision, row.status, row.attempts])).toEqual([
      [first, "SUCCEEDED", 1],
      [second, "SUCCEEDED", 1],
    ]);
    expect(hook.received().filter((item) => item.json.revision === first)).toHaveLength(2);
  });

  it("sends an event whose action this version does not know, with a type spelled from it", async () => {
    const hook = await setUp();
    const organizationId = hook.fx.organization.id;
    await t.db.prisma.$transaction(async (tx) => {
      const { revision } = await tx.organization.update({ where: { id: organizationId }, data: { revision: { increment: 1 } }, select: { revision: true } });
      await tx.membershipEvent.create({ data: { organizationId, revision, action: "member.teleported", subjectType: "Member", after: { to: "mars" } } });
    });
    worker.wake();
    const [delivered] = await until(hook.received, (list) => list.length === 1, "the unknown event");
    expect(delivered!.json).toMatchObject({ type: "member.teleported", data: { type: "MEMBER_TELEPORTED", changes: { after: { to: "mars" } } } });
  });

  it("a failure after a quiet week starts a new failing streak rather than disabling the endpoint", async () => {
    const hook = await setUp();
    const id = Buffer.from(hook.endpointId, "base64").toString().split(":")[1]!;
    await t.db.query(`UPDATE "WebhookEndpoint" SET "failingSince" = (now() AT TIME ZONE 'UTC') - interval '7 days', "updatedAt" = (now() AT TIME ZONE 'UTC') - interval '7 days' WHERE "id" = $1::uuid`, [id]);
    receiver.answer(hook.path, (_request, attempt) => (attempt === 1 ? 500 : 200));
    await hook.change();
    const endpoint = await until(hook.endpoint, (node) => node.deliveries.edges[0]?.node.status === "SUCCEEDED", "the retry succeeding");
    expect(endpoint).toMatchObject({ enabled: true, failingSince: null });
    expect(hook.received()).toHaveLength(2);
  });
});

describe("retention", () => {
  it("keeps events an enabled endpoint is owed; a disabled one skips what was pruned, and enabling says how many", async () => {
    await worker.close();
    const hook = await setUp();
    const revisions = [await hook.change(), await hook.change()];
    const organizationId = hook.fx.organization.id;
    await t.db.prisma.membershipEvent.updateMany({ where: { organizationId }, data: { occurredAt: new Date(Date.now() - 40 * 86_400_000) } });
    await pruneEvents(t.db.prisma, 30);
    expect(await t.db.prisma.membershipEvent.count({ where: { organizationId, revision: { in: revisions } } })).toBe(2);
    await t.gql(DISABLE, { input: { webhookEndpointId: hook.endpointId } }, hook.fx.owner.token);
    await pruneEvents(t.db.prisma, 30);
    expect(await t.db.prisma.membershipEvent.count({ where: { organizationId } })).toBe(0);
    const enabled = await t.gql(ENABLE, { input: { webhookEndpointId: hook.endpointId } }, hook.fx.owner.token);
    expect(enabled.data.enableWebhookEndpoint.skippedEvents).toBe(2);
    worker = startWorker();
    const next = await hook.change();
    await until(hook.received, (list) => list.length === 1, "the next event");
    expect(hook.received()[0]!.json.revision).toBe(next);
  });

  it("prunes settled deliveries past the retention", async () => {
    const hook = await setUp();
    await hook.change();
    await until(hook.endpoint, (node) => node.deliveries.edges[0]?.node.status === "SUCCEEDED", "a delivery");
    const endpointId = Buffer.from(hook.endpointId, "base64").toString().split(":")[1]!;
    await t.db.prisma.$executeRaw`UPDATE "WebhookDelivery" SET "updatedAt" = now() - interval '40 days' WHERE "endpointId" = ${endpointId}::uuid`;
    expect(await pruneWebhookDeliveries(t.db.prisma, 30)).toBeGreaterThanOrEqual(1);
    expect(await t.db.prisma.webhookDelivery.count({ where: { endpointId } })).toBe(0);
  });
});

describe("URL rules at every delivery", () => {
  it("refuses to register a URL whose host is a private, loopback, link-local or metadata address", async () => {
    const strict = await createTestApp({ ...ENV, WEBHOOK_ALLOW_PRIVATE_HOSTS: "" });
    try {
      const fx = await orgWithPeople(strict.db, "hooks-strict");
      for (const url of [receiver.url("/private"), "https://10.1.2.3/hook", "https://169.254.169.254/latest/meta-data", "https://[::1]/hook", "https://[::ffff:127.0.0.1]/hook", "https://localhost/hook"]) {
        const result = await strict.gql(CREATE, { input: { organizationId: fx.orgGid, url } }, fx.owner.token);
        expect(codes(result), url).toEqual(["BAD_USER_INPUT"]);
        expect(result.errors![0]!.message, url).toMatch(/private|loopback|metadata/);
      }
    } finally {
      await strict.close();
    }
  });

  it("checks the resolved address at delivery too: a worker without the allowance refuses, and the log says why", async () => {
    const hook = await setUp();
    await worker.close();
    const strict = startWorker({ allowPrivateHosts: [], retrySchedule: [0, 60_000] });
    await hook.change();
    const endpoint = await until(hook.endpoint, (node) => node.deliveries.edges[0]?.node.attemptCount === 1, "a refused attempt");
    expect(endpoint.deliveries.edges[0].node).toMatchObject({ status: "PENDING", lastResponseStatus: null });
    expect(endpoint.deliveries.edges[0].node.lastError).toMatch(/^refused: 127\.0\.0\.1 resolves to 127\.0\.0\.1/);
    expect(hook.received()).toHaveLength(0);
    await strict.close();
    worker = startWorker();
  });

  it("knows which addresses are not public", () => {
    for (const address of [
      ...["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255"],
      ...["::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "::ffff:127.0.0.1", "::ffff:7f00:1", "0:0:0:0:0:ffff:7f00:1", "64:ff9b::a9fe:a9fe"],
      // IPv4-compatible (deprecated), 6to4 and Teredo: they reach an IPv4 address through IPv6.
      ...["::7f00:1", "::127.0.0.1", "::a9fe:a9fe", "::ffff:0:127.0.0.1", "2002:7f00:1::1", "2002:a9fe:a9fe::", "2001:0:4136:e378:8000:63bf:3fff:fdd2"],
      "not-an-ip",
    ]) {
      expect(isNonPublicAddress(address), address).toBe(true);
    }
    for (const address of ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) expect(isNonPublicAddress(address), address).toBe(false);
    expect(parseWebhookUrl("https://Hooks.Example.com/in#frag", { allowHttpHosts: [], allowPrivateHosts: [] }).href).toBe("https://hooks.example.com/in");
  });

  it("allow-lists name a host (any port) or host:port, however the URL spells the host", () => {
    const { allowHttpHosts } = loadConfig({ WEBHOOK_ALLOW_HTTP_HOSTS: "Receiver.Internal., 10.0.0.5:8080, [::1]:9000, bücher.example, fd00::5" }).webhooks;
    expect(allowHttpHosts).toEqual(["receiver.internal", "10.0.0.5:8080", "[::1]:9000", "xn--bcher-kva.example", "[fd00::5]"]);
    const rules = { allowHttpHosts, allowPrivateHosts: [] };
    for (const url of ["http://receiver.internal/in", "http://RECEIVER.internal.:81/in", "http://10.0.0.5:8080/in", "http://[::1]:9000/in", "http://bücher.example/in"]) {
      expect(() => parseWebhookUrl(url, rules), url).not.toThrow();
    }
    for (const url of ["http://10.0.0.5/in", "http://10.0.0.5:8081/in", "http://[::1]/in", "http://receiver.internal.evil.example/in"]) {
      expect(() => parseWebhookUrl(url, rules), url).toThrow(/WEBHOOK_ALLOW_HTTP_HOSTS/);
    }
    expect(() => loadConfig({ WEBHOOK_ALLOW_PRIVATE_HOSTS: "host:99999" })).toThrow(/WEBHOOK_ALLOW_PRIVATE_HOSTS: "host:99999"/);
    expect(() => loadConfig({ WEBHOOK_ALLOW_PRIVATE_HOSTS: "http://host/path" })).toThrow(/not a host or host:port/);
    expect(() => loadConfig({ WEBHOOK_ALLOW_PRIVATE_HOSTS: "*.internal" })).toThrow(/wildcards are not supported/);
    expect(() => parseWebhookUrl("http://[fd00::5]:7000/in", rules)).not.toThrow();
  });

  it("does not follow redirects, and times out slow receivers", async () => {
    const hook = await setUp();
    receiver.answer(hook.path, (_request, attempt) => (attempt === 1 ? { status: 302, body: "" } : attempt === 2 ? { status: 200, delayMs: 2_000 } : 200));
    await hook.change();
    const endpoint = await until(hook.endpoint, (node) => node.deliveries.edges[0]?.node.status === "SUCCEEDED", "success after a redirect and a timeout", 20_000);
    expect(endpoint.deliveries.edges[0].node.attemptCount).toBe(3);
    expect(hook.received()).toHaveLength(3);
  });
});

describe("who may manage webhooks", () => {
  let acme: OrgFixture;
  let other: OrgFixture;
  let endpointId: string;
  let deliveryId: string;

  beforeAll(async () => {
    acme = await orgWithPeople(t.db, `hooks-acme-${++slugs}`);
    other = await orgWithPeople(t.db, `hooks-other-${++slugs}`);
    const created = await t.gql(CREATE, { input: { organizationId: acme.orgGid, url: receiver.url("/acme") } }, acme.owner.token);
    endpointId = created.data.createWebhookEndpoint.webhookEndpoint.id;
    await t.gql(RENAME, { input: { organizationId: acme.orgGid, name: "Acme 2" } }, acme.owner.token);
    const endpoint = await until(
      () => t.gql(ENDPOINT, { id: endpointId }, acme.owner.token),
      (result) => result.data.node.deliveries.totalCount === 1,
      "a delivery",
    );
    deliveryId = endpoint.data.node.deliveries.edges[0].node.id;
  });

  const mutations = () => [
    [CREATE, { input: { organizationId: acme.orgGid, url: receiver.url("/intruder") } }],
    [UPDATE, { input: { webhookEndpointId: endpointId, url: receiver.url("/intruder") } }],
    [ROTATE, { input: { webhookEndpointId: endpointId } }],
    [DISABLE, { input: { webhookEndpointId: endpointId } }],
    [ENABLE, { input: { webhookEndpointId: endpointId } }],
    [DELETE, { input: { webhookEndpointId: endpointId } }],
    [REDELIVER, { input: { deliveryId } }],
  ] as const;

  it("owners only by default: an admin and a member are refused every mutation with MISSING_PERMISSION, and it leaves no trace", async () => {
    const auditBefore = await t.db.prisma.auditEvent.count({ where: { organizationId: acme.organization.id } });
    for (const person of [acme.admin, acme.member]) {
      for (const [query, variables] of mutations()) {
        const result = await t.gql(query, variables as Record<string, unknown>, person.token);
        expect(codes(result), query.slice(0, 40)).toEqual(["FORBIDDEN"]);
        expect(reasons(result), query.slice(0, 40)).toEqual(["MISSING_PERMISSION"]);
      }
    }
    expect(await t.db.prisma.auditEvent.count({ where: { organizationId: acme.organization.id } })).toBe(auditBefore);
    expect(await t.db.prisma.webhookEndpoint.count({ where: { organizationId: acme.organization.id } })).toBe(1);
    const endpoint = await t.gql(ENDPOINT, { id: endpointId }, acme.owner.token);
    expect(endpoint.data.node).toMatchObject({ url: receiver.url("/acme"), enabled: true });
  });

  it("another organization's owner gets NOT_FOUND for every mutation and null for every node", async () => {
    for (const [query, variables] of mutations()) {
      const result = await t.gql(query, variables as Record<string, unknown>, other.owner.token);
      expect(codes(result), query.slice(0, 40)).toEqual(["NOT_FOUND"]);
    }
    const nodes = await t.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: [endpointId, deliveryId] }, other.owner.token);
    expect(nodes.data.nodes).toEqual([null, null]);
    // And their own endpoint can't be pointed at acme's organization's deliveries.
    expect(await t.db.prisma.webhookEndpoint.count({ where: { organizationId: other.organization.id } })).toBe(0);
  });

  it("reading: endpoints, deliveries and viewerCan follow webhooks:manage", async () => {
    const list = `query($id: ID!) { node(id: $id) { ... on Organization { viewerCan { manageWebhooks checks { action reason } } webhookEndpoints(first: 5) { totalCount } } } }`;
    const owner = await t.gql(list, { id: acme.orgGid }, acme.owner.token);
    expect(owner.data.node.viewerCan.manageWebhooks).toBe(true);
    expect(owner.data.node.webhookEndpoints).toEqual({ totalCount: 1 });
    const admin = await t.gql(`query($id: ID!) { node(id: $id) { ... on Organization { viewerCan { manageWebhooks checks { action reason } } } } }`, { id: acme.orgGid }, acme.admin.token);
    expect(admin.data.node.viewerCan.manageWebhooks).toBe(false);
    expect(admin.data.node.viewerCan.checks.find((check: { action: string }) => check.action === "manageWebhooks")).toEqual({ action: "manageWebhooks", reason: "MISSING_PERMISSION" });
    const adminList = await t.gql(list, { id: acme.orgGid }, acme.admin.token);
    expect(codes(adminList)).toEqual(["FORBIDDEN"]);
    const nodes = await t.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: [endpointId, deliveryId] }, acme.admin.token);
    expect(nodes.data.nodes).toEqual([null, null]);
    const anonymous = await t.gql(ENDPOINT, { id: endpointId }, null);
    expect(anonymous.data.node).toBeNull();
  });

  it("a role with webhooks:manage needs events:read too", async () => {
    const role = await t.db.prisma.role.create({ data: { organizationId: acme.organization.id, key: "hooks_only", name: "Hooks only", permissions: ["org:read", "webhooks:manage"] } });
    const person = await userWithToken(t.db, `hooks-only@${acme.organization.slug}.example`);
    await t.db.prisma.member.create({ data: { organizationId: acme.organization.id, userId: person.user.id, roleId: role.id } });
    const result = await t.gql(CREATE, { input: { organizationId: acme.orgGid, url: receiver.url("/hooks-only") } }, person.token);
    expect(codes(result)).toEqual(["FORBIDDEN"]);
    expect(result.errors![0]!.message).toMatch(/events:read/);
  });

  it("admins can't grant webhooks:manage through a custom role (no escalation)", async () => {
    const result = await t.gql(
      `mutation($input: CreateRoleInput!) { createRole(input: $input) { role { id } } }`,
      { input: { organizationId: acme.orgGid, name: "Sneaky", permissions: ["org:read", "events:read", "webhooks:manage"] } },
      acme.admin.token,
    );
    expect(codes(result)).toEqual(["FORBIDDEN"]);
  });
});

describe("configuration", () => {
  it("validates the webhook settings at start", () => {
    expect(() => loadConfig({ WEBHOOK_RETRY_SCHEDULE: "0,5 minutes" })).toThrow(ConfigError);
    expect(() => loadConfig({ WEBHOOK_RETRY_SCHEDULE: "5s,5m" })).toThrow(/starts with 0/);
    expect(() => loadConfig({ WEBHOOK_SECRET_KEY: "short" })).toThrow(/WEBHOOK_SECRET_KEY/);
    expect(() => loadConfig({ WEBHOOK_DISABLE_AFTER: "40d" })).toThrow(/30 days/);
    expect(() => loadConfig({ WEBHOOK_WORKER: "maybe" })).toThrow(/WEBHOOK_WORKER/);
    const config = loadConfig({});
    expect(config.webhooks).toMatchObject({ worker: true, retrySchedule: [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000], disableAfterMs: 5 * 86_400_000, timeoutMs: 10_000 });
  });

  it("without WEBHOOK_SECRET_KEY (and no embedded key) registering says NOT_CONFIGURED", async () => {
    const bare = await createTestApp({ ...ENV, WEBHOOK_SECRET_KEY: "" });
    try {
      const fx = await orgWithPeople(bare.db, "hooks-bare");
      const result = await bare.gql(CREATE, { input: { organizationId: fx.orgGid, url: receiver.url("/bare") } }, fx.owner.token);
      expect(codes(result)).toEqual(["NOT_CONFIGURED"]);
      expect(result.errors![0]!.message).toMatch(/WEBHOOK_SECRET_KEY/);
    } finally {
      await bare.close();
    }
  });
});

type Received = Receiver["received"][number];
