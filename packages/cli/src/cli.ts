import { readFileSync } from 'node:fs'
import { CommanderError } from 'commander'
import { CliError, EXIT } from './cli-error.js'
import { createProgram } from './program.js'

// dist/cli.js is one level below the package.json every install ships.
const { version } = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
) as { version: string }

try {
  await createProgram(version).parseAsync(process.argv)
} catch (error) {
  process.exitCode = exitCodeOf(error)
}

/**
 * Every failure ends here as one line on stderr and an exit code, never a stack trace.
 * Commander has already printed its own usage errors.
 */
function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) {
    // --help and --version exit 0; commander's usage errors are ours to number.
    return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE
  }
  if (error instanceof CliError) {
    process.stderr.write(`error: ${error.message}\n`)
    return error.exitCode
  }
  const message = error instanceof Error ? error.message : String(error)
  process.stderr.write(`error: unexpected failure: ${message.replace(/\s+/g, ' ')}\n`)
  return EXIT.REJECTED
}
