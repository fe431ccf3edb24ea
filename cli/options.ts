// Flags with environment-variable twins, validated all at once so a bad start
// says everything that is wrong in one go.
import { parseArgs } from 'node:util';
import { parseHostPort } from '../control-client/static-resolver.js';
import { LOG_LEVELS, type OptionSpec, type OptionTable, type OptionValues } from './option-spec.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

/** "500ms", "2s", "5m", "1h" (or "0") to milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) {
    if (text.trim() === '0') return 0;
    throw new Error(`expected a duration like 500ms, 2s, 5m or 1h, got '${text}'`);
  }
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

const BOOLEAN_CHOICES = ['true', 'false'] as const;

function parseValue(name: string, spec: OptionSpec, raw: string): unknown {
  switch (spec.kind) {
    case 'port': {
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || n > 65535) throw new Error(`expected a port number 0-65535, got '${raw}'`);
      return n;
    }
    case 'count': {
      const n = Number(raw);
      if (!/^\d+$/.test(raw)) throw new Error(`expected a whole number, got '${raw}'`);
      return n;
    }
    case 'duration':
      return parseDuration(raw);
    case 'url':
      return checkUrl(raw);
    case 'url-list': {
      const urls = raw.split(',').map((u) => u.trim());
      if (urls.some((u) => u === '')) throw new Error(`expected URLs separated by commas, got an empty one in '${raw}'`);
      return urls.map(checkUrl);
    }
    case 'host-port':
      return parseHostPort(raw);
    case 'level':
      if (!LOG_LEVELS.some((level) => level === raw)) throw new Error(`expected one of ${LOG_LEVELS.join(', ')}`);
      return raw;
    case 'boolean':
      if (raw !== 'true' && raw !== 'false') throw new Error(`expected one of ${BOOLEAN_CHOICES.join(', ')}, got '${raw}'`);
      return raw === 'true';
    case 'choice':
      if (!spec.choices.includes(raw)) throw new Error(`expected one of ${spec.choices.join(', ')}, got '${raw}'`);
      return raw;
    case 'string':
      if (raw === '') throw new Error(`${name} must not be empty`);
      return raw;
  }
}

function checkUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`expected a URL, got '${raw}'`);
  }
  if (!['http:', 'https:', 'redis:', 'rediss:'].includes(u.protocol)) {
    throw new Error(`unsupported URL scheme '${u.protocol}'`);
  }
  return raw;
}

/**
 * Flags win over environment variables, which win over defaults. Every
 * problem is collected; the caller prints them all and exits.
 */
export function parseOptions<T extends OptionTable>(
  table: T,
  argv: string[],
  env: NodeJS.ProcessEnv,
): { values: OptionValues<T>; help: boolean } {
  const problems: string[] = [];
  const argOptions: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const name of Object.keys(table)) argOptions[name] = { type: 'string' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: argOptions, allowPositionals: false, strict: true });
  } catch (err) {
    throw new ConfigError([(err as Error).message]);
  }
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(table)) {
    const fromFlag = parsed.values[name];
    const raw = typeof fromFlag === 'string' ? fromFlag : env[spec.env] ?? spec.default;
    if (raw === undefined) continue;
    try {
      values[name] = parseValue(name, spec, raw);
    } catch (err) {
      const source = typeof fromFlag === 'string' ? `--${name}` : env[spec.env] !== undefined ? spec.env : `default of --${name}`;
      problems.push(`${source}: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  // The one place the table's types meet the parsed values: parseValue returns each
  // kind's type, and only options without a default can be missing.
  return { values: values as OptionValues<T>, help: parsed.values.help === true };
}

export function formatHelp(command: string, summary: string, table: OptionTable): string {
  const lines = [`Usage: wake-proxy ${command} [options]`, '', summary, '', 'Options (each also read from its environment variable):'];
  const entries = Object.entries(table).map(([name, spec]) => {
    const left = `  --${name} <${valueHint(spec)}>`;
    const dflt = spec.default !== undefined ? ` (default: ${spec.secret ? '***' : spec.default})` : '';
    return { left, right: `${spec.help}${dflt} [${spec.env}]` };
  });
  const width = Math.max(...entries.map((e) => e.left.length)) + 2;
  for (const e of entries) lines.push(e.left.padEnd(width) + e.right);
  lines.push(`  --help`.padEnd(width) + 'Show this help');
  return lines.join('\n');
}

function valueHint(spec: OptionSpec): string {
  if (spec.kind === 'choice') return spec.choices.join('|');
  if (spec.kind === 'boolean') return BOOLEAN_CHOICES.join('|');
  return spec.kind;
}
