import 'reflect-metadata';
import { ConfigError, loadConfig } from './config/config';
import { Logger } from './common/logger';
import { startHub } from './server/hub';
import { DataDirInUseError } from './db/embedded-postgres';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = new Logger(config.logLevel, { role: config.role });
  const hub = await startHub(config, { logger });
  const lines = [
    '',
    `  Nerve is up: ${hub.url} (GraphQL over HTTP and WebSocket)`,
    `  database: ${config.databaseUrl ? 'PostgreSQL from DATABASE_URL' : `embedded, in ${config.dataDir}`}`,
  ];
  if (hub.seeded.adminKey) {
    lines.push(
      '',
      '  One-time admin API key (store it now; it is not shown again):',
      `    ${hub.seeded.adminKey}`,
      '',
      `  Try: curl -s ${hub.url} -H 'content-type: application/json' \\`,
      `         -H 'authorization: Bearer ${hub.seeded.adminKey}' -d '{"query":"{ me { name role } }"}'`,
    );
  }
  if (hub.seeded.demoCreated) lines.push('', `  Demo project created: "${hub.seeded.demoProject}"`);
  if (hub.seeded.demoMissing) {
    lines.push(
      '',
      `  DEMO INCOMPLETE: seeding the demo project "${hub.seeded.demoProject}" did not finish.`,
      `    missing: ${hub.seeded.demoMissing.join(', ')}`,
      '    Start Nerve again (npm start) to resume it; the log above says what failed.',
    );
  } else if (hub.seeded.demoProject && !hub.seeded.demoCreated) {
    lines.push('', `  Demo project "${hub.seeded.demoProject}": seeding resumed and finished.`);
  }
  if (hub.seeded.demoEndpoint) {
    lines.push(
      `  A ticket router trained here (versions 1 and 2) serves on the endpoint "${hub.seeded.demoEndpoint}":`,
      `    curl -s ${hub.url} -H 'content-type: application/json' -H 'authorization: Bearer <key>' \\`,
      `      -d '{"query":"mutation { predict(endpoint: \\"${hub.seeded.demoEndpoint}\\", input: { subject: \\"Refund for double charge\\", body: \\"I was billed twice this month\\", channel: \\"email\\", customer_tier: \\"pro\\", account_age_days: 400, prior_tickets: 1, attachments: 0 }) { label score modelVersion } }"}'`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    const force = setTimeout(() => {
      logger.error('shutdown timed out; exiting');
      process.exit(1);
    }, 30_000);
    force.unref();
    hub.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('shutdown failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof DataDirInUseError) {
    process.stderr.write(`Nerve cannot start: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`Nerve failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
