import { activeTraceIds, currentJobId, JOB_ID } from './trace.js';

/** Levels in increasing severity; a logger prints its level and above. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Logger {
  /** Optional so test doubles may leave it out; every logger {@link createLogger} makes has it. */
  debug?(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Where a finished line goes; default: stdout for debug/info, stderr for warn/error. */
export type LogSink = (level: LogLevel, line: string) => void;

const consoleSink: LogSink = (level, line) => {
  if (level === 'warn' || level === 'error') process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
};

/** `LOG_LEVEL` as a level; anything unknown is `info`. */
export function parseLogLevel(value: string | undefined): LogLevel {
  const v = value?.trim().toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(v ?? '') ? (v as LogLevel) : 'info';
}

/**
 * The one logger: a JSON line per call with time, level, message, `job.id` (from the fields'
 * `jobId` or the active job context) and the active trace and span ids, so every line can be
 * found from its trace and the other way round. Lines below `level` are dropped before any work.
 */
export function createLogger(
  options: { level?: LogLevel; sink?: LogSink; base?: Record<string, unknown> } = {},
): Required<Logger> {
  const min = LOG_LEVELS.indexOf(options.level ?? 'info');
  const sink = options.sink ?? consoleSink;
  const emit = (level: LogLevel, msg: string, fields: Record<string, unknown> = {}) => {
    if (LOG_LEVELS.indexOf(level) < min) return;
    const { jobId, ...rest } = fields;
    const job = typeof jobId === 'string' ? jobId : currentJobId();
    const line: Record<string, unknown> = {
      time: new Date().toISOString(),
      level,
      msg,
      ...options.base,
      ...(job && { [JOB_ID]: job }),
      ...activeTraceIds(),
      ...rest,
    };
    let text: string;
    try {
      text = JSON.stringify(line, errorReplacer);
    } catch {
      text = JSON.stringify({
        time: line.time,
        level,
        msg,
        ...(job && { [JOB_ID]: job }),
        note: 'fields could not be serialised',
      });
    }
    sink(level, text);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** The process logger at `LOG_LEVEL` from the environment (hosts with their own settings pass them to createLogger). */
export const processLogger: Required<Logger> = createLogger({ level: parseLogLevel(process.env.LOG_LEVEL) });
