export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const ranks: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** Where a logger's lines go (one JSON line each, no newline). */
export type LogSink = (line: string, level: LogLevel) => void;

const stderrSink: LogSink = (line) => {
  process.stderr.write(`${line}\n`);
};

/** Whether an event at `level` passes a `threshold`. */
export const logLevelEnabled = (level: LogLevel, threshold: LogLevel): boolean =>
  ranks[level] >= ranks[threshold];

/**
 * One JSON line per event on stderr, so stdout stays free for what a person reads at boot; a sink
 * sends the lines elsewhere (the tests keep them, to check that no secret is ever logged).
 */
export class Logger {
  constructor(
    private readonly level: LogLevel = 'info',
    private readonly base: Record<string, unknown> = {},
    private readonly sink: LogSink = stderrSink,
  ) {}

  child(fields: Record<string, unknown>): Logger {
    return new Logger(this.level, { ...this.base, ...fields }, this.sink);
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.write('error', msg, fields);
  }

  private write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (!logLevelEnabled(level, this.level)) return;
    const line = { time: new Date().toISOString(), level, msg, ...this.base, ...fields };
    this.sink(JSON.stringify(line, errorReplacer), level);
  }
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}
