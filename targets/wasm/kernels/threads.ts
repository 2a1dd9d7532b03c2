/**
 * Kernels split across threads over one shared memory (a module built with `seec build --threads`).
 *
 * Every thread runs an instance of the same module on the same memory. The calling thread runs
 * forward(); at a node it splits, it posts the job in the mailbox below, wakes the workers, does its
 * own share and waits for theirs. Each worker sits in serve(): it spins for a while on the mailbox's
 * generation (jobs come every few microseconds while a token is computed), then sleeps in
 * memory.atomic.wait32 until the next post. The calling thread never sleeps (a browser's main thread
 * may not), it spins for the workers' shares, which are as long as its own.
 *
 * Mailbox, 64 bytes: generation (bumped per job), pending (workers still running it), job, T, threads.
 */
import { keepScoresAt } from "./attend-row";

const MAILBOX: usize = memory.data(64, 64);
const GENERATION = MAILBOX, PENDING = MAILBOX + 4, JOB = MAILBOX + 8, TOKENS = MAILBOX + 12, THREADS = MAILBOX + 16;

/** Spins of a worker on the generation before it sleeps. */
const SPINS = 1 << 16;
/**
 * How long the caller waits for the workers' parts, with none of them finishing, before it gives
 * them up: a thread the system has descheduled for a while (a busy machine, a host stealing the
 * core) comes back well within it; one that died never does. A count of polls alone would measure
 * the machine's speed, not time (2^31 of them take 0.64 s on this machine's cores).
 */
const GIVE_UP_MS: f64 = 10_000;
/** Polls of the caller between looks at the clock (about a third of a millisecond). */
const POLLS = 1 << 20;

/** The host's clock in milliseconds (performance.now()): how long the caller has waited. */
@external("env", "now")
declare function now(): f64;

/** One thread's share of a job: (job, T, thread, threads). The program's table of split nodes. */
type Share = (job: i32, T: i32, tid: i32, nth: i32) => void;

/** How many threads (the caller and its workers) share each job from now on; 1: the caller alone. */
export function setThreads(n: i32): void {
  atomic.store<i32>(THREADS, n);
}

/** Runs `job` over T tokens on every thread, this one taking share 0; returns when all are done. */
export function parallel(job: i32, T: i32, share: Share): void {
  const nth = atomic.load<i32>(THREADS);
  if (nth <= 1) {
    share(job, T, 0, 1);
    return;
  }
  store<i32>(JOB, job);
  store<i32>(TOKENS, T);
  atomic.store<i32>(PENDING, nth - 1);
  atomic.add<i32>(GENERATION, 1);
  atomic.notify(GENERATION, nth - 1);
  share(job, T, 0, nth);
  waitForParts(nth - 1);
}

/**
 * Spins until the workers' parts are done (they are as long as the caller's own). A worker that died
 * never ends its part: after GIVE_UP_MS with no part ending, the trap is runtime.worker, not a hang
 * (runtime/wasm-engine.ts).
 */
function waitForParts(parts: i32): void {
  let polls = 0,
    since = -1.0;
  for (let left = atomic.load<i32>(PENDING); left != 0; left = atomic.load<i32>(PENDING)) {
    if (left != parts) {
      parts = left; // a part ended: the clock starts again
      since = -1;
    }
    if (++polls < POLLS) continue;
    polls = 0;
    const t = now();
    if (since < 0) since = t;
    else if (t - since > GIVE_UP_MS) unreachable();
  }
}

/**
 * A worker's loop: thread `tid` takes its share of every job posted, forever (the host ends the
 * worker). `scratch`: the thread's own kernel scratch, where its attention keeps its scores.
 */
export function serve(tid: i32, share: Share, scratch: usize): void {
  keepScoresAt(scratch);
  let seen = 0;
  while (true) {
    let spins = 0;
    while (atomic.load<i32>(GENERATION) == seen)
      if (++spins > SPINS) {
        atomic.wait<i32>(GENERATION, seen, -1);
        spins = 0;
      }
    seen = atomic.load<i32>(GENERATION);
    share(load<i32>(JOB), load<i32>(TOKENS), tid, atomic.load<i32>(THREADS));
    atomic.sub<i32>(PENDING, 1);
  }
}

/**
 * Where thread `tid` of `nth` starts in `count` items taken in units of `unit` (the last thread also
 * takes the items past the last whole unit): the kernels then block exactly as they do on one
 * thread (four tokens, or four weight rows, at a time), so a split result equals the unsplit one.
 */
export function cut(count: i32, unit: i32, tid: i32, nth: i32): i32 {
  if (tid >= nth) return count;
  const units = count / unit;
  return <i32>((<i64>units * tid) / nth) * unit;
}
