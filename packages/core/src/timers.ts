/**
 * Lets the process exit while a timer is pending, where the runtime can (Node and Bun return an
 * object with `unref`). Deno, Workers and browsers return a number and have nothing to unref.
 */
export function unrefTimer(timer: unknown): void {
  ;(timer as { unref?: () => void } | null)?.unref?.()
}
