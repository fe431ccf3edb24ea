// Other proxies, for a KILL that names a session one of them issued (its instance
// bits say which). Without a shared Redis there are none to ask: such a KILL gets
// 1094 Unknown thread id (README, "KILL").

/** What another proxy says of one of its sessions. */
export interface RemoteTarget {
  compute: string;
  user: string;
  /** The compute thread serving it now (already aimed at, if on the killer's compute), or null between statements. */
  thread: number | null;
}

export interface KillPeers {
  /**
   * Where session `id` runs now, asked of the proxy that issued it; that proxy aims
   * at the thread when the session is on `compute` (the killer's). Null when no proxy
   * answers for it (gone, or no such proxy) within a short bound.
   */
  locate(id: number, compute: string): Promise<RemoteTarget | null>;
  /** End session `id` of another proxy; false when none did. */
  end(id: number): Promise<boolean>;
  close(): Promise<void>;
}
