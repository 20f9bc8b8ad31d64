import type { Config } from '../config/config';
import type { Metrics } from './metrics';
import type { Services } from './services';

/** The hub's own parts that observe the services; absent where services run without a hub (the medium tier). */
export interface HubObservers {
  metrics: Metrics;
  /** The WebSocket server: closes a revoked key's sockets. */
  sockets: { closeKey(keyId: string, reason: string): void };
}

/**
 * Where one part of the hub hears another, all in one place: a rollout in progress refuses manual
 * traffic changes on its endpoint; each served prediction feeds the SLA minutes and the metrics;
 * scrapes read the runtime, the prediction log and the open alerts; a connector change re-reads the
 * worker's schedules; a revoked key closes its sockets on every replica.
 * Domain events travel through the outbox instead (`subscribeTo`); these are in-process hooks.
 */
export function registerObservers(services: Services, config: Config, hub?: HubObservers): void {
  if (config.monitoringEnabled) {
    services.predictions.observers.push({
      observe: (endpoint, versionId, latencyMs, rows, failed) => {
        services.slaTracker.record(endpoint.id, versionId, latencyMs, failed, rows);
        hub?.metrics.observePrediction(endpoint.name, latencyMs, rows, failed);
      },
    });
  }
  // A rollout owns its endpoint's split until it ends: manual traffic changes wait for it.
  services.endpoints.trafficGuards.push((manager, endpointId) =>
    services.rollouts.refuseWhileRollingOut(manager, endpointId),
  );
  // A no-op until the worker starts its schedules.
  services.connectors.changed.push(() => void services.connectorSchedules.refresh());
  services.automations.changed.push(() => void services.automationSchedules.refresh());
  if (!hub) return;
  hub.metrics.watchInference(services.runtime, services.predictionLog);
  services.automationRunner.observers.push((automation, run) =>
    hub.metrics.observeAutomationRun(
      automation.name,
      run.status,
      (new Date(run.finishedAt ?? 0).getTime() - new Date(run.createdAt).getTime()) / 1000,
    ),
  );
  hub.metrics.watchAlerts(services.alerts, services.events);
  // The event bus brings each revocation here, whichever replica revoked it.
  services.apiKeys.onRevoked((keyId, reason) => hub.sockets.closeKey(keyId, reason));
}
