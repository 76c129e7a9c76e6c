/**
 * Puts a Node request or response object into V8's dictionary mode, for the rest of its life.
 *
 * Why: Node gives every `IncomingMessage` and `ServerResponse` a hidden class of its own
 * (`%HaveSameMap` is false for any two, on Node 20 with or without a framework). So every
 * property read or write on them, by Node's http code, the framework, the app and us, misses
 * V8's inline caches and takes the runtime's slow lookup, and every property added (Express's
 * `res.locals`, our `req.session`) builds yet another hidden class. Objects in dictionary mode
 * share one hidden class, which the caches hold. Measured on the bare Express app of
 * bench/instructions: about a third fewer instructions per request (docs/benchmarks.md).
 *
 * How: deleting a property other than the last one added is what makes V8 switch; the
 * property is put back at once with the same value, so nothing observable changes but the
 * order of `Object.keys` (it moves to the end). Only a plain writable, enumerable,
 * configurable data property is touched; an object without one is left as it is.
 */
export function toDictionaryMode(target: object, property: string): void {
  const record = target as Record<string, unknown>;
  const descriptor = Reflect.getOwnPropertyDescriptor(record, property);
  if (descriptor === undefined || !("value" in descriptor)) return;
  if (!descriptor.writable || !descriptor.enumerable || !descriptor.configurable) return;
  delete record[property];
  record[property] = descriptor.value;
}

/**
 * Both objects of a Node request, by properties Node's own constructors set (`complete` on
 * `IncomingMessage`, `sendDate` on `OutgoingMessage`).
 */
export function nodeObjectsToDictionaryMode(req: object, res: object): void {
  toDictionaryMode(req, "complete");
  toDictionaryMode(res, "sendDate");
}
