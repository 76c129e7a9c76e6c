// Timing helpers: alternate the two sides of a pair (A B B A A B ...) so drift on a shared
// machine (other processes, CPU frequency, GC of earlier runs) lands on both sides alike, and
// report the median of the rounds with the spread, never a single sample.

/** Median of a non-empty list of numbers. */
export function median(values) {
  if (values.length === 0) throw new Error("[bench] median of no samples");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** (max - min) / median, as a fraction: how much the rounds disagreed. */
export function spread(values) {
  return values.length < 2 ? 0 : (Math.max(...values) - Math.min(...values)) / median(values);
}

/**
 * Runs `operation(i)` one call at a time for `ms` milliseconds; returns operations per second.
 * `counter` carries `i` across calls so successive rounds keep walking the session pool.
 */
export async function opsPerSecond(operation, ms, counter) {
  const start = performance.now();
  const end = start + ms;
  let done = 0;
  let now = start;
  while (now < end) {
    await operation(counter.next++);
    done++;
    now = performance.now();
  }
  return (done * 1000) / (now - start);
}

/**
 * Alternates the sides of a pair for `rounds` rounds, in ABBA order. `run(side)` returns one
 * sample (higher is better). Sides that are `null` are skipped (a backend without a peer).
 * Returns the samples per side.
 */
export async function alternate(sides, rounds, run) {
  const samples = sides.map(() => []);
  for (let round = 0; round < rounds; round++) {
    const order = sides.map((_, index) => index);
    if (round % 2 === 1) order.reverse();
    for (const index of order) {
      if (sides[index] === null) continue;
      samples[index].push(await run(sides[index]));
    }
  }
  return samples;
}
