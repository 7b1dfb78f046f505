import { readFile } from 'node:fs/promises'
import { CliError } from './cli-error.js'

/**
 * Reads all of stdin as bytes. Refuses an interactive terminal: the command would otherwise sit
 * waiting for input the user did not know it expected.
 */
export async function readStdin(hint: string): Promise<Buffer> {
  if (process.stdin.isTTY) {
    throw new CliError(`nothing piped to stdin: ${hint}`)
  }
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** The bytes of a `--data` source: a file path, or `-` for stdin. */
export async function readInput(source: string): Promise<Buffer> {
  if (source === '-') {
    return readStdin('pipe the JSON in, e.g. `... --data - < event.json`, or pass a file path')
  }
  try {
    return await readFile(source)
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error)
    throw new CliError(`cannot read --data file ${JSON.stringify(source)}: ${describe(reason)}`)
  }
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
}

function describe(code: string): string {
  return REASONS[code] ?? code
}
