// Self-signed certificates for TLS tests, made by Debian's openssl.
import { execFile } from 'node:child_process';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertFiles {
  certFile: string;
  keyFile: string;
}

/** A P-256 certificate for `cn`, valid for *.db.example.com, localhost and 127.0.0.1. */
export async function makeCert(dir: string, name: string, cn: string): Promise<CertFiles> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', 'subjectAltName=DNS:*.db.example.com,DNS:localhost,IP:127.0.0.1',
  ]);
  return { certFile, keyFile };
}

/** The subject CN the server presents, read with `openssl s_client -starttls mysql`. */
export async function presentedCn(port: number): Promise<string> {
  const { stdout } = await run('sh', ['-c', `openssl s_client -starttls mysql -connect 127.0.0.1:${port} </dev/null 2>/dev/null | openssl x509 -noout -subject`], { timeout: 10_000 });
  const m = /CN\s*=\s*([^,\n]+)/.exec(stdout);
  if (!m) throw new Error(`no certificate subject in: ${stdout}`);
  return m[1]!.trim();
}

/** The files a proxy serves (`live.crt`, `live.key` in `dir`), holding a new certificate for `cn`; installCert() replaces it. */
export async function makeLiveCert(dir: string, cn: string): Promise<CertFiles> {
  const live = { certFile: join(dir, 'live.crt'), keyFile: join(dir, 'live.key') };
  await installCert(await makeCert(dir, 'first', cn), live);
  return live;
}

/** Copies a certificate and its key over the served files, as a renewal would. */
export async function installCert(from: CertFiles, live: CertFiles): Promise<void> {
  await copyFile(from.certFile, live.certFile);
  await copyFile(from.keyFile, live.keyFile);
}
