// Until a proxy in front of a control plane has met a compute (no login yet, nothing
// in Redis), it asks the control plane for the greeting of the compute it last started
// (GET /api/v1/greeting), so even a brand-new deployment's first clients are greeted
// as the computes greet, not with the built-in profile (latin1), from which drivers
// such as mysqlnd, Connector/J and the npm mariadb connector take their collation.
//
// Off the path once anything is learned: then beforeGreeting() answers null and nothing
// is asked again. Until then, at most ten questions a second, and a client waits for
// the one under way at most WAIT_MS before it is greeted with what the proxy has.
import type { Logger } from 'pino';
import type { GreetingFacts } from '../backend/greeting-facts.js';
import type { GreetingProfile } from './greeting-profile.js';

const WAIT_MS = 250;
const GAP_MS = 100;

export class ControlGreeting {
  private asking: Promise<void> | null = null;
  private lastAskAt = -Infinity;
  private warned = false;

  constructor(
    private readonly fetch: () => Promise<GreetingFacts | undefined>,
    private readonly profile: GreetingProfile,
    private readonly logger: Logger,
  ) {}

  /** Null once the profile has learned a compute's greeting (the usual case); else a bounded wait for the control plane's answer. */
  beforeGreeting(): Promise<void> | null {
    if (this.profile.learned) return null;
    if (!this.asking && performance.now() - this.lastAskAt >= GAP_MS) this.ask();
    const asking = this.asking;
    if (!asking) return null;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, WAIT_MS);
      void asking.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private ask(): void {
    this.lastAskAt = performance.now();
    this.asking = this.fetch()
      .then(
        (facts) => {
          if (!facts || this.profile.learned) return;
          this.profile.learn(facts);
          this.logger.info({ serverVersion: facts.serverVersion, charset: facts.charset }, 'greeting clients as the control plane last saw a compute greet');
        },
        (err: unknown) => {
          // Once: a control plane that is down says so elsewhere, and the built-in profile still serves.
          if (this.warned) return;
          this.warned = true;
          this.logger.warn({ err }, 'could not ask the control plane for its computes\' greeting; greeting with the built-in profile until a login shows one');
        },
      )
      .finally(() => {
        this.asking = null;
      });
  }
}
