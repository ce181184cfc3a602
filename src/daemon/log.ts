/** The daemon's logger is the one in src/log.ts. */
export { type Logger, type LogLevel, createLogger } from '../log.js';
