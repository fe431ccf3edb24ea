// Log lines gathered into few writes (cli/batched-lines.ts), read back from a
// child process's stdout pipe as a log collector reads a container's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BatchedLines, PIPE_BUF } from '../../cli/batched-lines.js';

const LOGGER = fileURLToPath(new URL('../../cli/logger.js', import.meta.url));

/** Runs `body` in a child with `log` a JSON logger; resolves with each chunk its stdout delivered and when (ms after the first). */
function child(body: string): Promise<{ chunks: { at: number; text: string }[]; exitCode: number | null }> {
  const script = `const { writeSync } = await import('node:fs'); const { createLogger } = await import(${JSON.stringify(LOGGER)}); const log = await createLogger('info', 't', 'json'); ${body}`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const chunks: { at: number; text: string }[] = [];
  const started = performance.now();
  proc.stdout.setEncoding('utf8').on('data', (text: string) => chunks.push({ at: performance.now() - started, text }));
  return new Promise((resolve) => proc.on('close', (exitCode) => resolve({ chunks, exitCode })));
}

/** Each line's message, or the line itself where it is not JSON (the MARK a child writes past the logger). */
const lines = (chunks: { text: string }[]): string[] =>
  chunks
    .map((c) => c.text)
    .join('')
    .trimEnd()
    .split('\n')
    .map((l) => (l.startsWith('{') ? `${(JSON.parse(l) as { level: number }).level} ${(JSON.parse(l) as { msg: string }).msg}` : l));

test('info lines wait and then leave together, at most 100 ms later', async () => {
  // MARK is written straight to stdout after the lines: it comes first when they wait.
  const { chunks, exitCode } = await child(
    "for (let i = 0; i < 20; i++) log.info({ i }, 'session closed'); writeSync(1, 'MARK\\n'); setTimeout(() => process.exit(0), 400);",
  );
  assert.equal(exitCode, 0);
  const got = lines(chunks);
  assert.equal(got[0], 'MARK');
  assert.deepEqual(got.slice(1), Array(20).fill('30 session closed'));
  const at = chunks.map((c) => c.at);
  assert.ok(at.at(-1)! - at[0]! < 300, `the lines came ${at.at(-1)! - at[0]!} ms after MARK`);
});

test('a warning leaves at once, after the info lines before it and in their order', async () => {
  // The process then hangs on a timer and is killed: nothing may depend on a clean exit.
  const { chunks } = await child(
    "log.info({}, 'one'); log.info({}, 'two'); log.warn({}, 'three'); writeSync(1, 'MARK\\n'); setTimeout(() => process.kill(process.pid, 'SIGKILL'), 300);",
  );
  assert.deepEqual(lines(chunks), ['30 one', '30 two', '40 three', 'MARK']);
});

test('lines still waiting are written when the process exits', async () => {
  const { chunks, exitCode } = await child("log.info({}, 'last words'); process.exitCode = 3;");
  assert.equal(exitCode, 3);
  assert.deepEqual(lines(chunks), ['30 last words']);
});

test('secrets are redacted at the top of a line and in a logged error', async () => {
  const { chunks } = await child("log.info({ password: 'p1', token: 't1', err: { message: 'm', authResponse: 'a1' } }, 'x');");
  const text = chunks.map((c) => c.text).join('');
  for (const secret of ['p1', 't1', 'a1']) assert.ok(!text.includes(secret), `${secret} not in ${text}`);
  assert.ok(text.includes('[redacted]'));
});

/** A writer that keeps each write, as the pipe would get it. */
function recorder(): { writes: string[]; out: ConstructorParameters<typeof BatchedLines>[0] } {
  const writes: string[] = [];
  return { writes, out: { write: (s: string) => writes.push(s) } as unknown as ConstructorParameters<typeof BatchedLines>[0] };
}

const infoLine = (text: string) => `{"level":30,"msg":"${text}"}\n`;

test('with a write limit, no write is longer than it in bytes: a batch leaves before a line that would take it over', () => {
  const { writes, out } = recorder();
  const batched = new BatchedLines(out, { maxWriteBytes: PIPE_BUF });
  // 3-byte characters: 1,000 UTF-16 units, 3,000 bytes a line, so counting units would let two share a write.
  const wide = infoLine('\u20ac'.repeat(1_000));
  const narrow = infoLine('x'.repeat(900));
  for (const line of [narrow, wide, narrow, wide, wide, narrow]) batched.write(line);
  batched.flush();
  process.off('exit', batched.flush);
  assert.deepEqual(writes.join(''), [narrow, wide, narrow, wide, wide, narrow].join(''), 'every line, in order');
  for (const w of writes) assert.ok(Buffer.byteLength(w) <= PIPE_BUF, `a write of ${Buffer.byteLength(w)} bytes`);
  assert.ok(writes.some((w) => w.length < PIPE_BUF && Buffer.byteLength(w) > PIPE_BUF / 2), 'lines still share writes');
  // A batch just under the limit: the next line leaves with the following batch, not with it.
  assert.equal(writes[0], narrow + wide);
});

test('a line longer than the write limit leaves alone, after what waited before it', () => {
  const { writes, out } = recorder();
  const batched = new BatchedLines(out, { maxWriteBytes: PIPE_BUF });
  const small = infoLine('a');
  const huge = infoLine('y'.repeat(PIPE_BUF * 2));
  batched.write(small);
  batched.write(huge);
  batched.write(small);
  batched.flush();
  process.off('exit', batched.flush);
  assert.deepEqual(writes, [small, huge, small]);
});

test('without a write limit a batch leaves once it reaches the flush size, as one write', () => {
  const { writes, out } = recorder();
  const batched = new BatchedLines(out);
  const line = infoLine('z'.repeat(1_500));
  for (let bytes = 0; bytes < BatchedLines.BYTES; bytes += Buffer.byteLength(line)) batched.write(line);
  process.off('exit', batched.flush);
  assert.equal(writes.length, 1);
  assert.ok(Buffer.byteLength(writes[0]!) >= BatchedLines.BYTES);
});
