import type { SettingInfo } from './config.js';
import { SettingsReader, type Env } from './settings.js';

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
    description:
      'Size of the command uid pool: the most commands that run at once on one machine (a command waits for a free id).',
  },
] as const satisfies readonly SettingInfo[];

export type CommandSandboxMode = 'uid' | 'none';

export interface CommandSandboxSettings {
  readonly mode: CommandSandboxMode;
  readonly uidBase: number;
  readonly uidCount: number;
}

type Name = (typeof COMMAND_SANDBOX_SETTINGS)[number]['name'];

/** Parses the sandbox settings; throws {@link ConfigurationError} naming each bad one. */
export function parseCommandSandboxSettings(env: Env): CommandSandboxSettings {
  const read = new SettingsReader<Name>(env, COMMAND_SANDBOX_SETTINGS);
  const mode = read.oneOf('COMMAND_SANDBOX', ['uid', 'none'], { ignoreCase: true });
  // Below 1000 are system accounts; 65534 is nobody, which other software shares.
  const uidBase = read.int('COMMAND_UID_BASE', { min: 1000, max: 65_000 });
  const uidCount = read.int('COMMAND_UID_COUNT', { min: 1, max: 4096 });
  if (read.issues.length === 0 && uidBase + uidCount > 65_534)
    read.issue('COMMAND_UID_BASE + COMMAND_UID_COUNT must stay below 65534 (nobody)');
  read.check('Command sandbox settings');
  return { mode, uidBase, uidCount };
}
