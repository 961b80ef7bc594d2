/**
 * @module runtime/local/logs
 * Instance log files: one append-only file per instance receives the process's stdout and stderr
 * directly (the child holds the file descriptor, so output survives the runtime), plus one marker
 * line per (re)start and per exit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

/** Opens `file` for appending (creating its folders) and writes `marker` as a line; returns a raw fd. */
export async function openLog(file: string, marker: string): Promise<number> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  // a raw fd (not a FileHandle, which closes itself on garbage collection) is handed to the child
  const fd = await promisify(fs.open)(file, 'a');
  try {
    await promisify(fs.write)(fd, `${marker}\n`);
  } catch (e) {
    closeFd(fd);
    throw e;
  }
  return fd;
}

/** Appends one line synchronously, ignoring errors (used from exit handlers). */
export function appendLine(file: string, line: string): void {
  try {
    fs.appendFileSync(file, `${line}\n`);
  } catch {
    /* a missing log must not break process handling */
  }
}

/** Closes a file descriptor, ignoring errors. */
export function closeFd(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    /* already closed */
  }
}

/** The last `n` lines of a file (reads at most the last `maxBytes` bytes); '' if unreadable. */
export async function tailLines(file: string, n = 20, maxBytes = 64 * 1024): Promise<string> {
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(file, 'r');
    const { size } = await fh.stat();
    const len = Math.min(size, maxBytes);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    const lines = buf.toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    if (len < size) lines.shift(); // first line is probably cut
    return lines.slice(-n).join('\n');
  } catch {
    return '';
  } finally {
    await fh?.close();
  }
}
