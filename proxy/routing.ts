// Which project a client means, and the user name the compute should see.
// In order: TLS SNI (with a configured suffix), the user name
// `<project>.<user>`, the database `<project>` or `<project>/<database>` (when
// enabled), a fixed project; a static backend needs none.
import { projectRequired, sniMismatch } from './client-error.js';

export interface RoutingConfig {
  /** Sidecar mode: every client belongs to this project; user names pass untouched. */
  fixedProject?: string;
  /** Static backend without a project: no project needed, user names pass untouched. */
  projectOptional?: boolean;
  /** `db.example.com`: a TLS server name `shop.db.example.com` means project `shop`. */
  sniSuffix?: string;
  /** The database name may carry the project: `shop` or `shop/inventory`. */
  databaseRouting?: boolean;
}

export interface Route {
  /** Undefined only for a static backend without a project. */
  project: string | undefined;
  backendUser: string;
  database: string | null;
}

/** What a static backend without a project is called in messages and per-project bookkeeping. */
export const STATIC_PROJECT = '(static)';

/** The name limits, verifiers and messages use for a route: its project, or STATIC_PROJECT. */
export function limitKey(route: Route): string {
  return route.project ?? STATIC_PROJECT;
}

const PROJECT_NAME = /^[a-z][a-z0-9-]{0,38}$/;

/** The project a TLS server name names, if it ends in the configured suffix. */
export function projectFromSni(cfg: RoutingConfig, servername: string | undefined): string | undefined {
  if (!cfg.sniSuffix || !servername) return undefined;
  const suffix = '.' + cfg.sniSuffix.toLowerCase().replace(/^\.+/, '');
  const name = servername.toLowerCase();
  if (!name.endsWith(suffix)) return undefined;
  const project = name.slice(0, -suffix.length);
  return PROJECT_NAME.test(project) ? project : undefined;
}

function splitUser(user: string): { project: string; user: string } | undefined {
  const dot = user.indexOf('.');
  if (dot <= 0) return undefined;
  const project = user.slice(0, dot);
  return PROJECT_NAME.test(project) ? { project, user: user.slice(dot + 1) } : undefined;
}

function splitDatabase(database: string | null): { project: string; database: string | null } | undefined {
  if (!database) return undefined;
  const slash = database.indexOf('/');
  const project = slash < 0 ? database : database.slice(0, slash);
  if (!PROJECT_NAME.test(project)) return undefined;
  return { project, database: slash < 0 || slash === database.length - 1 ? null : database.slice(slash + 1) };
}

export function resolveRoute(
  cfg: RoutingConfig,
  user: string,
  database: string | null,
  servername?: string,
): Route {
  if (cfg.fixedProject) return { project: cfg.fixedProject, backendUser: user, database };
  if (cfg.projectOptional) return { project: undefined, backendUser: user, database };
  const fromSni = projectFromSni(cfg, servername);
  const fromUser = splitUser(user);
  if (fromSni) {
    if (fromUser && fromUser.project !== fromSni) throw sniMismatch(fromSni, fromUser.project);
    return { project: fromSni, backendUser: fromUser ? fromUser.user : user, database };
  }
  if (fromUser) return { project: fromUser.project, backendUser: fromUser.user, database };
  const fromDatabase = cfg.databaseRouting ? splitDatabase(database) : undefined;
  if (fromDatabase) return { project: fromDatabase.project, backendUser: user, database: fromDatabase.database };
  throw projectRequired(user, cfg.databaseRouting);
}
