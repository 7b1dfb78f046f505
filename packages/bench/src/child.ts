import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'

// Resolved from this package, not the working directory, so children start from anywhere.
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

/** Forks a TypeScript file of this package as a Node child with an IPC channel. */
export function forkTs(file: URL, args: string[], nodeFlags: string[] = []): ChildProcess {
  return fork(file, args, {
    execArgv: [...nodeFlags, '--import', TSX_LOADER],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
}
