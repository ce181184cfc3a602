/** Structured logging: one JSON object per line on stderr, with a timestamp. */
export type Logger = (record: Record<string, unknown>) => void;

export function jsonLogger(stream: NodeJS.WritableStream = process.stderr): Logger {
  return (record) => stream.write(`${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
}
