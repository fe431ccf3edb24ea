// The owner account a new project gets: a generated password, shown to the
// creator once, and its mysql_native_password verifier, which is all the
// control plane and the compute's datadir ever keep.
import { randomBytes } from 'node:crypto';
import { formatNativeVerifier, nativePasswordVerifier } from '../protocol/auth/native-password.js';

export const OWNER_USER = 'owner';

/** 192 random bits in 32 URL-safe characters: nothing a shell or a DSN needs to escape. */
export function generateOwnerPassword(): string {
  return randomBytes(24).toString('base64url');
}

/** '*' + 40 uppercase hex digits, as `CREATE USER ... IDENTIFIED BY PASSWORD` takes it. */
export function ownerVerifier(password: string): string {
  return formatNativeVerifier(nativePasswordVerifier(password));
}
