#!/usr/bin/env node
// Entry point: `wake-proxy dev | proxy | control-plane`. Each command's module is
// loaded only once it is chosen, so `--help` and a lone proxy do not pay for the
// others' dependencies.
import { ConfigError } from './options.js';

type Command = (argv: string[], env: NodeJS.ProcessEnv) => Promise<void>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  dev: async () => (await import('./dev-command.js')).runDevCommand,
  proxy: async () => (await import('./proxy-command.js')).runProxyCommand,
  'control-plane': async () => (await import('./control-plane-command.js')).runControlPlaneCommand,
};

const USAGE = `Usage: wake-proxy <command> [options]

Commands:
  dev            Everything on one machine: control plane with local mariadbd computes, the proxy, a demo project
  proxy          The MySQL proxy alone (production), in front of a control API or a static backend
  control-plane  The control API with its compute driver (production)

Run 'wake-proxy <command> --help' for a command's options.`;

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (!command || command === '--help' || command === 'help') {
    console.log(USAGE);
    return;
  }
  const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!load) {
    console.error(`wake-proxy: unknown command '${command}'\n\n${USAGE}`);
    process.exit(2);
  }
  try {
    const run = await load();
    await run(rest, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`wake-proxy ${command}: invalid configuration:\n${err.problems.map((p) => `  - ${p}`).join('\n')}`);
      process.exit(2);
    }
    console.error(`wake-proxy ${command}: ${(err as Error).message}`);
    process.exit(1);
  }
}

void main();
