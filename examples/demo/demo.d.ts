/** One result of the demo: a case sent to one framework's example app. */
export interface DemoRow {
  framework: string
  name: string
  status: number
  ran: boolean
  ok: boolean
  expect: { status: number; handled: boolean }
}

/** Starts the three example apps, sends every case to each and returns the results. */
export function runDemo(): Promise<{ rows: DemoRow[]; ok: boolean }>
