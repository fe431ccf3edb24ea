#!/usr/bin/env node
// Entry point: `wake-proxy dev | proxy | control-plane`.
import { ConfigError } from './options.js';
import { runProxyCommand } from './proxy-command.js';
import { runControlPlaneCommand } from './control-plane-command.js';
import { runDevCommand } from './dev-command.js';

const COMMANDS: Record<string, (argv: string[], env: NodeJS.ProcessEnv) => Promise<void>> = {
  dev: runDevCommand,
  proxy: runProxyCommand,
  'control-plane': runControlPlaneCommand,
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
  const run = COMMANDS[command];
  if (!run) {
    console.error(`wake-proxy: unknown command '${command}'\n\n${USAGE}`);
    process.exit(2);
  }
  try {
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
