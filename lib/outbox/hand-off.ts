import type { DeadLetterInvoker } from "../dead-letters/invoker.ts";
import type { DeadLetterRequest } from "../events/dead-letter.ts";

/** Hands every item to the dead-letter function at once; sorts them by whether it accepted. */
export async function handOff<T extends { request: DeadLetterRequest }>(
  invoker: DeadLetterInvoker,
  items: readonly T[],
): Promise<{ accepted: T[]; rejected: { item: T; reason: unknown }[] }> {
  const results = await Promise.allSettled(items.map((item) => invoker.deadLetter(item.request)));
  const accepted: T[] = [];
  const rejected: { item: T; reason: unknown }[] = [];
  results.forEach((result, i) => {
    const item = items[i] as T;
    if (result.status === "fulfilled") accepted.push(item);
    else rejected.push({ item, reason: result.reason });
  });
  return { accepted, rejected };
}
