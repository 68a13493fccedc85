// A small `expect` over node:assert, so the unit tests run on node's own
// test runner with no test framework to install.
import assert from 'node:assert/strict';

export function expect<T>(actual: T, message?: string) {
  return {
    toEqual: (expected: unknown) => assert.deepStrictEqual(actual, expected, message),
    toBe: (expected: unknown) => assert.strictEqual(actual, expected, message),
    toBeNull: () => assert.strictEqual(actual, null, message),
    toHaveLength: (n: number) => assert.strictEqual((actual as { length: number }).length, n, message),
    toContain: (item: unknown) => assert.ok((actual as unknown[]).includes(item), message ?? `missing ${String(item)}`),
    not: {
      toBe: (expected: unknown) => assert.notStrictEqual(actual, expected, message),
    },
  };
}
