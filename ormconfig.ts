import 'reflect-metadata';
import { createDataSource } from './src/db/data-source';

/** The one DataSource for the TypeORM CLI (`npx typeorm -d dist/ormconfig.js ...`). */
export default createDataSource({
  url: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
});
