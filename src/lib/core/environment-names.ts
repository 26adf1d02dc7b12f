import { z } from 'zod';

/**
 * Which environment variable names a job body may set (a Batch task's `spec.environment`, an
 * /execute `environment`). A job may pass its own configuration; it may not set a variable that
 * changes how an interpreter, the loader or the shell starts (NODE_OPTIONS, LD_PRELOAD, BASH_ENV,
 * PYTHONSTARTUP …), where programs are found (PATH, HOME), where traffic goes (proxies, CA files),
 * or one the orchestrator and the platform set themselves (ESSEDUM_*, CJO_*, AZ_BATCH_*, the
 * managed-identity endpoint). Names are compared upper-cased: the rule does not depend on spelling.
 */

/** Letters, digits and "_", starting with a letter (so `_JAVA_OPTIONS`-style names are out), ≤ 64. */
export const ENVIRONMENT_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

const DENIED_NAMES: ReadonlySet<string> = new Set([
  'PATH',
  'HOME',
  'SHELL',
  'ENV',
  'BASH_ENV',
  'IFS',
  'SHELLOPTS',
  'BASHOPTS',
  'PS4',
  'PROMPT_COMMAND',
  'CDPATH',
  'GLOBIGNORE',
  'TMPDIR',
  'USER',
  'LOGNAME',
  'JAVA_TOOL_OPTIONS',
  'JDK_JAVA_OPTIONS',
  'CLASSPATH',
  'GCONV_PATH',
  'LOCPATH',
  'NLSPATH',
  'GLIBC_TUNABLES',
  'HOSTALIASES',
  'LOCALDOMAIN',
  'RES_OPTIONS',
  'OPENSSL_CONF',
  'OPENSSL_MODULES',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'CURL_CA_BUNDLE',
  'REQUESTS_CA_BUNDLE',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'ALL_PROXY',
  'NO_PROXY',
  'FTP_PROXY',
  'IDENTITY_ENDPOINT',
  'IDENTITY_HEADER',
  'IMDS_ENDPOINT',
  'SIMULATION_TIME_SCALE',
]);

const DENIED_PREFIXES: readonly string[] = [
  'LD_',
  'DYLD_',
  'MALLOC_',
  'NODE_',
  'NPM_CONFIG_',
  'UV_',
  'PYTHON',
  'PERL',
  'RUBY',
  'GEM_',
  'BUNDLE_',
  'LUA_',
  'R_LIBS',
  'ESSEDUM_',
  'CJO_',
  'AZ_BATCH_',
  'MSI_',
];

/** Why a job may not set `name`, or `undefined` when it may. Pure. */
export function environmentNameProblem(name: string): string | undefined {
  if (!ENVIRONMENT_NAME_PATTERN.test(name)) return 'names are 1-64 letters, digits and "_", starting with a letter';
  const upper = name.toUpperCase();
  if (DENIED_NAMES.has(upper))
    return `'${name}' may not be set by a job (it changes how programs start or is set by the platform)`;
  const prefix = DENIED_PREFIXES.find((p) => upper.startsWith(p));
  if (prefix)
    return `'${name}' may not be set by a job (${prefix}* variables change how programs start or are reserved)`;
  return undefined;
}

/** zod schema of an allowed name; the issue message names the variable. */
export const environmentName = z.string().superRefine((name, ctx) => {
  const problem = environmentNameProblem(name);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
