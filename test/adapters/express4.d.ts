// Express 4 is installed under the alias "express4" to test the adapter on both majors; the
// routes use only APIs both share, so Express 5's typings describe it well enough here.
declare module "express4" {
  import express from "express";
  export default express;
}
