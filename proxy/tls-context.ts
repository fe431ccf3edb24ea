// The proxy's certificate, reloadable without dropping connections: new
// handshakes use the newest context, established sessions keep theirs.
import { readFileSync, watchFile, unwatchFile } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export class TlsContextHolder {
  private ctx: SecureContext;
  private watching = false;

  constructor(
    private readonly files: TlsFiles,
    private readonly logger: Logger,
  ) {
    // At start a bad certificate is fatal: better not to run than to run without TLS.
    this.ctx = load(files);
  }

  get context(): SecureContext {
    return this.ctx;
  }

  /** Load the files again; on failure keep serving with the previous certificate. */
  reload(): boolean {
    return this.tryReload() === null;
  }

  /** As reload(), saying why it failed (null: reloaded). */
  tryReload(): string | null {
    try {
      this.ctx = load(this.files);
      this.logger.info({ cert: this.files.certFile }, 'TLS certificate reloaded');
      return null;
    } catch (err) {
      this.logger.error({ err: (err as Error).message, cert: this.files.certFile }, 'TLS reload failed; keeping the previous certificate');
      return (err as Error).message;
    }
  }

  get certFile(): string {
    return this.files.certFile;
  }

  /** Reload when either file changes (polled: works across symlink swaps as Kubernetes secrets do). */
  watch(intervalMs = 2_000): void {
    if (this.watching) return;
    this.watching = true;
    const onChange = (cur: { mtimeMs: number }, prev: { mtimeMs: number }) => {
      if (cur.mtimeMs !== prev.mtimeMs) this.reload();
    };
    watchFile(this.files.certFile, { interval: intervalMs, persistent: false }, onChange);
    watchFile(this.files.keyFile, { interval: intervalMs, persistent: false }, onChange);
  }

  close(): void {
    if (!this.watching) return;
    unwatchFile(this.files.certFile);
    unwatchFile(this.files.keyFile);
    this.watching = false;
  }
}

function load(files: TlsFiles): SecureContext {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(files.certFile);
    key = readFileSync(files.keyFile);
  } catch (err) {
    throw new Error(`cannot read TLS files: ${(err as Error).message}`);
  }
  try {
    return createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
  } catch (err) {
    throw new Error(`invalid TLS certificate or key (${files.certFile}, ${files.keyFile}): ${(err as Error).message}`);
  }
}
