import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { registerTrainedModel } from '../src/training/register-model';
import { trainTicketRouter, type TrainTicketRouterOptions } from '../src/training/train-ticket-router';

const USAGE = `Trains the support-ticket router, exports it to ONNX and registers it with a Nerve hub.

Usage: npm run train -- [options]

  --url <url>          GraphQL endpoint (default $NERVE_URL, else http://127.0.0.1:$PORT/graphql, PORT 4000)
  --key <key>          API key (default $NERVE_API_KEY); required unless --no-register
  --project <ref>      project slug or id (default demo)
  --model <name>       model name (default ticket-router)
  --dataset <name>     dataset name (default support-tickets)
  --seed <n>           data, split and shuffling seed (default 1)
  --rows <n>           tickets to generate (default 6000)
  --buckets <n>        hash buckets of the body text; the subject gets a quarter (default 1024)
  --ngrams <lo-hi>     word n-gram lengths, e.g. 1-2 (default 1-2)
  --epochs <n>         training epochs (default 20)
  --l2 <x>             L2 penalty (default 1e-4)
  --out <path>         also write model.onnx, preprocessing.json and metrics.json in that folder
                       (a path ending in .onnx: write just the model there)
  --no-register        train (and write with --out) without calling the hub
  -h, --help           show this help`;

class UsageError extends Error {}

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UsageError(`${flag} must be a whole number, got "${value}"`);
  return n;
}

function float(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`${flag} must be a number, got "${value}"`);
  return n;
}

function ngrams(value: string | undefined): [number, number] | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+)(?:-(\d+))?$/.exec(value);
  if (!match) throw new UsageError(`--ngrams must be like 1-2 or 1, got "${value}"`);
  return [Number(match[1]), Number(match[2] ?? match[1])];
}

const percent = (x: number): string => `${(x * 100).toFixed(1)}%`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      key: { type: 'string' },
      project: { type: 'string' },
      model: { type: 'string' },
      dataset: { type: 'string' },
      seed: { type: 'string' },
      rows: { type: 'string' },
      buckets: { type: 'string' },
      ngrams: { type: 'string' },
      epochs: { type: 'string' },
      l2: { type: 'string' },
      out: { type: 'string' },
      'no-register': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const register = !values['no-register'];
  // The hub's own PORT: the same shell that started the hub on another port reaches it without --url.
  const url = values.url ?? process.env.NERVE_URL ?? `http://127.0.0.1:${process.env.PORT || 4000}/graphql`;
  const key = values.key ?? process.env.NERVE_API_KEY;
  if (register && !key)
    throw new UsageError(
      'an API key is required to register: pass --key or set NERVE_API_KEY (or use --no-register)',
    );

  const options: TrainTicketRouterOptions = {
    seed: integer(values.seed, '--seed'),
    rows: integer(values.rows, '--rows'),
    textBuckets: integer(values.buckets, '--buckets'),
    ngrams: ngrams(values.ngrams),
    epochs: integer(values.epochs, '--epochs'),
    l2: float(values.l2, '--l2'),
  };
  let trained;
  try {
    trained = trainTicketRouter(options);
  } catch (error) {
    // Option checks in training are the user's to fix, not a crash.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { metrics, dataset, options: used } = trained;
  console.log(
    `trained on ${dataset.trainRows} tickets, evaluated on ${dataset.testRows} ` +
      `(seed ${used.seed}, ${used.textBuckets} buckets, ngrams ${used.ngrams.join('-')}, ${used.epochs} epochs) ` +
      `in ${Math.round(trained.trainingMs)} ms`,
  );
  console.log(
    `accuracy ${percent(metrics.accuracy)}  macro-F1 ${percent(metrics.macro_f1)}  ` +
      `train accuracy ${percent(metrics.train_accuracy)}  log loss ${metrics.log_loss.toFixed(3)}`,
  );
  for (const label of trained.labels) {
    const s = trained.report.perClass[label];
    console.log(
      `  ${label.padEnd(10)} precision ${percent(s.precision).padStart(6)}  recall ${percent(s.recall).padStart(6)}  ` +
        `F1 ${percent(s.f1).padStart(6)}  (${s.support} tickets)`,
    );
  }

  if (values.out?.endsWith('.onnx')) {
    const file = path.resolve(values.out);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, trained.onnx);
    console.log(`wrote ${file}`);
  } else if (values.out) {
    const dir = path.resolve(values.out);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'model.onnx'), trained.onnx);
    fs.writeFileSync(
      path.join(dir, 'preprocessing.json'),
      `${JSON.stringify(trained.preprocessing, null, 2)}\n`,
    );
    fs.writeFileSync(
      path.join(dir, 'metrics.json'),
      `${JSON.stringify(
        { metrics, labels: trained.labels, confusion: trained.report.confusion, history: trained.history },
        null,
        2,
      )}\n`,
    );
    console.log(`wrote model.onnx, preprocessing.json and metrics.json to ${dir}`);
  }

  if (!register) return;
  const project = values.project ?? 'demo';
  const ids = await registerTrainedModel({ url, key: key! }, trained, {
    project,
    model: values.model,
    dataset: values.dataset,
  });
  console.log(
    `registered ${values.model ?? 'ticket-router'} version ${ids.version} (${ids.status}) in project ${project}`,
  );
  if (ids.status === 'REJECTED')
    console.log(`  golden samples did not reproduce: ${JSON.stringify(ids.validation?.mismatches ?? [])}`);
  console.log(`  model version    ${ids.modelVersionId}`);
  console.log(`  model            ${ids.modelId}`);
  console.log(`  run              ${ids.runId}`);
  console.log(`  dataset version  ${ids.datasetVersionId} (version ${ids.datasetVersion})`);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError || (error instanceof TypeError && 'code' in error)) {
    // parseArgs reports unknown or malformed flags as TypeErrors with an ERR_PARSE_ARGS_* code.
    console.error(`train: ${error.message}\nRun with --help for the options.`);
    process.exit(2);
  }
  console.error(`train: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
