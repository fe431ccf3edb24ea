// What every state store backend must do, as tests run against SQLite (unit)
// and PostgreSQL (integration) alike: compare-and-set changes, claims, the
// event written with a transition, fencing, the wake's fast path, instances,
// leader locks and change notifications between two control planes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ComputeRecord, ProjectRecord } from '../../control-plane/records.js';
import { SCHEMA_VERSION } from '../../control-plane/store/schema.js';
import { FencedError, type StateStore } from '../../control-plane/store/state-store.js';
import { testCompute, testProject } from './store-records.js';

export interface StoreFixture {
  /** Opens another store on the same database (another control plane). */
  open(): Promise<StateStore>;
  /** One SQL statement straight on the database, outside the store. */
  raw(sql: string): Promise<unknown[]>;
}

const project = (id: string): ProjectRecord => testProject(id);
const compute = (projectId: string, extra: Partial<ComputeRecord> = {}): ComputeRecord =>
  testCompute(projectId, { control: { user: 'wakeproxy_ctl', password: 'secret-control-password' }, ...extra });

const ctx = (by = 'cp-a') => ({ at: Date.now(), by });

export function stateStoreContract(label: string, fixture: () => StoreFixture): void {
  test(`${label}: the schema is at the current version and a newer one is refused`, async (t) => {
    const f = fixture();
    const store = await f.open();
    t.after(() => store.close());
    const [row] = (await f.raw("SELECT value FROM meta WHERE key = 'schema_version'")) as Array<{ value: string }>;
    assert.equal(Number(row!.value), SCHEMA_VERSION);
    await f.raw("UPDATE meta SET value = '999' WHERE key = 'schema_version'");
    await assert.rejects(f.open(), /schema is version 999, newer than this control plane's/);
    await f.raw(`UPDATE meta SET value = '${SCHEMA_VERSION}' WHERE key = 'schema_version'`);
  });

  test(`${label}: projects and computes round-trip; a taken name and a second compute are refused`, async (t) => {
    const store = await fixture().open();
    t.after(() => store.close());
    assert.equal(await store.createProject(project('rt'), compute('rt', { claim: { op: 'provision-project', holder: 'cp-a', since: 5 } })), true);
    assert.equal(await store.createProject(project('rt'), compute('rt')), false);
    assert.deepEqual(await store.getProject('rt'), project('rt'));
    const c = (await store.getCompute('rt-c1'))!;
    assert.deepEqual(c.claim, { op: 'provision-project', holder: 'cp-a', since: 5 });
    assert.deepEqual(c.control, { user: 'wakeproxy_ctl', password: 'secret-control-password' });
    assert.equal(await store.addCompute('rt', { ...compute('rt'), id: 'rt-c2' }, 2), false, 'it has a compute');
    assert.equal(await store.removeCompute('rt-c1', c.version, ctx()), true);
    assert.equal((await store.getProject('rt'))!.computeId, null);
    assert.equal(await store.addCompute('rt', { ...compute('rt'), id: 'rt-c2' }, 2), true);
    assert.deepEqual([(await store.getProject('rt'))!.computeId, (await store.getProject('rt'))!.computeSeq], ['rt-c2', 2]);
    assert.deepEqual((await store.projectEvents('rt', Date.now() + 1)).map((e) => [e.computeId, e.state, e.run]), [['rt-c1', 'deleted', false]]);
  });

  test(`${label}: a change applies only to the version it was decided on, with its event in the same transaction`, async (t) => {
    const f = fixture();
    const [a, b] = [await f.open(), await f.open()];
    t.after(async () => {
      await a.close();
      await b.close();
    });
    await a.createProject(project('cas'), compute('cas'));
    const read = (await a.getCompute('cas-c1'))!;
    // Two control planes decide on the same row at once: one claim wins.
    const results = await Promise.all([
      a.changeCompute('cas-c1', read.version, { state: 'starting', claim: { op: 'resume', holder: 'cp-a' }, resumed: true }, ctx('cp-a')),
      b.changeCompute('cas-c1', read.version, { state: 'starting', claim: { op: 'resume', holder: 'cp-b' }, resumed: true }, ctx('cp-b')),
    ]);
    const winners = results.filter((r) => r !== undefined);
    assert.equal(winners.length, 1);
    const won = winners[0]!;
    assert.equal(won.version, read.version + 1);
    assert.equal(won.resumeCount, 1);
    const claimant = won.claim!.holder;
    const active = await b.changeCompute(
      'cas-c1',
      won.version,
      { state: 'active', claim: null, endpoint: { host: '127.0.0.1', port: 3999 }, owner: claimant },
      ctx(claimant),
    );
    assert.equal(active?.state, 'active');
    assert.equal(active?.claim, undefined);
    assert.deepEqual(active?.endpoint, { host: '127.0.0.1', port: 3999 });
    // A claim-only change writes no event; a transition does.
    await a.changeCompute('cas-c1', active!.version, { claim: { op: 'freeze', holder: 'cp-a' } }, ctx());
    const events = await a.projectEvents('cas', Date.now() + 1);
    assert.deepEqual(events.map((e) => [e.state, e.run, e.by]), [
      ['starting', true, claimant],
      ['active', true, claimant],
    ]);
  });

  test(`${label}: the wake's fast path answers only an active compute with nothing in flight, and moves its version`, async (t) => {
    const store = await fixture().open();
    t.after(() => store.close());
    await store.createProject(project('fast'), compute('fast'));
    assert.equal(await store.wakeIfActive('fast-c1', 1_000), undefined, 'stopped');
    const c = (await store.getCompute('fast-c1'))!;
    const active = (await store.changeCompute('fast-c1', c.version, { state: 'active', endpoint: { host: 'h', port: 1 } }, ctx()))!;
    const woken = await store.wakeIfActive('fast-c1', 123_456);
    assert.equal(woken?.lastWakeAt, 123_456);
    assert.equal(woken?.version, active.version + 1, 'a decision made before the wake can no longer apply');
    await store.changeCompute('fast-c1', woken!.version, { claim: { op: 'freeze', holder: 'cp-a' } }, ctx());
    assert.equal(await store.wakeIfActive('fast-c1', 2_000), undefined, 'a freeze is in flight');
  });

  test(`${label}: a change fenced by a leader epoch is refused once another leader took over`, async (t) => {
    const f = fixture();
    const [a, b] = [await f.open(), await f.open()];
    t.after(async () => {
      await a.close();
      await b.close();
    });
    await a.createProject(project('fence'), compute('fence', { state: 'active' }));
    const lockA = a.leaderLock('fence-test', 'cp-a', 10_000);
    const lockB = b.leaderLock('fence-test', 'cp-b', 10_000);
    const epochA = await lockA.acquireOrRenew();
    assert.ok(epochA !== undefined);
    assert.equal(await lockB.acquireOrRenew(), undefined, 'one holder at a time');
    assert.equal(await lockA.acquireOrRenew(), epochA, 'renewal keeps the epoch');
    const c = (await a.getCompute('fence-c1'))!;
    const claimed = await a.changeCompute('fence-c1', c.version, { claim: { op: 'freeze', holder: 'cp-a' } }, { ...ctx(), fence: { name: 'fence-test', epoch: epochA } });
    assert.ok(claimed, 'the leader may change it');
    await lockA.release();
    const epochB = await lockB.acquireOrRenew();
    assert.equal(epochB, epochA + 1, 'a new holder bumps the epoch');
    await assert.rejects(
      a.changeCompute('fence-c1', claimed.version, { state: 'frozen', claim: null }, { ...ctx(), fence: { name: 'fence-test', epoch: epochA } }),
      (err: unknown) => err instanceof FencedError && err.current === epochB,
    );
    assert.equal((await a.getCompute('fence-c1'))!.version, claimed.version, 'nothing changed');
    assert.deepEqual(await a.projectEvents('fence', Date.now() + 1), []);
    await lockB.release();
  });

  test(`${label}: a holder that stops renewing loses the lock after its lease`, async (t) => {
    const f = fixture();
    const [a, b] = [await f.open(), await f.open()];
    t.after(async () => {
      await a.close();
      await b.close();
    });
    const lockA = a.leaderLock('lease-test', 'cp-a', 300);
    const lockB = b.leaderLock('lease-test', 'cp-b', 300);
    const epochA = await lockA.acquireOrRenew();
    assert.ok(epochA !== undefined);
    assert.equal(await lockB.acquireOrRenew(), undefined);
    const deadline = Date.now() + 5_000;
    let epochB: number | undefined;
    while (epochB === undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      epochB = await lockB.acquireOrRenew();
    }
    assert.ok(epochB !== undefined && epochB > epochA, `taken over after the lease (epoch ${epochB})`);
    assert.notEqual(await lockA.acquireOrRenew(), epochA, 'the old holder no longer has its epoch');
    await lockA.release();
    await lockB.release();
  });

  test(`${label}: accounts, instances and open usage periods`, async (t) => {
    const store = await fixture().open();
    t.after(() => store.close());
    await store.createProject(project('misc'), compute('misc'));
    const accounts = { readAt: new Date(7).toISOString(), accounts: [], policy: { defaultPasswordLifetime: 0, disconnectOnExpiredPassword: false, maxPasswordErrors: 0 } };
    await store.saveAccounts('misc-c1', accounts as never);
    assert.deepEqual(await store.getAccounts('misc-c1'), accounts);

    await store.registerInstance({ id: 'cp-x', host: 'h', pid: 1, locality: 'l', placement: 'p', startedAt: 1 });
    assert.equal(await store.heartbeat('cp-x'), true);
    const listed = (await store.listInstances()).find((i) => i.id === 'cp-x')!;
    assert.ok(listed.silentMs >= 0 && listed.silentMs < 5_000, `silent ${listed.silentMs} ms`);
    await store.removeInstance('cp-x');
    assert.equal(await store.heartbeat('cp-x'), false);

    const c = (await store.getCompute('misc-c1'))!;
    const running = (await store.changeCompute('misc-c1', c.version, { state: 'active' }, ctx()))!;
    const open = (await store.openRunningPeriods()).filter((e) => e.computeId === 'misc-c1');
    assert.deepEqual(open.map((e) => e.state), ['active']);
    await store.changeCompute('misc-c1', running.version, { state: 'frozen' }, ctx());
    assert.deepEqual((await store.openRunningPeriods()).filter((e) => e.computeId === 'misc-c1'), []);
  });

  test(`${label}: a change is announced to another control plane on the same store`, async (t) => {
    const f = fixture();
    const [a, b] = [await f.open(), await f.open()];
    t.after(async () => {
      await a.close();
      await b.close();
    });
    await a.createProject(project('notify'), compute('notify'));
    const heardByA = new Promise<string>((r) => a.onComputeChange(r));
    const c = (await b.getCompute('notify-c1'))!;
    const heardByB = new Promise<string>((r) => b.onComputeChange(r));
    await b.changeCompute('notify-c1', c.version, { state: 'starting', claim: { op: 'resume', holder: 'cp-b' } }, ctx('cp-b'));
    assert.equal(await heardByB, 'notify-c1', 'the writer hears its own change');
    if (a.kind === 'postgres') {
      // SQLite has no cross-process notification: waiters there poll.
      assert.equal(await heardByA, 'notify-c1');
    }
  });
}
