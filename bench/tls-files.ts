// A throwaway self-signed certificate for the proxy's client-side TLS, made
// with openssl in the bench's scratch directory (removed at the end), plus the
// copies sysbench 1.0 insists on finding in its working directory when run
// with --mysql-ssl=on: client-key.pem, client-cert.pem and cacert.pem. The
// proxy asks for no client certificate, so sysbench's is never sent.
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from './processes.js';

export interface TlsFiles {
  /** Holds everything below; sysbench runs here. */
  dir: string;
  certFile: string;
  keyFile: string;
}

export async function makeSelfSignedCert(workDir: string): Promise<TlsFiles> {
  const dir = join(workDir, 'tls');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  // P-256: what a hosted database would present today, and cheap to sign with.
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const r = await runCommand('openssl', [...args, '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost'], 30_000);
  if (r.code !== 0) throw new Error(`openssl could not make a certificate: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`);
  await copyFile(keyFile, join(dir, 'client-key.pem'));
  await copyFile(certFile, join(dir, 'client-cert.pem'));
  await copyFile(certFile, join(dir, 'cacert.pem'));
  return { dir, certFile, keyFile };
}
