export default async function globalTeardown(): Promise<void> {
  await globalThis.__NERVE_EMBEDDED__?.close();
}
