// The command line of a compute's mariadbd under the process driver: what every
// start has, then the size's and the operator's options, which win.
import { INNODB_LOG_FILE_SIZE, type ComputePaths } from './compute-files.js';

/** The options every start has; `extra` (the size's, then the operator's) come last and win. */
export function serverArgs(p: ComputePaths, host: string, port: number, withInit: boolean, extra: string[]): string[] {
  return [
    '--no-defaults',
    ...(process.getuid?.() === 0 ? ['--user=root'] : []),
    `--datadir=${p.data}`,
    `--port=${port}`,
    `--bind-address=${host}`,
    `--socket=${p.socket}`,
    `--pid-file=${p.pidFile}`,
    // Its own temporary directory, never a shared /tmp that others clean.
    `--tmpdir=${p.dir}`,
    '--skip-log-bin',
    `--innodb-log-file-size=${INNODB_LOG_FILE_SIZE}`,
    // Accounts are '%' or socket-only; reverse DNS would only slow each connect.
    '--skip-name-resolve',
    // Above the 16 MiB default so multi-packet (>16 MiB) statements and rows work out of the box.
    '--max-allowed-packet=64M',
    ...(withInit ? [`--init-file=${p.initFile}`] : []),
    ...extra,
  ];
}
