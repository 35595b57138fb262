// The lean read path's timestamp parser (src/db/client.ts, parseUtcTimestamp) reads what
// PostgreSQL prints for `timestamp` columns character by character; it must give the same Date
// as the general parser, and as PostgreSQL itself, for every form that can come back.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseUtcTimestamp } from "../src/db/client.js";
import { TEST_DATABASE_URL } from "./helpers.js";

const general = (value: string) => new Date(`${value.replace(" ", "T")}Z`);

describe("parseUtcTimestamp", () => {
  it("matches the general parser on every fraction length, and around the edges of the calendar", () => {
    const values = [
      "2026-12-02 10:11:12",
      "2026-12-02 10:11:12.5",
      "2026-12-02 10:11:12.05",
      "2026-12-02 10:11:12.345",
      "2026-12-02 10:11:12.3456",
      "2026-12-02 10:11:12.345678",
      "2024-02-29 23:59:59.999",
      "1970-01-01 00:00:00",
      "1969-12-31 23:59:59.999",
      "0100-01-01 00:00:00",
      "9999-12-31 23:59:59.999999",
      "2000-01-01 00:00:00.000",
    ];
    for (const value of values) expect(parseUtcTimestamp(value).getTime(), value).toBe(general(value).getTime());
    // Random instants of the last and next centuries, at every fraction length PostgreSQL prints.
    for (let i = 0; i < 2000; i++) {
      const iso = new Date(Date.UTC(1900, 0, 1) + Math.floor(Math.random() * 200 * 365.25 * 86_400_000)).toISOString();
      const fraction = iso.slice(20, 23).replace(/0+$/, "");
      const value = `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction ? `.${fraction}` : ""}`;
      expect(parseUtcTimestamp(value).toISOString(), value).toBe(iso);
    }
  });

  it("leaves what isn't a plain timestamp to the general parser", () => {
    for (const value of ["infinity", "-infinity", "0044-03-15 12:00:00 BC", "0099-01-01 00:00:00", "2026-12-02 10:11:12.", "2026-12-02 1a:11:12", "2026-12-02T10:11:12"]) {
      const parsed = parseUtcTimestamp(value);
      const expected = general(value);
      expect(Number.isNaN(parsed.getTime()) ? "Invalid" : parsed.getTime(), value).toBe(Number.isNaN(expected.getTime()) ? "Invalid" : expected.getTime());
    }
  });
});

describe.skipIf(!TEST_DATABASE_URL)("parseUtcTimestamp against PostgreSQL", () => {
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: TEST_DATABASE_URL, types: { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig });
    await client.connect();
  });
  afterAll(() => client?.end());

  it("reads what PostgreSQL prints as the instant PostgreSQL means", async () => {
    const { rows } = await client.query<{ text: string; epoch_ms: string }>(
      `SELECT t::text AS text, (extract(epoch FROM t) * 1000)::bigint::text AS epoch_ms
         FROM (SELECT (timestamp '1950-01-01' + random() * interval '100 years')::timestamp(3) AS t FROM generate_series(1, 500)
               UNION ALL SELECT timestamp(3) '2026-12-02 10:11:12.5' UNION ALL SELECT timestamp(3) '2026-12-02 10:11:12') s`,
    );
    for (const row of rows) expect(parseUtcTimestamp(row.text).getTime(), row.text).toBe(Number(row.epoch_ms));
  });
});
