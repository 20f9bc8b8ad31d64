import type { MonitoringService } from '../modules/monitoring/monitoring.service';
import type { SlaTracker } from '../modules/monitoring/sla-tracker';
import type { Job } from './scheduler';

/** The monitor's jobs: each replica flushes its SLA minutes; one replica evaluates and checks drift. */
export function monitoringJobs(monitoring: MonitoringService, tracker: SlaTracker): Job[] {
  return [
    { id: 'sla-flush', schedule: '*/5 * * * * *', everyReplica: true, run: () => tracker.flush() },
    { id: 'monitoring-evaluate', schedule: '*/30 * * * * *', run: () => monitoring.evaluate() },
    { id: 'drift-check', schedule: '0 */5 * * * *', run: () => monitoring.checkAllDrift() },
  ];
}
