// pnpm installs Express 4 and Koa 2 under the aliases `express4` and `koa2` so both majors can be
// tested side by side. Neither ships types; the current majors' types describe every API the
// targets use.
declare module 'express4' {
  import express from 'express'
  export default express
}

declare module 'koa2' {
  import Koa from 'koa'
  export default Koa
}
