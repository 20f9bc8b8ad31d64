import fs from 'node:fs';
import { printSchemaSorted } from './sdl';
import { SCHEMA_FILE, buildNerveSchema } from './schema';

describe('graphql/schema.graphql', () => {
  it('matches the schema the code builds (run `npm run schema:emit` and review the diff)', async () => {
    const sdl = printSchemaSorted(await buildNerveSchema());
    expect(fs.readFileSync(SCHEMA_FILE, 'utf8')).toBe(sdl);
  });
});
