// Database.listen on PostgreSQL: a process holds one LISTEN connection for every channel and
// listener; when it is lost, the next connection (whoever makes it) tells every listener that
// notifications may have been missed (onGap) and listens on every channel again; a listener that
// throws hurts no other; the last one to stop closes the connection.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestDatabase, TEST_DATABASE_URL, type TestDatabase } from "./helpers.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000) {
  for (const began = Date.now(); !(await predicate()); await sleep(25)) if (Date.now() - began > timeoutMs) throw new Error(`timed out waiting for ${what}`);
}

/** A listener that records what it was told. */
function recorder(throws = false) {
  const messages: string[] = [];
  let gaps = 0;
  return {
    messages,
    get gaps() {
      return gaps;
    },
    onMessage: (payload: string) => {
      messages.push(payload);
      if (throws) throw new Error("a listener's own bug");
    },
    onGap: () => {
      gaps++;
      if (throws) throw new Error("a listener's own bug");
    },
  };
}

describe.runIf(!!TEST_DATABASE_URL)("listening for notifications (PostgreSQL)", () => {
  let database: TestDatabase;
  let admin: pg.Client;
  const name = `membership-graph-listen-${process.pid}`;
  const connections = async () => (await admin.query("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [name])).rows.map((row) => row.pid as number);
  const notify = (channel: string, payload: string) => admin.query("SELECT pg_notify($1, $2)", [channel, payload]);

  beforeAll(async () => {
    database = await openTestDatabase();
    admin = new pg.Client({ connectionString: database.url! });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await database?.close();
  });

  it("one connection for every channel; each listener gets its channel's messages, and a throwing one hurts no other", async () => {
    const [a, b, broken, c] = [recorder(), recorder(), recorder(true), recorder()];
    const stops = [
      await database.db.listen("chan_a", a.onMessage, a.onGap),
      await database.db.listen("chan_b", b.onMessage, b.onGap),
      await database.db.listen("chan_b", broken.onMessage, broken.onGap),
      await database.db.listen("chan_c", c.onMessage, c.onGap),
    ];
    expect(await connections()).toHaveLength(1);
    expect([a.gaps, b.gaps, broken.gaps, c.gaps]).toEqual([1, 1, 1, 1]);
    await notify("chan_a", "1");
    await notify("chan_b", "2");
    await until(() => a.messages.length === 1 && b.messages.length === 1, "the messages");
    expect(broken.messages).toEqual(["2"]);
    expect(c.messages).toEqual([]);
    // The last listener of a channel stops: the others keep theirs.
    await stops[3]!();
    await notify("chan_c", "3");
    await notify("chan_a", "4");
    await until(() => a.messages.length === 2, "chan_a's second message");
    expect(c.messages).toEqual([]);
    for (const stop of stops.slice(0, 3)) await stop();
    await until(async () => (await connections()).length === 0, "the connection closed after the last listener stopped");
  });

  it("after the connection is lost, every listener hears of the gap and listens again — also when a new listener connects first", async () => {
    const [a, b] = [recorder(), recorder()];
    const stopA = await database.db.listen("chan_a", a.onMessage, a.onGap);
    const [pid] = await connections();
    await admin.query("SELECT pg_terminate_backend($1)", [pid]);
    await until(async () => (await connections()).length === 0, "the connection gone");
    // Within the second before the reconnect: this listener's own connection serves both.
    const stopB = await database.db.listen("chan_b", b.onMessage, b.onGap);
    expect(b.gaps).toBe(1);
    await until(() => a.gaps === 2, "chan_a's listener told of the gap");
    expect(await connections()).toHaveLength(1);
    await notify("chan_a", "after");
    await until(() => a.messages.includes("after"), "chan_a listened to again");
    await sleep(1_500);
    // The timer that was waiting to reconnect did not open a second connection.
    expect(await connections()).toHaveLength(1);
    await stopA();
    await stopB();
  });
});
