// Which project a client means, and the user name the compute should see.
import { projectRequired } from './client-error.js';

export interface RoutingConfig {
  /** Sidecar mode: every client belongs to this project; user names pass untouched. */
  fixedProject?: string;
  /** Static backend without a project: no project needed, user names pass untouched. */
  projectOptional?: boolean;
}

export interface Route {
  /** Undefined only for a static backend without a project. */
  project: string | undefined;
  backendUser: string;
  database: string | null;
}

const PROJECT_NAME = /^[a-z][a-z0-9-]{0,38}$/;

export function resolveRoute(cfg: RoutingConfig, user: string, database: string | null): Route {
  if (cfg.fixedProject) return { project: cfg.fixedProject, backendUser: user, database };
  const dot = user.indexOf('.');
  if (dot > 0) {
    const project = user.slice(0, dot);
    // Only a name that could be a project is taken as one; "first.last" style
    // user names of a static backend still pass through.
    if (PROJECT_NAME.test(project) && !cfg.projectOptional) {
      return { project, backendUser: user.slice(dot + 1), database };
    }
  }
  if (cfg.projectOptional) return { project: undefined, backendUser: user, database };
  throw projectRequired(user);
}
