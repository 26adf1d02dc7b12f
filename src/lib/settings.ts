import type { z } from 'zod';
import type { SettingInfo } from './config.js';
import { ConfigurationError } from './errors.js';

/** Raw settings: environment variables, or local.settings.json Values merged with them. */
export type Env = Readonly<Record<string, string | undefined>>;

export interface Bounds {
  readonly min?: number;
  readonly max?: number;
}

/**
 * Typed reading of one area's settings against its catalogue entries (the app's, the sandbox's,
 * Essedum's, a provider's): a value is the setting as set, trimmed (blank counts as unset), else the
 * catalogue's default. Each reader parses and bounds-checks it; a bad setting is recorded rather than
 * thrown, so {@link check} names every bad one at once and a host fails at start-up, not mid-request.
 */
export class SettingsReader<N extends string = string> {
  private readonly problems: string[] = [];
  private readonly defaults: ReadonlyMap<string, string | undefined>;

  constructor(
    private readonly env: Env,
    catalogue: readonly SettingInfo[],
  ) {
    this.defaults = new Map(catalogue.map((s) => [s.name, s.default]));
  }

  /** Problems found so far. */
  get issues(): readonly string[] {
    return this.problems;
  }

  /** Records a problem that no single reader sees (a rule between two settings). */
  issue(message: string): void {
    this.problems.push(message);
  }

  /** The value as set (trimmed), or the default; undefined when neither exists. */
  raw(name: N): string | undefined {
    const v = this.env[name]?.trim();
    return v === undefined || v === '' ? this.defaults.get(name) : v;
  }

  /** Whether the setting was given (a default does not count). */
  isSet(name: N): boolean {
    return (this.env[name]?.trim() ?? '') !== '';
  }

  /** A text setting; a missing required one is a problem (and reads as ''). */
  string(name: N): string {
    const v = this.raw(name);
    if (v === undefined) {
      this.problems.push(`${name} is required`);
      return '';
    }
    return v;
  }

  /** A whole number within bounds. */
  int(name: N, bounds: Bounds = {}): number {
    return this.number(name, bounds, true);
  }

  /** A number within bounds. */
  float(name: N, bounds: Bounds = {}): number {
    return this.number(name, bounds, false);
  }

  /** A number within bounds, or undefined when neither set nor defaulted. */
  optionalFloat(name: N, bounds: Bounds = {}): number | undefined {
    return this.raw(name) === undefined ? undefined : this.number(name, bounds, false);
  }

  /** true/false (also 1/0), any case. */
  bool(name: N): boolean {
    const v = (this.raw(name) ?? '').toLowerCase();
    if (v === 'true' || v === '1') return true;
    if (v !== 'false' && v !== '0') this.problems.push(`${name} must be true or false, got '${v}'`);
    return false;
  }

  /** One of `values`, compared case-insensitively when `ignoreCase`. */
  oneOf<const T extends string>(name: N, values: readonly T[], options: { ignoreCase?: boolean } = {}): T {
    const raw = this.raw(name) ?? '';
    const v = options.ignoreCase ? raw.toLowerCase() : raw;
    if ((values as readonly string[]).includes(v)) return v as T;
    this.problems.push(
      `${name} must be ${values.length === 2 ? `'${values[0]}' or '${values[1]}'` : `one of ${values.join(', ')}`}, got '${v}'`,
    );
    return values[0]!;
  }

  /** A separated list; entries trimmed, empty ones dropped. */
  list(name: N, separator = ','): string[] {
    return (this.raw(name) ?? '')
      .split(separator)
      .map((v) => v.trim())
      .filter(Boolean);
  }

  /** A setting with a shape of its own (a name pattern, a URL): checked by a schema. */
  parse<T>(name: N, schema: z.ZodType<T>): T {
    const r = schema.safeParse(this.raw(name));
    if (!r.success) {
      this.problems.push(`${name}: ${r.error.issues.map((i) => i.message).join(', ')}`);
      return undefined as T;
    }
    return r.data;
  }

  /** Throws {@link ConfigurationError} naming every problem, prefixed with `area`. */
  check(area: string): void {
    if (this.problems.length > 0) throw new ConfigurationError(`${area}: ${this.problems.join('; ')}`);
  }

  private number(name: N, { min, max }: Bounds, whole: boolean): number {
    const v = this.raw(name) ?? '';
    const n = Number(v);
    const ok =
      v !== '' &&
      Number.isFinite(n) &&
      (!whole || Number.isInteger(n)) &&
      (min === undefined || n >= min) &&
      (max === undefined || n <= max);
    if (!ok) {
      const range =
        min !== undefined && max !== undefined
          ? ` from ${min} to ${max}`
          : min !== undefined
            ? ` ≥ ${min}`
            : max !== undefined
              ? ` ≤ ${max}`
              : '';
      this.problems.push(`${name} must be a ${whole ? 'whole ' : ''}number${range}, got '${v}'`);
    }
    return n;
  }
}
