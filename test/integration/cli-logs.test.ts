// Logs as the commands write them: JSON lines whose keys each appear once (pino
// writes a child's bindings after its parent's without merging, so a component bound
// twice would repeat the key, which most JSON tools reject), and readable lines for
// a person when asked (`--log-format pretty`, or `dev`'s default).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { signalChild, startLoggedChild } from '../helpers/logged-child.js';

const MAIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wake-proxy-logs-'));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The top-level keys of one JSON object text, in order, repeats kept (JSON.parse keeps only the last). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(line.slice(i, j + 1)) as string);
      expectKey = false;
      i = j;
    } else if (ch === '{' || ch === '[') {
      depth++;
      expectKey = ch === '{' && depth === 1;
    } else if (ch === '}' || ch === ']') depth--;
    else if (ch === ',' && depth === 1) expectKey = true;
  }
  return keys;
}

function repeatedKeys(line: string): string[] {
  const keys = topLevelKeys(line);
  return keys.filter((k, i) => keys.indexOf(k) !== i);
}

test('the key reader sees a repeated key (the check below can fail)', () => {
  assert.deepEqual(repeatedKeys('{"a":1,"component":"x","b":{"component":2},"component":"y"}'), ['component']);
  assert.deepEqual(repeatedKeys('{"a":"{\\"a\\":1}","b":[1,{"a":2}]}'), []);
});

test('dev --log-format json: every line is JSON with each key once, control plane and proxy alike', { timeout: 120_000 }, async () => {
  const dev = await startLoggedChild({
    args: ['dev', '--log-format', 'json', '--data-dir', join(dir, 'dev'), '--host', '127.0.0.1', '--port', '0',
      '--admin-host', '127.0.0.1', '--admin-port', '0', '--control-port', '0', '--idle-timeout', '1s', '--report-interval', '1s'],
    what: 'dev',
    timeoutMs: 90_000,
    ready: (rec) => (rec.msg === 'proxy listening' ? true : undefined),
  });
  try {
    // Let the idle scheduler (a child of the control plane's logger) write a pass or two.
    await new Promise((r) => setTimeout(r, 2_500));
  } finally {
    await signalChild(dev, 'SIGTERM', true);
  }
  const names = new Set(dev.lines.map((l) => (JSON.parse(l) as { name?: string }).name));
  assert.deepEqual([...names].sort(), ['wake-proxy', 'wake-proxy-control-plane']);
  const components = new Set(dev.lines.map((l) => (JSON.parse(l) as { component?: string }).component).filter(Boolean));
  assert.ok(components.size > 0, `some lines come from a component's logger: ${dev.lines.slice(0, 5).join('\n')}`);
  for (const line of dev.lines) assert.deepEqual(repeatedKeys(line), [], line);
});

test('proxy --log-format pretty writes readable lines, not JSON', async () => {
  const out = await stdoutUntilListening(['proxy', '--backend', '127.0.0.1:1', '--host', '127.0.0.1', '--port', '0', '--admin-port', '0', '--log-format', 'pretty']);
  assert.match(out, /INFO \(wake-proxy\): proxy listening/);
  assert.ok(!out.split('\n').some((l) => l.startsWith('{')), out);
});

/** Runs a command until it writes "proxy listening", then stops it; its stdout. */
async function stdoutUntilListening(args: string[]): Promise<string> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((r) => child.once('exit', r));
  let out = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "proxy listening" within 10 s: ${out}`)), 10_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (!out.includes('proxy listening')) return;
        clearTimeout(timer);
        resolve();
      });
    });
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  return out;
}
