import { Command, InvalidArgumentError, Option } from 'commander'
import { EVENT_TYPES } from '@ecampus-webhooks/core/testing'
import { listen } from './listen.js'
import { secretOption } from './secret.js'
import { send } from './send.js'
import { sign } from './sign.js'

const EXIT_CODES = `
Exit codes:
  0  done (sent and answered 2xx, signed, or listen stopped by Ctrl+C / SIGTERM)
  1  the receiver answered a status other than 2xx
  2  usage or input error (unknown option or event type, no secret, bad --data or --url)
  3  network error (connection refused, host not found, timeout, port in use)`

const SEND_HELP = `
Without --data, a realistic sample of <event-type> is sent. With --data, the file (or stdin
for "-") must hold a JSON object:
  - with a top-level "payload" field it is a full event {"id","type","payload"}: it is sent
    byte for byte, its "type" must equal <event-type> (any type, so you can try one eCampus
    has not documented yet), and --id is refused;
  - otherwise it is the payload: it is wrapped as {"id","type","payload"}, its bytes kept.
The body is signed like eCampus does: x-eCampus-signature is the hex HMAC-SHA256 of the exact
bytes sent.

Event types:
${eventTypeList()}

Examples:
  export ECAMPUS_WEBHOOK_SECRET=dev-secret
  ecampus-webhooks send message.created --url http://127.0.0.1:3000/webhooks
  ecampus-webhooks send contact.updated --url http://127.0.0.1:3000/webhooks --data contact.json
  cat event.json | ecampus-webhooks send message.updated --url http://127.0.0.1:3000/webhooks --data -
${EXIT_CODES}`

const SIGN_HELP = `
Signs the exact bytes on stdin, a trailing newline included (use printf, not echo, to leave
one out), and prints the header line.

Examples:
  ecampus-webhooks sign < body.json
  curl -H "content-type: application/json" -H "$(ecampus-webhooks sign < body.json)" \\
    --data-binary @body.json http://127.0.0.1:3000/webhooks
${EXIT_CODES}`

const LISTEN_HELP = `
Answers POST <path> exactly like @ecampus-webhooks/core (and every adapter) would, prints each
verified event (type, id, a compact view of the payload) and each refused request (status
and error code). Requests to other paths get 404 and a note. Ctrl+C or SIGTERM stops it
gracefully.

Examples:
  ECAMPUS_WEBHOOK_SECRET=dev-secret ecampus-webhooks listen --port 3000
  ecampus-webhooks listen --port 0 --path /hooks/ecampus   # port 0: any free port
${EXIT_CODES}`

/**
 * The `ecampus-webhooks` command line: `send`, `sign` and `listen`. Commander errors are thrown
 * (`exitOverride`) so the bin maps them to exit code 2 instead of commander's 1.
 *
 * @example
 * await createProgram('0.1.0').parseAsync(process.argv)
 */
export function createProgram(version: string): Command {
  const program = new Command('ecampus-webhooks')
    .description(
      'Send signed eCampus webhook events to a local server, sign bodies, and receive events while developing.',
    )
    .version(version, '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  export ECAMPUS_WEBHOOK_SECRET=dev-secret
  ecampus-webhooks listen --port 3000
  ecampus-webhooks send message.created --url http://127.0.0.1:3000/webhooks
  ecampus-webhooks sign < body.json
${EXIT_CODES}`,
    )

  program
    .command('send')
    .description('sign an event like eCampus does and POST it to a receiver')
    .argument('<event-type>', 'e.g. message.created (see the list below)')
    .requiredOption('-u, --url <url>', 'where to POST, e.g. http://127.0.0.1:3000/webhooks')
    .addOption(secretOption())
    .option('-d, --data <file>', 'send this JSON (a full event or a bare payload; "-" for stdin)')
    .option('--id <id>', 'the event id (default: a random 16-character id)')
    .addOption(
      new Option('--timeout <ms>', 'milliseconds to wait for the answer')
        .default(30_000)
        .argParser(positiveInteger),
    )
    .addHelpText('after', SEND_HELP)
    .action((type: string, options: Parameters<typeof send>[1]) => send(type, options, version))

  program
    .command('sign')
    .description('print the x-eCampus-signature header line for the body on stdin')
    .addOption(secretOption())
    .addHelpText('after', SIGN_HELP)
    .action((options: Parameters<typeof sign>[0]) => sign(options))

  program
    .command('listen')
    .description('run a local receiver that verifies and prints each event')
    .addOption(
      new Option('-p, --port <port>', 'port to listen on (0: any free port)')
        .default(3000)
        .argParser(port),
    )
    .option('--host <host>', 'interface to bind (0.0.0.0: every one)', '127.0.0.1')
    .option('--path <path>', 'the webhook path', '/webhooks')
    .addOption(secretOption())
    .addHelpText('after', LISTEN_HELP)
    .action((options: Parameters<typeof listen>[0]) => listen(options))

  return program
}

function port(value: string): number {
  const number = Number(value)
  if (!/^\d+$/.test(value) || number > 65_535) {
    throw new InvalidArgumentError('expected a port number from 0 to 65535.')
  }
  return number
}

function positiveInteger(value: string): number {
  const number = Number(value)
  if (!/^\d+$/.test(value) || number < 1 || !Number.isSafeInteger(number)) {
    throw new InvalidArgumentError('expected a whole number of milliseconds, at least 1.')
  }
  return number
}

/** The 15 types, one resource a line, for the help text. */
function eventTypeList(): string {
  const rows = new Map<string, string[]>()
  for (const type of EVENT_TYPES) {
    const resource = type.slice(0, type.indexOf('.'))
    rows.set(resource, [...(rows.get(resource) ?? []), type.padEnd(22)])
  }
  return [...rows.values()].map((row) => `  ${row.join('').trimEnd()}`).join('\n')
}
