// Time-ordered ids (UUID v7, RFC 9562) for rows written with SQL rather than through Prisma
// (which makes the same kind with @default(uuid(7))). Ids made by this process in the same
// millisecond still sort in the order they were made: the 12 bits after the timestamp count up.
import { randomBytes } from "node:crypto";

let lastMs = 0;
let sequence = 0;

export function uuidv7(now = Date.now()): string {
  if (now <= lastMs) {
    sequence += 1;
    if (sequence > 0xfff) {
      lastMs += 1;
      sequence = 0;
    }
  } else {
    lastMs = now;
    sequence = randomBytes(2).readUInt16BE(0) & 0x7ff; // room to count up
  }
  const bytes = randomBytes(16);
  bytes.writeUIntBE(lastMs, 0, 6);
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
