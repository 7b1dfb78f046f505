/**
 * Prepended to every job id. Event ids are chosen by the sender: without it an event id such as
 * `meta`, `id` or `events` would name one of the queue's own Redis keys (`bull:<queue>:meta`), and
 * an all-digit id would be refused by BullMQ ("Custom Id cannot be integers").
 */
const PREFIX = 'evt-'

/**
 * The BullMQ job id of an event id: `evt-` plus the id with `%` and `:` percent-encoded. BullMQ
 * refuses `:` in custom ids (it separates Redis key parts) and integer strings; the prefix rules
 * out both and keeps clear of the queue's own keys, and encoding `%` too keeps the mapping
 * injective, so two different event ids never collapse into one job.
 *
 * @example
 * const job = await queue.getJob(jobIdOf('a056V7R7NmNRjl70')) // job id 'evt-a056V7R7NmNRjl70'
 */
export function jobIdOf(eventId: string): string {
  return PREFIX + eventId.replace(/[%:]/g, (char) => (char === '%' ? '%25' : '%3A'))
}
