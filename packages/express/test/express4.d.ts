// The `express4` alias (express@4) ships no types; its API used by these tests is the same as 5's.
declare module 'express4' {
  import express from 'express'
  export default express
}
