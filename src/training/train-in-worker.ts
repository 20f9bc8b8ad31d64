import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { TrainedModel } from './register-model';
import type { TrainTicketRouterOptions } from './train-ticket-router';

/**
 * Runs in the thread. When the hub itself runs from the TypeScript sources (tests, ts-register), the
 * thread has none of the parent's loaders, so it transpiles `.ts` files on load the same way.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
if (workerData.module.endsWith('.ts')) {
  const fs = require('node:fs');
  const ts = require('typescript');
  const compilerOptions = {
    module: ts.ModuleKind.CommonJS,
    target: ts.ScriptTarget.ES2022,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    useDefineForClassFields: false,
    esModuleInterop: true,
  };
  require.extensions['.ts'] = (module, filename) => {
    const source = fs.readFileSync(filename, 'utf8');
    module._compile(ts.transpileModule(source, { compilerOptions, fileName: filename }).outputText, filename);
  };
}
const { trainTicketRouter } = require(workerData.module);
const t = trainTicketRouter(workerData.options);
parentPort.postMessage({
  options: t.options,
  onnx: t.onnx,
  preprocessing: t.preprocessing,
  labels: t.labels,
  featureNames: t.featureNames,
  metrics: t.metrics,
  history: t.history,
  goldenSamples: t.goldenSamples,
  dataset: t.dataset,
  trainingMs: t.trainingMs,
});
`;

/**
 * Trains the ticket router in a worker thread. Training takes seconds of pure computation; on the hub's
 * own thread it would stall every request, the embedded database and the hub's own seeding client
 * (whose idle keep-alive sockets the server then closes under it: ECONNRESET).
 */
export function trainTicketRouterInWorker(options: TrainTicketRouterOptions = {}): Promise<TrainedModel> {
  const module = path.join(__dirname, `train-ticket-router${path.extname(__filename)}`);
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, options } });
    let result: TrainedModel | undefined;
    worker.once('message', (message: TrainedModel) => {
      // Structured cloning turns the Buffer into a plain Uint8Array.
      result = { ...message, onnx: Buffer.from(message.onnx) };
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (result) resolve(result);
      else reject(new Error(`the training worker exited with code ${code} before answering`));
    });
  });
}
