/**
 * Whether `current` holds exactly the values of `pristine`, comparing plain objects, arrays
 * and primitives only. True means the data is unchanged, so a commit need not serialize it
 * to find out; anything else (a Date, a Map, a class instance, a shared reference) answers
 * false and the caller serializes and compares bytes as usual. Key order is ignored: the
 * same keys with the same values are the same session, whatever order the app re-added them in.
 */
export function samePlainData(current: unknown, pristine: unknown): boolean {
  if (typeof current !== "object" || current === null) return Object.is(current, pristine);
  // The request's data is always its own copy; one shared object could have changed on both sides.
  if (typeof pristine !== "object" || pristine === null || current === pristine) return false;
  if (Array.isArray(current)) {
    if (!Array.isArray(pristine) || current.length !== pristine.length) return false;
    for (let i = 0; i < current.length; i++) if (!samePlainData(current[i], pristine[i])) return false;
    return true;
  }
  if (Array.isArray(pristine) || !isPlainObject(current) || !isPlainObject(pristine)) return false;
  const a = current as Record<string, unknown>;
  const b = pristine as Record<string, unknown>;
  let count = 0;
  for (const key in a) {
    if (!Object.hasOwn(b, key) || !samePlainData(a[key], b[key])) return false;
    count++;
  }
  for (const _ in b) count--;
  return count === 0;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
