/**
 * The base of every error weft throws on purpose. Callers branch on `code`
 * (stable, documented per subclass), never on `message`.
 */
export class WeftError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bad input from a user, a config file or a remote peer (CLI args, requests). */
export class InvalidArgumentError extends WeftError {
  constructor(message: string) {
    super('EINVALARG', message);
  }
}

/** A named object (link, network, endpoint, ...) does not exist. */
export class NotFoundError extends WeftError {
  constructor(message: string) {
    super('ENOTFOUND', message);
  }
}
