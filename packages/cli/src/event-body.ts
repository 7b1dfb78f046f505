import { isUtf8 } from 'node:buffer'
import { randomInt } from 'node:crypto'
import { EVENT_TYPES, createSampleEvent } from '@ecampus-webhooks/core/testing'
import type { EventType } from '@ecampus-webhooks/core'
import { CliError } from './cli-error.js'
import { readInput } from './read-input.js'

/** The bytes `send` signs and posts, and what they hold. */
export interface EventBody {
  body: Buffer
  id: string
  type: string
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const BOM = Buffer.from([0xef, 0xbb, 0xbf])

/**
 * A random 16-character id shaped like eCampus's (`a056V7R7NmNRjl70`). Random, not the core's
 * per-process counter, so two `send` runs never share an id: a receiver with idempotency on would
 * otherwise answer the second one as a duplicate. Pass `--id` to send a duplicate on purpose.
 */
export function randomId(): string {
  let id = ''
  for (let i = 0; i < 16; i += 1) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)]
  return id
}

/** True for one of the 15 documented event types. */
export function isEventType(type: string): type is EventType {
  return (EVENT_TYPES as readonly string[]).includes(type)
}

/** The error for an event type the CLI has no sample of; lists the known ones. */
export function unknownType(type: string): CliError {
  return new CliError(
    `unknown event type ${JSON.stringify(type)}; known types: ${EVENT_TYPES.join(', ')}`,
  )
}

/**
 * The body to send. Without `data`: a realistic sample of `type` from the core's test kit. With
 * `data` (a path or `-`), the JSON object in it is either
 * - a full event, when it has a top-level `"payload"` field: it must be `{id, type, payload}` with
 *   the same `type`, and is sent byte for byte (so a captured delivery replays exactly; an unknown
 *   type is allowed, to see how a receiver treats a type eCampus adds later), or
 * - a bare payload, otherwise: wrapped as `{"id", "type", "payload"}` with its bytes kept as is.
 */
export async function eventBody(
  type: string,
  options: { data?: string | undefined; id?: string | undefined },
): Promise<EventBody> {
  if (options.id === '') throw new CliError('--id must not be empty')
  if (options.data === undefined) {
    if (!isEventType(type)) throw unknownType(type)
    const event = createSampleEvent(type, { id: options.id ?? randomId() })
    return { body: Buffer.from(JSON.stringify(event)), id: event.id, type }
  }

  const source = options.data === '-' ? 'from stdin' : JSON.stringify(options.data)
  let bytes = await readInput(options.data)
  // Editors on Windows add a byte-order mark; it is not JSON and eCampus never sends one.
  if (bytes.subarray(0, 3).equals(BOM)) bytes = bytes.subarray(3)
  if (!isUtf8(bytes)) throw new CliError(`--data ${source} is not UTF-8 text`)
  const text = bytes.toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    const reason = text.trim() === '' ? 'it is empty' : oneLine((error as Error).message)
    throw new CliError(`--data ${source} is not valid JSON: ${reason}`)
  }
  if (!isObject(value)) {
    throw new CliError(
      `--data ${source} must hold a JSON object: a full event {"id","type","payload"} or a bare payload`,
    )
  }

  if (Object.hasOwn(value, 'payload')) {
    const { id, type: given, payload } = value
    if (typeof id !== 'string' || id === '' || typeof given !== 'string' || given === '') {
      throw new CliError(
        `--data ${source} has a "payload" field, so it is a full event, and needs a non-empty string "id" and "type"`,
      )
    }
    if (!isObject(payload)) {
      throw new CliError(`--data ${source} is a full event whose "payload" is not a JSON object`)
    }
    if (options.id !== undefined) {
      throw new CliError(
        `--id cannot change the full event in --data ${source}: it is sent byte for byte; edit its "id" instead`,
      )
    }
    if (given !== type) {
      throw new CliError(
        `--data ${source} holds a ${JSON.stringify(given)} event, not ${JSON.stringify(type)}: pass the type it holds`,
      )
    }
    return { body: bytes, id, type }
  }

  if (!isEventType(type)) throw unknownType(type)
  const id = options.id ?? randomId()
  // Spliced, not re-serialised: the payload's bytes (number precision, key order, escapes) stay
  // exactly as given. JSON.parse accepted the text, so trim() only removes JSON whitespace.
  const body = `{"id":${JSON.stringify(id)},"type":${JSON.stringify(type)},"payload":${text.trim()}}`
  return { body: Buffer.from(body), id, type }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ')
}
