// The `koa2` alias (koa@2) ships no types; the API these tests use is the same as Koa 3's.
declare module 'koa2' {
  import Koa from 'koa'
  export default Koa
}
