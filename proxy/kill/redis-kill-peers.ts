// KILLs between proxies over Redis publish/subscribe, as Neon's proxies pass cancel
// requests: a KILL naming a session another proxy issued is published on that
// proxy's channel (its instance number is in the id); the proxy answers on the
// asker's own channel where the session's statement runs now (aiming at that thread,
// so its connection is never lent on), or ends a pooled session between statements.
//
// PUBLISH says how many subscribers got a request, so the asker waits for exactly
// that many answers (none: nobody has that instance, 1094 at once), each within a
// short bound. Messages are small JSON objects, checked field by field: anything
// unexpected is dropped (an asker then times out and answers 1094). Channels (with
// the activity keys' prefix, docs/activity-keys.md):
//   <prefix>kill:<instance>        requests for the proxy with that instance number
//   <prefix>kill-reply:<token>     answers for the proxy that asked
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { openRedis } from '../../util/redis.js';
import type { KillPeers, RemoteTarget } from './kill-peers.js';
import type { SessionRegistry } from './session-registry.js';
import { instanceOf } from './session-ids.js';

export interface RedisKillPeersOptions {
  url: string;
  keyPrefix: string;
  registry: SessionRegistry;
  logger: Logger;
  /** Bound on an answer from another proxy; default 1500 ms. */
  answerTimeoutMs?: number;
}

type Request = { op: 'locate'; id: number; compute: string; reply: string; rid: number } | { op: 'end'; id: number; reply: string; rid: number };
type Answer = { rid: number; found: boolean; compute?: string; user?: string; thread?: number | null };

interface Pending {
  expected: number;
  answers: Answer[];
  done: (answers: Answer[]) => void;
  timer: NodeJS.Timeout;
}

export class RedisKillPeers implements KillPeers {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly replyChannel: string;
  private readonly requestChannel: string;
  private readonly pending = new Map<number, Pending>();
  private readonly timeoutMs: number;
  private nextRid = 1;
  private subscribed = false;

  constructor(private readonly o: RedisKillPeersOptions) {
    this.timeoutMs = o.answerTimeoutMs ?? 1_500;
    this.pub = openRedis(o.url, { name: 'wake-proxy-kill', commandTimeoutMs: this.timeoutMs });
    // A subscriber connection queues nothing either: while Redis is away, KILLs to other proxies fail fast.
    this.sub = openRedis(o.url, { name: 'wake-proxy-kill-sub', commandTimeoutMs: this.timeoutMs });
    this.replyChannel = `${o.keyPrefix}kill-reply:${randomBytes(9).toString('base64url')}`;
    this.requestChannel = `${o.keyPrefix}kill:${o.registry.instance}`;
    this.sub.on('message', (channel: string, text: string) => this.onMessage(channel, text));
    // Once subscribed, ioredis subscribes again after each reconnect by itself.
    this.sub.on('ready', () => void this.subscribe());
  }

  async locate(id: number, compute: string): Promise<RemoteTarget | null> {
    const answers = await this.ask(id, (rid) => ({ op: 'locate', id, compute, reply: this.replyChannel, rid }));
    const found = answers.find((a) => a.found && typeof a.compute === 'string' && typeof a.user === 'string');
    return found ? { compute: found.compute!, user: found.user!, thread: found.thread ?? null } : null;
  }

  async end(id: number): Promise<boolean> {
    const answers = await this.ask(id, (rid) => ({ op: 'end', id, reply: this.replyChannel, rid }));
    return answers.some((a) => a.found);
  }

  async close(): Promise<void> {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.done(p.answers);
    }
    this.pending.clear();
    for (const r of [this.sub, this.pub]) {
      const quit = r.status === 'ready' ? r.quit().catch(() => undefined) : Promise.resolve();
      await Promise.race([quit, new Promise((done) => setTimeout(done, 1_000).unref())]);
      r.disconnect();
    }
  }

  /** Listen for requests and answers; tried whenever the connection is ready, and before an ask. */
  private async subscribe(): Promise<boolean> {
    if (this.subscribed) return true;
    try {
      await this.sub.subscribe(this.requestChannel, this.replyChannel);
      this.subscribed = true;
    } catch (err) {
      this.o.logger.debug({ err: (err as Error).message }, 'cannot subscribe to KILL requests in Redis yet');
    }
    return this.subscribed;
  }

  /** Publish a request to the proxy that issued `id` and collect its answers (none on any failure). */
  private async ask(id: number, request: (rid: number) => Request): Promise<Answer[]> {
    const rid = this.nextRid++;
    const channel = `${this.o.keyPrefix}kill:${instanceOf(id)}`;
    try {
      if (!(await this.subscribe())) throw new Error('not subscribed to answers (Redis unreachable)');
      const answered = new Promise<Answer[]>((done) => {
        const timer = setTimeout(() => this.finish(rid), this.timeoutMs);
        this.pending.set(rid, { expected: Number.POSITIVE_INFINITY, answers: [], done, timer });
      });
      const receivers = await this.pub.publish(channel, JSON.stringify(request(rid)));
      const p = this.pending.get(rid);
      if (p) {
        p.expected = receivers;
        if (p.answers.length >= receivers) this.finish(rid);
      }
      return await answered;
    } catch (err) {
      this.finish(rid);
      this.o.logger.warn({ err: (err as Error).message, id }, 'could not ask the other proxies about a KILL');
      return [];
    }
  }

  private finish(rid: number): void {
    const p = this.pending.get(rid);
    if (!p) return;
    this.pending.delete(rid);
    clearTimeout(p.timer);
    p.done(p.answers);
  }

  private onMessage(channel: string, text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (channel === this.replyChannel) this.onAnswer(msg);
    else if (channel === this.requestChannel) this.onRequest(msg);
  }

  private onAnswer(msg: unknown): void {
    const a = msg as Partial<Answer> | null;
    if (!a || typeof a.rid !== 'number' || typeof a.found !== 'boolean') return;
    if (a.thread !== undefined && a.thread !== null && !Number.isSafeInteger(a.thread)) return;
    const p = this.pending.get(a.rid);
    if (!p) return;
    p.answers.push(a as Answer);
    if (p.answers.length >= p.expected) this.finish(a.rid);
  }

  private onRequest(msg: unknown): void {
    const r = msg as Partial<Request> | null;
    if (!r || typeof r.rid !== 'number' || typeof r.id !== 'number' || typeof r.reply !== 'string') return;
    if (!r.reply.startsWith(`${this.o.keyPrefix}kill-reply:`)) return;
    const target = this.o.registry.target(r.id);
    let answer: Answer;
    if (r.op === 'locate' && typeof r.compute === 'string') {
      answer = target
        ? { rid: r.rid, found: true, compute: target.compute, user: target.user, thread: target.compute === r.compute ? target.aim() : null }
        : { rid: r.rid, found: false };
    } else if (r.op === 'end') {
      target?.end();
      answer = { rid: r.rid, found: target !== undefined };
    } else {
      return;
    }
    this.pub.publish(r.reply, JSON.stringify(answer)).catch((err: unknown) => {
      this.o.logger.warn({ err: (err as Error).message, id: r.id }, 'could not answer another proxy about a KILL');
    });
  }
}
