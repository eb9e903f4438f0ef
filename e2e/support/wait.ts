/**
 * Polls until `check` returns a value other than undefined/false. No deadline of
 * its own: the test's timeout bounds it, so a loaded machine only makes it slower.
 */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  everyMs = 25,
): Promise<T> {
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
