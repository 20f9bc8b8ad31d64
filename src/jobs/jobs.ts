import type { DataPolicyService } from '../modules/governance/data-policy.service';
import type { KpiService } from '../modules/kpis/kpi.service';
import type { MonitoringService } from '../modules/monitoring/monitoring.service';
import type { SlaTracker } from '../modules/monitoring/sla-tracker';
import type { RolloutDriver } from '../modules/rollouts/rollout-driver';
import type { Job } from './scheduler';

/**
 * The scheduled jobs: each replica flushes its SLA minutes; one replica per tick evaluates SLAs,
 * checks drift, drives rollouts, attributes KPI points to predictions logged after their records
 * synced, and (hourly) purges data past its project's retention period.
 */
export function scheduledJobs(
  monitoring: MonitoringService,
  tracker: SlaTracker,
  rolloutDriver: RolloutDriver,
  dataPolicy: DataPolicyService,
  kpis: KpiService,
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
  ];
}
