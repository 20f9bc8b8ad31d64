import type { EntityManager } from 'typeorm';
import type { RecordKind } from '../../../connectors/_shared';
import { attributedVersion } from '../predictions/prediction-log.repository';
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
 * Replaces the points `kpi` derives from these records of a synced-record table (vendor ids of one
 * connector): each qualifying record gives one point, attributed to the model version whose prediction
 * carried its request key. Runs in the transaction that wrote the records.
 */
export async function derivePoints(
  manager: EntityManager,
  kpi: DerivedKpi,
  kpiId: string,
  records: { table: string; connectorId: string; externalIds: string[] },
): Promise<void> {
  const { table, connectorId, externalIds } = records;
  await manager.query(`DELETE FROM kpi_point WHERE kpi_id = $1 AND source_ref = ANY($2::text[])`, [
    kpiId,
    externalIds.map((id) => `${connectorId}:${id}`),
  ]);
  await manager.query(
    `INSERT INTO kpi_point (kpi_id, project_id, time, value, model_version_id, request_key, dimensions, source_ref)
     SELECT $1, r.project_id, ${kpi.time}, ${kpi.value}, ${attributedVersion('r.project_id', 'r.request_key')},
            r.request_key, jsonb_build_object('connector', r.connector_id::text), r.connector_id::text || ':' || r.external_id
       FROM ${table} r
      WHERE r.connector_id = $2 AND r.external_id = ANY($3::text[]) AND ${kpi.where}`,
    [kpiId, connectorId, externalIds],
  );
}
