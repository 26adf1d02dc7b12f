import type { SettingInfo } from './config.js';
import { ConfigurationError } from './errors.js';

/**
 * Settings of the command sandbox: the unprivileged user ids that /execute commands run under.
 * Read by every process that runs commands (queue worker, one-shot run of the local provider or a
 * Batch task), hence both scopes.
 */
export const COMMAND_SANDBOX_SETTINGS = [
  {
    name: 'COMMAND_SANDBOX',
    scope: ['app', 'worker'],
    default: 'uid',
    description:
      "How /execute commands are isolated. 'uid': each running command gets a user id of its own from the pool below (the process must be root, or hold CAP_SETUID, CAP_SETGID, CAP_CHOWN and CAP_DAC_OVERRIDE; otherwise commands are refused with SANDBOX_UNAVAILABLE). 'none': the command runs as the orchestrator's own user and can read its settings — local development only; a warning is logged.",
  },
  {
    name: 'COMMAND_UID_BASE',
    scope: ['app', 'worker'],
    default: '61000',
    description: 'First user id (and group id) of the command pool; the ids must belong to no one else on the machine.',
  },
  {
    name: 'COMMAND_UID_COUNT',
    scope: ['app', 'worker'],
    default: '64',
    description: 'Size of the command uid pool: the most commands that run at once on one machine (a command waits for a free id).',
  },
] as const satisfies readonly SettingInfo[];

export type CommandSandboxMode = 'uid' | 'none';

export interface CommandSandboxSettings {
  readonly mode: CommandSandboxMode;
  readonly uidBase: number;
  readonly uidCount: number;
}

type Env = Readonly<Record<string, string | undefined>>;
type Name = (typeof COMMAND_SANDBOX_SETTINGS)[number]['name'];

const read = (env: Env, name: Name): string => env[name]?.trim() || COMMAND_SANDBOX_SETTINGS.find((s) => s.name === name)!.default;

/** Parses the sandbox settings; throws {@link ConfigurationError} naming each bad one. */
export function parseCommandSandboxSettings(env: Env): CommandSandboxSettings {
  const issues: string[] = [];
  const mode = read(env, 'COMMAND_SANDBOX').toLowerCase();
  if (mode !== 'uid' && mode !== 'none') issues.push(`COMMAND_SANDBOX must be 'uid' or 'none', got '${mode}'`);
  const int = (name: Name, min: number, max: number) => {
    const n = Number(read(env, name));
    if (!Number.isInteger(n) || n < min || n > max) issues.push(`${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
  // Below 1000 are system accounts; 65534 is nobody, which other software shares.
  const uidBase = int('COMMAND_UID_BASE', 1000, 65_000);
  const uidCount = int('COMMAND_UID_COUNT', 1, 4096);
  if (issues.length === 0 && uidBase + uidCount > 65_534) issues.push('COMMAND_UID_BASE + COMMAND_UID_COUNT must stay below 65534 (nobody)');
  if (issues.length > 0) throw new ConfigurationError(`Command sandbox settings: ${issues.join('; ')}`);
  return { mode: mode as CommandSandboxMode, uidBase, uidCount };
}
