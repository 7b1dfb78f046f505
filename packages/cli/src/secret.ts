import { Option } from 'commander'
import { CliError } from './cli-error.js'

/** The environment variable every command reads the webhook secret from. */
export const SECRET_ENV = 'ECAMPUS_WEBHOOK_SECRET'

/**
 * The `--secret` option, falling back to `$ECAMPUS_WEBHOOK_SECRET`. Commander's help shows the
 * variable's name, never its value.
 */
export function secretOption(): Option {
  return new Option(
    '-s, --secret <secret>',
    'the webhook secret; prefer the variable (a --secret value shows in shell history and ps)',
  ).env(SECRET_ENV)
}

/** The secret to sign or verify with, or a CliError saying how to pass one. */
export function requireSecret(secret: string | undefined): string {
  if (secret === undefined) {
    throw new CliError(`no webhook secret: set ${SECRET_ENV} or pass --secret <secret>`)
  }
  // An empty key would make every signature trivially forgeable (the core refuses it too).
  if (secret === '') {
    throw new CliError(
      `the webhook secret is empty: set ${SECRET_ENV} to the secret from your eCampus settings`,
    )
  }
  return secret
}
