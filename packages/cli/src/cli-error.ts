/**
 * The exit codes of every command, documented in `--help` and the README. Scripts tell "the
 * receiver said no" (1) from "you called it wrong" (2) from "nothing answered" (3).
 */
export const EXIT = {
  /** Done: sent and answered 2xx, signed, or stopped by a signal. */
  OK: 0,
  /** The receiver answered with a status other than 2xx (or an unexpected failure). */
  REJECTED: 1,
  /** A usage or input mistake: unknown option or event type, no secret, bad --data or URL. */
  USAGE: 2,
  /** A network failure: connection refused, host not found, no answer in time, port in use. */
  NETWORK: 3,
} as const

/** One of the documented exit codes. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

/**
 * An expected failure. The bin prints its message as one `error:` line on stderr (never a stack
 * trace) and exits with its code. Messages never hold the secret.
 *
 * @example
 * throw new CliError('no webhook secret: set ECAMPUS_WEBHOOK_SECRET or pass --secret <secret>')
 */
export class CliError extends Error {
  override readonly name = 'CliError'
  /** The process exit code. */
  readonly exitCode: ExitCode

  /**
   * @param message one line, lower-case start, saying what is wrong and how to fix it
   * @param exitCode @default EXIT.USAGE
   */
  constructor(message: string, exitCode: ExitCode = EXIT.USAGE) {
    super(message)
    this.exitCode = exitCode
  }
}
