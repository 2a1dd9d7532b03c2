// WASI preview1: the few calls a seec program makes, byte-level I/O over them, and the
// program's working memory.
import { formatInteger } from "./numbers";

@external("wasi_snapshot_preview1", "args_sizes_get")
declare function args_sizes_get(argc: usize, argvBufSize: usize): u16;
@external("wasi_snapshot_preview1", "args_get")
declare function args_get(argv: usize, argvBuf: usize): u16;
@external("wasi_snapshot_preview1", "fd_write")
declare function fd_write(fd: u32, iovs: usize, iovsLen: usize, written: usize): u16;
@external("wasi_snapshot_preview1", "proc_exit")
declare function proc_exit(code: u32): void;

export const STDOUT: u32 = 1;
export const STDERR: u32 = 2;

/** Exit codes, as the seec CLI's (runtime/errors.ts): usage 2, input 3, runtime 7. */
export const EXIT_USAGE: u32 = 2;
export const EXIT_INPUT: u32 = 3;
export const EXIT_RUNTIME: u32 = 7;

/** The program's arguments: argc pointers to NUL-terminated strings (argv[0] is the program). */
export class Args {
  count: i32 = 0;
  pointers: usize = 0;
}

/**
 * Working memory is a region the build reserves above the model's, and memory never grows:
 * node:wasi keeps the memory it saw at start, so a program that grows it would have node read
 * and write freed memory. take() fails cleanly (runtime.memory) when the region is spent.
 */
let next: usize = 0;
let limit: usize = 0;

export function useMemory(start: usize, bytes: usize): void {
  next = start;
  limit = start + bytes;
}

/** `bytes` of working memory, 16-byte aligned. */
export function take(bytes: usize): usize {
  const at = (next + 15) & ~15;
  if (bytes > limit - at) fail(EXIT_RUNTIME, "runtime.memory", "the input needs more working memory than this program reserves; shorten it");
  next = at + bytes;
  return at;
}

/** Where take() stands now: release(mark()) later frees everything taken in between. */
export function mark(): usize {
  return next;
}

export function release(at: usize): void {
  next = at;
}

export function readArgs(): Args {
  const sizes = take(8);
  args_sizes_get(sizes, sizes + 4);
  const args = new Args();
  args.count = load<u32>(sizes);
  args.pointers = take(<usize>args.count * 4 + 4);
  // browser_wasi_shim 0.4 reports the strings' UTF-16 length, not their UTF-8 bytes; three bytes
  // per unit covers both. What the strings did not use is handed back.
  const strings = take(<usize>load<u32>(sizes + 4) * 3 + 1);
  args_get(args.pointers, strings);
  let end = strings;
  for (let i = 0; i < args.count; i++) {
    const s = argAt(args, i);
    end = max(end, s + <usize>cstrLength(s) + 1);
  }
  release(end);
  return args;
}

export function argAt(args: Args, i: i32): usize {
  return load<u32>(args.pointers + <usize>i * 4);
}

export function cstrLength(s: usize): i32 {
  let n = 0;
  while (load<u8>(s + n) != 0) n++;
  return n;
}

/** Whether the NUL-terminated string at s equals the ASCII text. */
export function cstrEquals(s: usize, text: string): bool {
  const n = text.length;
  for (let i = 0; i < n; i++) if (<i32>load<u8>(s + i) != text.charCodeAt(i)) return false;
  return load<u8>(s + n) == 0;
}

const iov = memory.data(12, 4);

export function writeBytes(fd: u32, bytes: usize, length: i32): void {
  while (length > 0) {
    store<u32>(iov, bytes);
    store<u32>(iov + 4, length);
    if (fd_write(fd, iov, 1, iov + 8) != 0) return;
    const written = load<u32>(iov + 8);
    bytes += written;
    length -= written;
  }
}

const textBuffer = memory.data(256);

/** Writes ASCII text (AssemblyScript strings are UTF-16: every code unit here is below 128). */
export function writeText(fd: u32, text: string): void {
  const n = text.length;
  for (let from = 0; from < n; from += 256) {
    const k = min(256, n - from);
    for (let i = 0; i < k; i++) store<u8>(textBuffer + i, <u8>text.charCodeAt(from + i));
    writeBytes(fd, textBuffer, k);
  }
}

export function writeInteger(fd: u32, n: i64): void {
  const digits = memory.data(24);
  writeBytes(fd, digits, formatInteger(n, digits));
}

/** Starts an error line as the seec CLI prints one: "seec: error[<code>]: ". */
export function errorLine(code: string): void {
  writeText(STDERR, "seec: error[");
  writeText(STDERR, code);
  writeText(STDERR, "]: ");
}

/** Ends an error line and exits with the status of the error's class. */
export function exit(status: u32): void {
  writeText(STDERR, "\n");
  proc_exit(status);
}

/** "seec: error[<code>]: <message><argument>" on stderr, then exit. */
export function fail(status: u32, code: string, message: string, argument: usize = 0): void {
  errorLine(code);
  writeText(STDERR, message);
  if (argument) writeBytes(STDERR, argument, cstrLength(argument));
  exit(status);
}

/** AssemblyScript's abort (an allocation that cannot grow memory), routed here instead of an env import. */
export function abortProgram(message: string | null, file: string | null, line: u32, column: u32): void {
  writeText(STDERR, "seec: error[runtime.trap]: the program ran out of memory or failed a check\n");
  proc_exit(EXIT_RUNTIME);
}
