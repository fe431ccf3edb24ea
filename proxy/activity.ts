// How the proxy tells the rest of the system which projects have clients.
// The session only registers and unregisters; whoever implements this samples
// the sockets' byte counters on its own schedule, so the query path pays nothing.
import type { Socket } from 'node:net';

export interface ActivityTracker {
  /** A client of `project` starts relaying over `socket`; call the returned function when it ends. */
  track(project: string, socket: Socket): () => void;
  close(): Promise<void>;
}
