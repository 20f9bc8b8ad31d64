/**
 * The items of `source` that pass `keep`, as an async iterator whose `return()` ends the source at
 * once, even while a `next()` is waiting: an async generator would only end after the source's next
 * item, so an unsubscribed client would hold its subscription until the next event.
 */
export function filterIterator<T, U = T>(
  source: AsyncIterator<T>,
  keep: (item: T) => boolean,
  map: (item: T) => U = (item) => item as unknown as U,
): AsyncIterableIterator<U> {
  const iterator: AsyncIterableIterator<U> = {
    async next(): Promise<IteratorResult<U>> {
      for (;;) {
        const item = await source.next();
        if (item.done) return { done: true, value: undefined };
        if (keep(item.value)) return { done: false, value: map(item.value) };
      }
    },
    async return(): Promise<IteratorResult<U>> {
      await source.return?.();
      return { done: true, value: undefined };
    },
    async throw(error?: unknown): Promise<IteratorResult<U>> {
      await source.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
