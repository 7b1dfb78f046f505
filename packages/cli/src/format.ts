import { inspect } from 'node:util'

const MAX_FIELDS = 12
const MAX_LINE = 120
// Control characters and bidi overrides: a sender's text must not move the cursor, clear the
// screen or reorder what the terminal shows.
const UNPRINTABLE =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/** Text from the network made safe to print: unprintable characters as `\uXXXX` escapes. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** `HH:MM:SS` in local time, to tell deliveries apart in a long-running `listen`. */
export function clock(date = new Date()): string {
  return date.toTimeString().slice(0, 8)
}

/**
 * A compact view of a payload: one line per top-level field (at most 12), nested values one level
 * deep, long strings and lines cut. `util.inspect` escapes control characters in strings.
 *
 * @example
 * formatPayload({ id: 'm1', message: 'hi' }) // ['id: \'m1\'', 'message: \'hi\'']
 */
export function formatPayload(payload: Record<string, unknown>): string[] {
  const keys = Object.keys(payload)
  const width = Math.max(0, ...keys.slice(0, MAX_FIELDS).map((key) => printable(key).length))
  const lines = keys.slice(0, MAX_FIELDS).map((key) => {
    const value = inspect(payload[key], {
      depth: 1,
      breakLength: Infinity,
      maxStringLength: 80,
      maxArrayLength: 3,
      colors: false,
    })
    return cut(`${`${printable(key)}:`.padEnd(width + 1)} ${value}`)
  })
  if (keys.length > MAX_FIELDS) lines.push(`… ${keys.length - MAX_FIELDS} more fields`)
  return lines
}

function cut(line: string): string {
  return line.length > MAX_LINE ? `${line.slice(0, MAX_LINE - 1)}…` : line
}
