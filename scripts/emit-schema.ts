import 'reflect-metadata';
import fs from 'node:fs';
import { printSchemaSorted } from '../src/server/sdl';
import { SCHEMA_FILE, buildNerveSchema } from '../src/server/schema';

/** Writes graphql/schema.graphql, or with --check fails when it differs from the code. */
async function main(): Promise<void> {
  const sdl = printSchemaSorted(await buildNerveSchema());
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(SCHEMA_FILE) ? fs.readFileSync(SCHEMA_FILE, 'utf8') : '';
    if (current !== sdl) {
      console.error(
        'graphql/schema.graphql is stale: run `npm run schema:emit` and review the diff as an API change',
      );
      process.exit(1);
    }
    console.log('schema check: graphql/schema.graphql matches the code');
    return;
  }
  fs.writeFileSync(SCHEMA_FILE, sdl);
  console.log(`wrote ${SCHEMA_FILE}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
