import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/common/paths';
import { createDataSource, migrate } from '../src/db/data-source';
import { EmbeddedPostgres } from '../src/db/embedded-postgres';

/**
 * `generate <Name>`: writes the migration that brings a database migrated to date in line with the
 * entities. `check`: fails when the entities and the migrations disagree. Both run against a fresh
 * in-memory database unless DATABASE_URL is set.
 */
async function main(): Promise<void> {
  const [command, name] = process.argv.slice(2);
  if (command !== 'check' && !(command === 'generate' && name && /^[A-Z][A-Za-z0-9]+$/.test(name))) {
    throw new Error('usage: migrations check | migrations generate <PascalName>');
  }
  const embedded = process.env.DATABASE_URL ? undefined : await EmbeddedPostgres.open('memory://');
  const url = process.env.DATABASE_URL ?? (await embedded!.listen());
  const db = createDataSource({ url, poolSize: 2 });
  await db.initialize();
  try {
    await migrate(db);
    const { upQueries, downQueries } = await db.driver.createSchemaBuilder().log();
    if (command === 'check') {
      if (upQueries.length) {
        console.error(
          'Entities and migrations disagree; run `npm run migration:generate -- <Name>`. Missing:',
        );
        for (const q of upQueries) console.error(`  ${q.query}`);
        process.exitCode = 1;
      } else {
        console.log('migrations check: entities and migrations agree');
      }
      return;
    }
    if (!upQueries.length) {
      console.log('nothing to generate: entities and migrations agree');
      return;
    }
    const stamp = Date.now();
    const className = `${name}${stamp}`;
    const sql = (q: { query: string; parameters?: unknown[] }): string =>
      `    await queryRunner.query(${JSON.stringify(q.query)}${q.parameters?.length ? `, ${JSON.stringify(q.parameters)}` : ''});`;
    const file = `import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ${className} implements MigrationInterface {
  name = '${className}';

  public async up(queryRunner: QueryRunner): Promise<void> {
${upQueries.map(sql).join('\n')}
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
${downQueries.reverse().map(sql).join('\n')}
  }
}
`;
    const dir = path.join(projectRoot, 'migrations');
    const base = `${stamp}-${name}`;
    fs.writeFileSync(path.join(dir, `${base}.ts`), file);
    const index = path.join(dir, 'index.ts');
    const files = fs
      .readdirSync(dir)
      .filter((f) => /^\d+-[A-Za-z0-9]+\.ts$/.test(f))
      .sort();
    const imports = files.map((f) => {
      const [ts, n] = f.replace(/\.ts$/, '').split('-');
      return { module: `./${f.replace(/\.ts$/, '')}`, cls: `${n}${ts}` };
    });
    fs.writeFileSync(
      index,
      `${imports.map((i) => `import { ${i.cls} } from '${i.module}';`).join('\n')}

/** Every migration, oldest first. \`npm run migration:generate -- <Name>\` rewrites this list. */
export const migrations = [${imports.map((i) => i.cls).join(', ')}];
`,
    );
    console.log(`wrote migrations/${base}.ts (${upQueries.length} statements)`);
  } finally {
    await db.destroy();
    await embedded?.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
