import type { RecordKind } from '../../../connectors/_shared';
import { KpiAggregation, KpiDirection } from './kpi.entity';

/**
 * A KPI the hub computes from synced records: which records count (`where`, over alias `r`), when
 * (`time`) and with what value. One point per qualifying record, replaced whenever the record changes.
 */
export interface DerivedKpi {
  key: string;
  name: string;
  unit: string;
  aggregation: KpiAggregation;
  direction: KpiDirection;
  description: string;
  recordKind: RecordKind;
  where: string;
  time: string;
  value: string;
}

export const DERIVED_KPIS: DerivedKpi[] = [
  {
    key: 'ticket_handling_time',
    name: 'Ticket handling time',
    unit: 'hours',
    aggregation: KpiAggregation.MEAN,
    direction: KpiDirection.LOWER_IS_BETTER,
    description:
      'Hours from a ticket’s creation to its first solve, per solved ticket, on the day it was solved',
    recordKind: 'ticket',
    where: "r.solved_at IS NOT NULL AND r.status <> 'deleted'",
    time: 'r.solved_at',
    value: 'EXTRACT(EPOCH FROM (r.solved_at - r.created_at)) / 3600.0',
  },
  {
    key: 'first_contact_resolution',
    name: 'First-contact resolution',
    unit: 'ratio',
    aggregation: KpiAggregation.MEAN,
    direction: KpiDirection.HIGHER_IS_BETTER,
    description: 'Share of solved tickets solved with at most one agent reply and never reopened',
    recordKind: 'ticket',
    where: "r.solved_at IS NOT NULL AND r.replies IS NOT NULL AND r.status <> 'deleted'",
    time: 'r.solved_at',
    value: 'CASE WHEN r.replies <= 1 AND COALESCE(r.reopens, 0) = 0 THEN 1 ELSE 0 END',
  },
  {
    key: 'rpa_job_success_rate',
    name: 'RPA job success rate',
    unit: 'ratio',
    aggregation: KpiAggregation.MEAN,
    direction: KpiDirection.HIGHER_IS_BETTER,
    description: 'Share of finished Orchestrator jobs that ended Successful (vs Faulted or Stopped)',
    recordKind: 'rpa_job',
    where: "r.ended_at IS NOT NULL AND r.state IN ('Successful', 'Faulted', 'Stopped')",
    time: 'r.ended_at',
    value: "CASE WHEN r.state = 'Successful' THEN 1 ELSE 0 END",
  },
  {
    key: 'queue_item_throughput',
    name: 'Queue-item throughput',
    unit: 'items',
    aggregation: KpiAggregation.SUM,
    direction: KpiDirection.HIGHER_IS_BETTER,
    description: 'Queue items processed successfully, counted on the day processing ended',
    recordKind: 'queue_item',
    where: "r.status = 'Successful' AND r.ended_at IS NOT NULL",
    time: 'r.ended_at',
    value: '1',
  },
  {
    key: 'deal_conversion_rate',
    name: 'Deal conversion rate',
    unit: 'ratio',
    aggregation: KpiAggregation.MEAN,
    direction: KpiDirection.HIGHER_IS_BETTER,
    description: 'Share of closed deals that were won, on the day they closed',
    recordKind: 'crm_deal',
    where: 'r.won IS NOT NULL',
    time: 'COALESCE(r.closed_at, r.updated_at)',
    value: 'CASE WHEN r.won THEN 1 ELSE 0 END',
  },
];

/**
 * SQL for the model version whose (non-shadow, successful) prediction carried `requestKey` in the
 * project, latest first: looked up per endpoint of the project, so the prediction log's unique
 * (endpoint, request key, shadow) index answers it.
 */
export const attributedVersion = (projectId: string, requestKey: string): string => `(
  SELECT p.model_version_id FROM endpoint e
    JOIN prediction_log p ON p.endpoint_id = e.id AND p.request_key = ${requestKey} AND p.shadow = false
   WHERE e.project_id = ${projectId} AND p.error IS NULL
   ORDER BY p.created_at DESC LIMIT 1)`;
