// Asking the control plane for the computes' greeting (proxy/control-greeting.ts): only
// until the profile has learned one, never more than ten times a second, and a client
// never waits more than a quarter second for the answer, whatever the control plane does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { ControlGreeting } from '../../proxy/control-greeting.js';
import { GreetingProfile } from '../../proxy/greeting-profile.js';
import type { GreetingFacts } from '../../backend/greeting-facts.js';
import { testLogger } from '../helpers/logger.js';

const UTF8MB4: GreetingFacts = { serverVersion: '5.5.5-10.11.19-MariaDB', capabilities: 0xa1fff7fe >>> 0, mariadbCapabilities: 0x1d, charset: 45 };
const later = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('an answer is learned once, and nothing is asked after that', async () => {
  const profile = new GreetingProfile();
  let asked = 0;
  const g = new ControlGreeting(async () => (asked++, UTF8MB4), profile, testLogger());
  await g.beforeGreeting();
  assert.equal(profile.charset, 45);
  assert.equal(profile.learned, true);
  await later(150);
  assert.equal(g.beforeGreeting(), null, 'learned: nothing to wait for');
  assert.equal(asked, 1);
});

test('no compute yet (404): the built-in profile, and at most one question per 100 ms however many clients come', async () => {
  const profile = new GreetingProfile();
  let asked = 0;
  const g = new ControlGreeting(async () => void asked++, profile, testLogger());
  for (let i = 0; i < 20; i++) await g.beforeGreeting();
  assert.equal(asked, 1);
  assert.equal(profile.learned, false);
  assert.equal(profile.charset, 8);
  await later(120);
  await g.beforeGreeting();
  assert.equal(asked, 2, 'asked again after the gap');
});

test('a control plane that does not answer holds a client a quarter second at most; one that fails is said once', { timeout: 5_000 }, async () => {
  const profile = new GreetingProfile();
  const g = new ControlGreeting(() => new Promise<undefined>(() => {}), profile, testLogger());
  const started = performance.now();
  await g.beforeGreeting();
  const waited = performance.now() - started;
  assert.ok(waited >= 240 && waited < 1_000, `waited ${waited.toFixed(0)} ms`);

  const lines: string[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
  const failing = new ControlGreeting(async () => Promise.reject(new Error('connection refused')), new GreetingProfile(), pino({ level: 'info' }, sink));
  for (let i = 0; i < 3; i++) {
    await failing.beforeGreeting();
    await later(110);
  }
  assert.equal(lines.filter((l) => l.includes('could not ask the control plane')).length, 1);
});
