import { createSampleEvent } from '@ecampus-webhooks/core/testing'

/** The body sizes the issue asks for, in bytes. */
export const SIZES = [
  { label: '1 KiB', bytes: 1024 },
  { label: '64 KiB', bytes: 64 * 1024 },
  { label: '1 MiB', bytes: 1024 * 1024 },
] as const

/** One body size of the suite. */
export type BodySize = (typeof SIZES)[number]

/** The size label, e.g. `'64 KiB'`. */
export type SizeLabel = BodySize['label']

/** The event type every benchmark body carries. */
export const EVENT_TYPE = 'message.created'

const NOW = 1_764_806_400

// Course-chat vocabulary, mostly ASCII with the German umlauts and the odd emoji a university
// chat has: JSON.parse and UTF-8 decoding cost differs between pure ASCII and mixed text.
const WORDS = [
  'lecture',
  'exercise',
  'sheet',
  'deadline',
  'Thursday',
  'room',
  'B12',
  'Übung',
  'Vorlesung',
  'Prüfung',
  'tutorial',
  'group',
  'slides',
  'proof',
  'lemma',
  'graph',
  'Dijkstra',
  'complexity',
  'O(n log n)',
  'question',
  'answer',
  'thanks',
  'Grüße',
  'müssen',
  'wir',
  'the',
  'a',
  'is',
  'in',
  'on',
  'for',
  'and',
  'please',
  'upload',
  'PDF',
  'moodle',
  'heap',
  'queue',
  'solution',
  'hint',
  'exam',
  'Klausur',
  'café',
  '👍',
  'ok',
  'see',
  'you',
  'tomorrow',
]
const MIME_TYPES = ['application/pdf', 'image/png', 'image/jpeg', 'text/plain', 'application/zip']
const EXTENSIONS = ['pdf', 'png', 'jpg', 'txt', 'zip']
const ALPHABET = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789']

/** mulberry32: a tiny seeded PRNG, so every run (and every machine) gets the same bytes. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

function pick<T>(next: () => number, list: readonly T[]): T {
  return list[Math.floor(next() * list.length)]!
}

function id(next: () => number): string {
  let out = ''
  for (let i = 0; i < 16; i += 1) out += pick(next, ALPHABET)
  return out
}

function sentence(next: () => number, words: number): string {
  const parts: string[] = []
  for (let i = 0; i < words; i += 1) parts.push(pick(next, WORDS))
  const text = parts.join(' ')
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}${pick(next, ['.', '?', '!', '.\n'])}`
}

function paragraph(next: () => number, sentences: number): string {
  const parts: string[] = []
  for (let i = 0; i < sentences; i += 1) parts.push(sentence(next, 5 + Math.floor(next() * 12)))
  return parts.join(' ')
}

function attachment(next: () => number, index: number): Record<string, unknown> {
  const kind = Math.floor(next() * MIME_TYPES.length)
  const fileId = id(next)
  return {
    id: fileId,
    filename: `${pick(next, ['blatt', 'notes', 'scan', 'slides', 'lösung'])}-${index + 1}.${EXTENSIONS[kind]}`,
    mime_type: MIME_TYPES[kind],
    size: 1_000 + Math.floor(next() * 5_000_000),
    url: `https://files.ecampus.example/attachments/${fileId}?expires=${NOW + 3_600}&sig=${id(next)}${id(next)}`,
    sha256: Array.from({ length: 4 }, () => id(next))
      .join('')
      .toLowerCase(),
    created_at: NOW - Math.floor(next() * 86_400),
    // What eCampus shows as the attachment's preview: extracted text, the bulk of large events.
    preview_text: paragraph(next, 2 + Math.floor(next() * 6)),
  }
}

function reaction(next: () => number): Record<string, unknown> {
  return {
    emoji: pick(next, ['👍', '❤️', '😂', '🎉', '👀']),
    contact_id: id(next),
    created_at: NOW - Math.floor(next() * 3_600),
  }
}

/**
 * A realistic `message.created` body of exactly `size` bytes, identical on every call: the
 * documented envelope from the core's sample event, a message text, reactions and attachments
 * whose extracted preview text carries most of the bytes in large events.
 */
export function buildBody(size: number): Buffer {
  const next = random(size)
  const event = createSampleEvent(EVENT_TYPE, { id: 'a056V7R7NmNRjl70' })
  const payload = event.payload as unknown as Record<string, unknown>
  payload.message = paragraph(next, 2)
  payload.reactions = []
  payload.attachments = []
  const reactions = payload.reactions as unknown[]
  const attachments = payload.attachments as unknown[]

  let length = Buffer.byteLength(JSON.stringify(event))
  if (length > size) throw new RangeError(`The smallest body is ${length} bytes, over ${size}.`)
  // Grow by whole items while they fit (one comma each after the first), tracking the length
  // incrementally so a 1 MiB body is not re-serialised thousands of times.
  for (let i = 0; i < Math.min(12, size / 2048); i += 1) {
    const item = reaction(next)
    const added = Buffer.byteLength(JSON.stringify(item)) + (reactions.length > 0 ? 1 : 0)
    if (length + added > size) break
    reactions.push(item)
    length += added
  }
  for (let i = 1; ; i += 1) {
    const item = attachment(next, i)
    const added = Buffer.byteLength(JSON.stringify(item)) + (attachments.length > 0 ? 1 : 0)
    if (length + added > size - 64) break
    attachments.push(item)
    length += added
  }
  // Lengthen the message by whole sentences while they fit (measured as serialised JSON, so
  // escapes and multi-byte characters count right), then pad with ASCII words (one byte per
  // character, no escapes) to the exact size.
  for (;;) {
    const more = ` ${sentence(next, 5 + Math.floor(next() * 12))}`
    const added = Buffer.byteLength(JSON.stringify(more)) - 2
    if (length + added > size) break
    payload.message = `${payload.message as string}${more}`
    length += added
  }
  let padding = ''
  while (padding.length < size - length) padding += ` ${pick(next, ['see', 'you', 'in', 'class'])}`
  payload.message = `${payload.message as string}${padding.slice(0, size - length)}`

  const body = Buffer.from(JSON.stringify(event))
  if (body.length !== size) {
    throw new Error(`buildBody(${size}) produced ${body.length} bytes: the padding logic is off.`)
  }
  return body
}
