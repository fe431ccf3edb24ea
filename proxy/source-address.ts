// The address computes see this proxy connect from: accounts are matched against
// it (a compute runs with --skip-name-resolve and knows its clients by IP), so the
// proxy must judge a login from the address its own connection will come from.
//
// Learned from the local address of every compute connection the proxy makes.
// Before the first one: the source address the kernel picks toward a probe host
// (the static backend or the control API; a connected UDP socket sends nothing),
// else loopback.
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { normalizeIp } from '../accounts/host-match.js';

const LOOPBACK = '127.0.0.1';

export class SourceAddress {
  private learned: string | undefined;
  private probed: string | undefined;
  /** Settles once the probe has an answer (or none). */
  readonly ready: Promise<void>;

  constructor(probeHost?: string) {
    this.ready = probeHost ? this.probe(probeHost) : Promise.resolve();
  }

  /** The address a compute sees this proxy's next connection come from. */
  current(): string {
    return this.learned ?? this.probed ?? LOOPBACK;
  }

  /** A compute connection's local address; returns it normalized (undefined if the socket has none). */
  learn(localAddress: string | undefined): string | undefined {
    if (!localAddress) return undefined;
    this.learned = normalizeIp(localAddress);
    return this.learned;
  }

  private probe(host: string): Promise<void> {
    const bare = host.replace(/^\[(.*)\]$/, '$1');
    return new Promise<void>((resolve) => {
      const socket = createSocket(isIPv6(bare) ? 'udp6' : 'udp4');
      let finished = false;
      const done = () => {
        if (finished) return;
        finished = true;
        socket.close();
        resolve();
      };
      socket.on('error', done);
      // Port 9 (discard); connect() on UDP only chooses a route and a source address.
      socket.connect(9, bare, () => {
        try {
          this.probed = normalizeIp(socket.address().address);
        } catch {
          // no route: loopback stays the default
        }
        done();
      });
    });
  }
}
