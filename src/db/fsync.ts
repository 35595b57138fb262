// Making files durable: what is written and renamed survives a power loss, not only a crash.
import fs from "node:fs";
import path from "node:path";

/** fsyncs one file or folder (a folder's fsync makes the entries in it, e.g. a rename, durable). */
export function fsyncPath(target: string): void {
  const fd = fs.openSync(target, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** fsyncs every file and folder under dir, dir itself, and dir's entry in its parent. */
export function fsyncTree(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() || entry.isDirectory()) fsyncPath(path.join(entry.parentPath, entry.name));
  }
  fsyncPath(dir);
  fsyncPath(path.dirname(dir));
}
