// What a flag is (its kind, environment variable, default, help) and the type of
// its parsed value, so a command's values are typed by its table: a misspelt
// option name or a value used as the wrong type fails the build, not a start.
import type { BackendAddress } from '../backend/address.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

/** The parsed value of each kind but `choice`, whose value is one of its own choices. */
interface ValueOfKind {
  port: number;
  count: number;
  duration: number;
  string: string;
  url: string;
  /** One URL or several, comma-separated. */
  'url-list': string[];
  'host-port': BackendAddress;
  level: LogLevel;
  /** Written `true` or `false`. */
  boolean: boolean;
}

interface SpecBase {
  env: string;
  help: string;
  /** Parsed and checked like a flag's value. Without one the option may be absent. */
  default?: string;
  /** Shown instead of the value in --help and errors. */
  secret?: boolean;
}

interface ValueSpec extends SpecBase {
  kind: keyof ValueOfKind;
}

interface ChoiceSpec extends SpecBase {
  kind: 'choice';
  choices: readonly string[];
}

export type OptionSpec = ValueSpec | ChoiceSpec;

export type OptionTable = Readonly<Record<string, OptionSpec>>;

type OptionValue<S extends OptionSpec> = S extends { kind: 'choice'; choices: readonly (infer C)[] }
  ? C
  : S extends { kind: infer K extends keyof ValueOfKind }
    ? ValueOfKind[K]
    : never;

type WithDefault<T extends OptionTable> = { [K in keyof T]: T[K] extends { default: string } ? K : never }[keyof T];

/**
 * A command's parsed options: exactly the table's names, each typed by its kind;
 * present for certain when the option has a default, possibly absent otherwise.
 */
export type OptionValues<T extends OptionTable> = Flatten<
  { readonly [K in WithDefault<T>]: OptionValue<T[K]> } & {
    readonly [K in Exclude<keyof T, WithDefault<T>>]?: OptionValue<T[K]>;
  }
>;

type Flatten<T> = { [K in keyof T]: T[K] };

/**
 * Declares a table keeping its literal types (kinds, choices, which options have a
 * default), which is what OptionValues reads.
 */
export function defineOptions<const T extends OptionTable>(table: T): T {
  return table;
}
