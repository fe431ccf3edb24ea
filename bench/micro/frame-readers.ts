// Micro-benchmark of the frame readers on the relays' hot path: PacketFramer (client
// bytes in transaction mode), ClientCommandTracker (client bytes in session mode), the
// pipe relay's client side (CommandGate, which watches for KILL; straight writes before),
// ReplyTracker (compute bytes in transaction mode) and PacketChannel (handshakes and
// the proxy's own queries). Each stream of frame-streams.ts goes through each reader
// in the chunks a socket would deliver.
//
//   node dist/bench/micro/frame-readers.js [--quick] [--against OTHER/dist]
//
// With --against, the same readers are also loaded from another build (say, of the
// commit before a change) and the two alternate round by round in one process, so a
// noisy, shared machine slows both alike; the table then has a column for each and
// their ratio. Reported per reader and stream: ns per logical packet (median and best
// of the timed rounds), GCs per 10k packets during those rounds, and heap bytes
// allocated per packet, measured in a child process whose young generation is large
// enough that one round runs without a GC (so the heapUsed delta is what it allocated).
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GCProfiler } from 'node:v8';
import { buildStreams, type Stream } from './frame-streams.js';
import { makeReaders, type Reader } from './frame-reader-cases.js';

interface Result {
  medianNs: number;
  bestNs: number;
  gcsPer10k: number;
  heapBytes: number | null;
}

/** GCs while `fn` runs (GCProfiler reports synchronously; a PerformanceObserver would not). */
function countingGcs(fn: () => void): number {
  const profiler = new GCProfiler();
  profiler.start();
  fn();
  return profiler.stop()?.statistics.length ?? 0;
}

/**
 * Times rounds of each reader in turn (one, or a before/after pair), interleaved, the
 * first each round taking turns: whichever runs second would otherwise pay for the GCs
 * the first one's garbage brings on (2x the GCs on the 1 MiB rows, measured).
 */
function time(readers: Reader[], s: Stream, quick: boolean): Array<Omit<Result, 'heapBytes'>> {
  const budget = (quick ? 150e6 : 600e6) * readers.length;
  const samples: number[][] = readers.map(() => []);
  const gcs = readers.map(() => 0);
  let spent = 0;
  let rounds = 0;
  while (rounds < 5 || (spent < budget && rounds < 300)) {
    const order = rounds % 2 === 0 ? readers : [...readers].reverse();
    order.forEach((r) => {
      const i = readers.indexOf(r);
      gcs[i]! += countingGcs(() => {
        const t0 = process.hrtime.bigint();
        r.run(s);
        const dt = Number(process.hrtime.bigint() - t0);
        spent += dt;
        samples[i]!.push(dt / s.packets);
      });
    });
    rounds++;
  }
  return samples.map((xs, i) => {
    xs.sort((a, b) => a - b);
    return { medianNs: xs[xs.length >> 1]!, bestNs: xs[0]!, gcsPer10k: (gcs[i]! * 10_000) / (rounds * s.packets) };
  });
}

/** Heap bytes per packet of one round, or null if every try saw a GC (the delta then means nothing). */
function allocated(r: Reader, s: Stream): number | null {
  const gc = (globalThis as { gc?: () => void }).gc!;
  let best: number | null = null;
  for (let i = 0; i < 3; i++) {
    gc();
    let h0 = 0;
    let h1 = 0;
    const gcs = countingGcs(() => {
      h0 = process.memoryUsage().heapUsed;
      r.run(s);
      h1 = process.memoryUsage().heapUsed;
    });
    if (gcs > 0) continue;
    const perPacket = Math.max(0, h1 - h0) / s.packets;
    best = best === null ? perPacket : Math.min(best, perPacket);
  }
  return best;
}

async function load(dist: string): Promise<Reader[]> {
  const at = (path: string) => import(pathToFileURL(resolve(dist, path)).href);
  const [protocol, tracker, channel, gate] = await Promise.all([
    at('protocol/index.js'),
    at('relay/command-tracker.js'),
    at('socket/packet-channel.js'),
    at('relay/command-gate.js').catch(() => ({})),
  ]);
  return makeReaders({ ...protocol, ...tracker, ...channel, ...gate });
}

const OWN_DIST = resolve(fileURLToPath(import.meta.url), '../../..');

function cases(readers: Reader[], streams: Stream[]): Array<[number, Stream]> {
  const out: Array<[number, Stream]> = [];
  for (const s of streams) readers.forEach((r, i) => r.accepts(s) && out.push([i, s]));
  return out;
}

async function allocationPass(dist: string): Promise<void> {
  const readers = await load(dist);
  const streams = buildStreams();
  const all = cases(readers, streams);
  for (const [i, s] of all) readers[i]!.check(s); // every reader warm first, as in a proxy process
  const out: Array<number | null> = all.map(([i, s]) => allocated(readers[i]!, s));
  process.stdout.write(JSON.stringify(out));
}

function allocationsOf(dist: string): Array<number | null> {
  const child = spawnSync(
    process.execPath,
    ['--expose-gc', '--min-semi-space-size=256', '--max-semi-space-size=256', fileURLToPath(import.meta.url), '--alloc-pass', dist],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  if (child.status !== 0) throw new Error(`allocation pass failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as Array<number | null>;
}

const fmt = (n: number | null, digits = 1) => (n === null ? 'n/a' : n.toFixed(digits));

async function main(args: string[]): Promise<void> {
  if (args[0] === '--alloc-pass') return allocationPass(args[1]!);
  const quick = args.includes('--quick');
  const againstAt = args.indexOf('--against');
  const dists = againstAt >= 0 ? [resolve(args[againstAt + 1]!), OWN_DIST] : [OWN_DIST];
  const sides = await Promise.all(dists.map(load));
  const heaps = dists.map(allocationsOf);
  const streams = buildStreams();
  const all = cases(sides[0]!, streams);
  for (let i = 0; i < 3; i++) for (const readers of sides) for (const [r, s] of all) readers[r]!.check(s);

  const results = all.map(([r, s], n) =>
    time(sides.map((readers) => readers[r]!), s, quick).map((t, side): Result => ({ ...t, heapBytes: heaps[side]![n]! })),
  );
  if (sides.length === 1) {
    console.log('| reader | stream | ns/packet (median) | best | GCs per 10k packets | heap B/packet |');
    console.log('|---|---|---:|---:|---:|---:|');
    all.forEach(([r, s], n) => {
      const x = results[n]![0]!;
      console.log(`| ${sides[0]![r]!.name} | ${s.name} | ${fmt(x.medianNs)} | ${fmt(x.bestNs)} | ${fmt(x.gcsPer10k, 2)} | ${fmt(x.heapBytes)} |`);
    });
    return;
  }
  console.log(`before: ${dists[0]}\nafter: ${dists[1]}\n`);
  console.log('| reader | stream | ns/packet before | after | after/before (median) | (best) | heap B/packet before | after | GCs/10k before | after |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  all.forEach(([r, s], n) => {
    const [b, a] = results[n]! as [Result, Result];
    console.log(
      `| ${sides[0]![r]!.name} | ${s.name} | ${fmt(b.medianNs)} | ${fmt(a.medianNs)} | ${(a.medianNs / b.medianNs).toFixed(2)} | ` +
        `${(a.bestNs / b.bestNs).toFixed(2)} | ${fmt(b.heapBytes)} | ${fmt(a.heapBytes)} | ${fmt(b.gcsPer10k, 2)} | ${fmt(a.gcsPer10k, 2)} |`,
    );
  });
}

await main(process.argv.slice(2));
