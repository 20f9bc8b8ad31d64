import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { InferenceRuntime } from '../modules/inference/inference-runtime';
import type { PredictionLogWriter } from '../modules/predictions/prediction-log-writer';
import type { EventBus } from '../events';
import type { AlertService } from '../modules/alerts/alert.service';

const MAX_OPERATION_LABELS = 500;

/** Prometheus series of one hub process. */
export class Metrics {
  readonly registry = new Registry();
  private readonly operations = new Set<string>();

  readonly requests = new Counter({
    name: 'nerve_graphql_requests_total',
    help: 'GraphQL operations by name, type and outcome',
    labelNames: ['operation', 'type', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly duration = new Histogram({
    name: 'nerve_graphql_request_duration_seconds',
    help: 'GraphQL operation latency by name and type',
    labelNames: ['operation', 'type'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly http = new Counter({
    name: 'nerve_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });

  readonly rateLimited = new Counter({
    name: 'nerve_rate_limited_requests_total',
    help: 'Requests refused with RATE_LIMITED (per-key limits of this process), by the role of the key',
    labelNames: ['role'] as const,
    registers: [this.registry],
  });

  /** Label-bound series per (operation, type, outcome): prom-client re-validates labels on every call otherwise. */
  private readonly series = new Map<
    string,
    { duration: { observe(v: number): void }; requests: { inc(): void } }
  >();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'nerve_' });
    // prom-client adds these gauges named *_total, which Prometheus reserves for counters (promtool
    // flags them); each is only the sum of the same family by type, so nothing is lost without them.
    for (const family of ['handles', 'requests', 'resources'])
      this.registry.removeSingleMetric(`nerve_nodejs_active_${family}_total`);
  }

  /** Records one GraphQL operation: its latency and its outcome. */
  observeOperation(
    operationName: string | null | undefined,
    type: string,
    outcome: 'ok' | 'error',
    seconds: number,
  ): void {
    const operation = this.operationLabel(operationName);
    const id = `${operation}\u0000${type}\u0000${outcome}`;
    let series = this.series.get(id);
    if (!series) {
      series = {
        duration: this.duration.labels({ operation, type }),
        requests: this.requests.labels({ operation, type, outcome }),
      };
      this.series.set(id, series);
    }
    series.duration.observe(seconds);
    series.requests.inc();
  }

  readonly predictions = new Counter({
    name: 'nerve_predictions_total',
    help: 'Predictions served, by endpoint and outcome (ok, error); a batch counts each row',
    labelNames: ['endpoint', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly predictionLatency = new Histogram({
    name: 'nerve_prediction_latency_seconds',
    help: 'Prediction latency (queue and model run) by endpoint',
    labelNames: ['endpoint'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  /** Per-endpoint series; endpoint names are created by admins, so the label set stays small. */
  observePrediction(endpoint: string, latencyMs: number, rows: number, failed: boolean): void {
    let series = this.endpointSeries.get(endpoint);
    if (!series) {
      series = {
        ok: this.predictions.labels({ endpoint, outcome: 'ok' }),
        error: this.predictions.labels({ endpoint, outcome: 'error' }),
        latency: this.predictionLatency.labels({ endpoint }),
      };
      this.endpointSeries.set(endpoint, series);
    }
    if (failed) series.error.inc(rows);
    else {
      series.ok.inc(rows);
      series.latency.observe(latencyMs / 1000);
    }
  }

  private readonly endpointSeries = new Map<
    string,
    { ok: { inc(n: number): void }; error: { inc(n: number): void }; latency: { observe(v: number): void } }
  >();

  readonly automationRuns = new Counter({
    name: 'nerve_automation_runs_total',
    help: 'Automation runs finished on this replica, by automation and status (SUCCEEDED, FAILED)',
    labelNames: ['automation', 'status'] as const,
    registers: [this.registry],
  });

  readonly automationRunSeconds = new Histogram({
    name: 'nerve_automation_run_seconds',
    help: 'From trigger to the end of the run (queueing, retries and every step), by automation',
    labelNames: ['automation'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
    registers: [this.registry],
  });

  /** A finished automation run; automation names are made by engineers, so the label set stays small. */
  observeAutomationRun(automation: string, status: string, seconds: number): void {
    this.automationRuns.inc({ automation, status });
    this.automationRunSeconds.observe({ automation }, seconds);
  }

  /** Open alerts by kind and severity, read from the database at scrape time. */
  watchAlerts(alerts: AlertService, events: EventBus): void {
    new Gauge({
      name: 'nerve_alerts_open',
      help: 'Alerts not yet resolved, by kind and severity',
      labelNames: ['kind', 'severity'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const row of await alerts.openCounts())
          this.labels({ kind: row.kind, severity: row.severity }).set(row.count);
      },
    });
    new Gauge({
      name: 'nerve_subscriptions',
      help: 'Live GraphQL subscriptions on this process',
      registers: [this.registry],
      collect() {
        this.set(events.subscribers);
      },
    });
  }

  /** Series read from the inference runtime and the prediction log at scrape time. */
  watchInference(runtime: InferenceRuntime, log: PredictionLogWriter): void {
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    };
    // Totals since start are counters, so rate() and increase() handle a restart's reset.
    const counter = (name: `${string}_total`, help: string, read: () => number): void => {
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    };
    gauge('nerve_inference_queue_rows', 'Rows waiting for a batch', () => runtime.snapshot().queueDepth);
    gauge('nerve_inference_in_flight_batches', 'Batches being run', () => runtime.snapshot().inFlight);
    counter('nerve_inference_batches_total', 'Batches run since start', () => runtime.stats.batches);
    counter('nerve_inference_rows_total', 'Rows scored since start', () => runtime.stats.rows);
    counter(
      'nerve_inference_batch_failures_total',
      'Model runs that failed since start',
      () => runtime.stats.failures,
    );
    gauge(
      'nerve_inference_loaded_versions',
      'Model versions loaded',
      () => runtime.snapshot().loadedVersions.length,
    );
    gauge('nerve_prediction_log_buffered_rows', 'Predictions waiting to be written', () => log.buffered);
    counter('nerve_prediction_log_written_rows_total', 'Predictions written since start', () => log.written);
    counter(
      'nerve_prediction_log_dropped_rows_total',
      'Predictions the database refused on their own, dropped from the log',
      () => log.dropped,
    );
  }

  /** Operation names come from clients: past a bound, new ones are counted as `other`. */
  operationLabel(name: string | null | undefined): string {
    if (!name) return 'anonymous';
    if (this.operations.has(name)) return name;
    if (this.operations.size >= MAX_OPERATION_LABELS || !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name))
      return 'other';
    this.operations.add(name);
    return name;
  }
}
