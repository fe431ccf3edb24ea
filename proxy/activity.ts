// How the proxy tells the rest of the system which projects have clients.
// The session only registers and unregisters; whoever implements this samples
// the sockets' byte counters on its own schedule, so the query path pays nothing.
import type { Socket } from 'node:net';

export interface ActivityTracker {
  /** A client of `project` starts relaying over `socket`; call the returned function when it ends. */
  track(project: string, socket: Socket): () => void;
  /**
   * When each project was last active as reported to the idle scheduler (epoch ms): a
   * client came or went, or bytes moved by the last report interval.
   */
  lastActivity?(): ReadonlyMap<string, number>;
  close(): Promise<void>;
}
