import type { DataPolicyService } from '../modules/data-policy/data-policy.service';
import type { KpiService } from '../modules/kpis/kpi.service';
import type { MonitoringService } from '../modules/monitoring/monitoring.service';
import type { SlaTracker } from '../modules/monitoring/sla-tracker';
import type { RolloutDriver } from '../modules/rollouts/rollout-driver';
import type { Outbox } from '../platform/outbox/outbox';
import type { Job } from './scheduler';

const DAY_MS = 86_400_000;

/**
 * The scheduled jobs: each replica flushes its SLA minutes; one replica per tick evaluates SLAs,
 * checks drift, drives rollouts, attributes KPI points to predictions logged after their records
 * synced, and (hourly) purges data past its project's retention period and outbox events past theirs.
 */
export function scheduledJobs(
  monitoring: MonitoringService,
  tracker: SlaTracker,
  rolloutDriver: RolloutDriver,
  dataPolicy: DataPolicyService,
  kpis: KpiService,
  outbox: { outbox: Outbox; retentionDays: number; now: () => Date },
): Job[] {
  return [
    { id: 'rollouts-drive', schedule: '*/10 * * * * *', run: (lost) => rolloutDriver.driveAll(lost) },
    { id: 'sla-flush', schedule: '*/5 * * * * *', everyReplica: true, run: () => tracker.flush() },
    { id: 'monitoring-evaluate', schedule: '*/30 * * * * *', run: (lost) => monitoring.evaluate(lost) },
    {
      id: 'drift-check',
      schedule: '0 */5 * * * *',
      run: (lost) => monitoring.checkAllDrift(undefined, lost),
    },
    {
      id: 'kpi-attribution',
      schedule: '0 */10 * * * *',
      run: async (lost) => {
        await kpis.reattribute(undefined, lost);
      },
    },
    {
      id: 'data-retention',
      schedule: '0 17 * * * *',
      run: async (lost) => {
        await dataPolicy.runRetention(undefined, lost);
      },
    },
    {
      id: 'outbox-retention',
      schedule: '0 47 * * * *',
      run: async () => {
        await outbox.outbox.purge(new Date(outbox.now().getTime() - outbox.retentionDays * DAY_MS));
      },
    },
  ];
}
