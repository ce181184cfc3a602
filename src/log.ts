/**
 * The one logger of weft: a function taking a record. `level` (error, warn,
 * info, debug; default info) and `msg` are conventional fields. JSON lines
 * when stderr is not a terminal (journald, files), a readable line on a
 * terminal. Values under secret-looking keys and passwords inside URLs are
 * never written.
 */
export type Logger = (record: Record<string, unknown>) => void;

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const SECRET_KEY = /secret|passw|token|credential|private|^key$|aead|psk|authorization/i;
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]+:)[^@\s]+@/gi;

export interface LoggerOptions {
  level?: LogLevel;
  /** Default: 'text' on a TTY, 'json' otherwise. */
  format?: 'json' | 'text';
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  now?: () => Date;
}

/** A copy of record safe to write: secret-looking keys masked, URL passwords removed. */
export function redact(value: unknown, key = ''): unknown {
  if (key && SECRET_KEY.test(key)) return '[redacted]';
  if (typeof value === 'string') return value.replace(URL_PASSWORD, '$1[redacted]@');
  if (Array.isArray(value)) return value.map((v) => redact(v));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redact(v, k);
    return out;
  }
  return value;
}

/** Plain words stay bare; other strings are quoted; everything else is its JSON. */
function textValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const stream = opts.stream ?? process.stderr;
  // A full disk under the log file must not take the daemon down: the line is lost, not the process.
  stream.on('error', () => undefined);
  const limit = RANK[opts.level ?? 'info'];
  const format = opts.format ?? ((stream as { isTTY?: boolean }).isTTY ? 'text' : 'json');
  const now = opts.now ?? (() => new Date());
  return (record) => {
    const level = (record.level as LogLevel | undefined) ?? 'info';
    if ((RANK[level] ?? RANK.info) > limit) return;
    const { msg, level: _l, ...rest } = redact(record) as Record<string, unknown>;
    const time = now().toISOString();
    if (format === 'json') {
      stream.write(`${JSON.stringify({ time, level, msg, ...rest })}\n`);
      return;
    }
    const fields = Object.entries(rest).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${textValue(v)}`);
    stream.write(`${time} ${level.toUpperCase().padEnd(5)} ${String(msg ?? '')}${fields.length ? ` ${fields.join(' ')}` : ''}\n`);
  };
}
