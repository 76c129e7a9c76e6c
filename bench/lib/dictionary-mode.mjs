// The switch sessionkit's Express adapter makes on the way in (src/adapters/dictionary-mode.ts),
// for the bench's baselines "in dictionary mode": the bench apps use only the public package,
// and the package does not export it.

/** Deletes a plain data property and puts it back, which turns the object into a dictionary-mode one. */
function toDictionaryMode(target, property) {
  const descriptor = Reflect.getOwnPropertyDescriptor(target, property);
  if (!descriptor || !("value" in descriptor) || !descriptor.writable || !descriptor.enumerable || !descriptor.configurable)
    return;
  delete target[property];
  target[property] = descriptor.value;
}

/** Express middleware: req and res into dictionary mode, then on. */
export function dictionaryMiddleware(req, res, next) {
  toDictionaryMode(req, "complete");
  toDictionaryMode(res, "sendDate");
  next();
}
