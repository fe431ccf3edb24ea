// Module hooks (registered by module-trace.ts) that append every module a process
// resolves, as "<specifier>\t<url>", to a file: a test can then say what a command
// loaded, whether by a static or a dynamic import.
import { appendFileSync } from 'node:fs';
import type { InitializeHook, ResolveHook } from 'node:module';

let traceFile = '';

export const initialize: InitializeHook<{ file: string }> = (data) => {
  traceFile = data.file;
};

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  const resolved = await nextResolve(specifier, context);
  appendFileSync(traceFile, `${specifier}\t${resolved.url}\n`);
  return resolved;
};
