import type { EntityManager } from 'typeorm';
import { endpointIdsOf } from '../endpoints/endpoint.repository';

// The reads and deletes of the prediction log (and its outcomes) that other modules make: every SQL
// statement or fragment naming these tables is in this module (see scripts/check-table-owners.js).

/**
 * SQL for the served predictions (not shadow scorings, not failures) of endpoint $1 in the window
 * ($2, $3], selecting `columns`: a subquery for statements that aggregate over a window.
 */
export const servedInWindow = (columns: string): string =>
  `SELECT ${columns} FROM prediction_log
    WHERE endpoint_id = $1 AND NOT shadow AND error IS NULL AND created_at > $2 AND created_at <= $3`;

/**
 * SQL for the model version whose (non-shadow, successful) prediction carried `requestKeySql` in the
 * project, latest first: looked up per endpoint of the project, so the unique (endpoint, request key,
 * shadow) index answers it.
 */
export const attributedVersion = (projectIdSql: string, requestKeySql: string): string => `(
  SELECT p.model_version_id FROM prediction_log p
   WHERE p.endpoint_id IN ${endpointIdsOf(projectIdSql)}
     AND p.request_key = ${requestKeySql} AND p.shadow = false AND p.error IS NULL
   ORDER BY p.created_at DESC LIMIT 1)`;

/** Deletes up to `limit` of a project's predictions logged before `before`; how many it deleted. */
export async function deleteLoggedBefore(
  manager: EntityManager,
  projectId: string,
  before: Date,
  limit: number,
): Promise<number> {
  // By endpoint, so the (endpoint_id, created_at) index finds the rows.
  const [{ n }] = (await manager.query(
    `WITH deleted AS (
       DELETE FROM prediction_log WHERE id IN (
         SELECT id FROM prediction_log
          WHERE endpoint_id IN ${endpointIdsOf('$1')} AND project_id = $1 AND created_at < $2
          LIMIT $3)
       RETURNING 1)
     SELECT count(*)::int AS n FROM deleted`,
    [projectId, before, limit],
  )) as Array<{ n: number }>;
  return n;
}

/** Requests, failures and p95 latency of the served (`shadow` false) and shadow sides of a window. */
export interface SideFigures {
  shadow: boolean;
  n: number;
  errors: number;
  p95: number | null;
}

/**
 * Per side of a mirrored rollout in (`since`, `to`]: the stable version's served predictions and the
 * candidate's shadow scorings.
 */
export function mirroredSides(
  manager: EntityManager,
  where: { endpointId: string; since: Date; to: Date; candidateId: string; stableId: string },
): Promise<SideFigures[]> {
  return manager.query(
    `SELECT shadow, count(*)::int AS n, count(error)::int AS errors,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE error IS NULL) AS p95
       FROM prediction_log
      WHERE endpoint_id = $1 AND created_at > $2 AND created_at <= $3
        AND ((shadow AND model_version_id = $4) OR (NOT shadow AND model_version_id = $5))
      GROUP BY shadow`,
    [where.endpointId, where.since, where.to, where.candidateId, where.stableId],
  ) as Promise<SideFigures[]>;
}

/**
 * How many of a shadow version's successful scorings in (`since`, `to`] were compared with a served
 * answer to the same request, and how many of those gave the same label.
 */
export async function shadowAgreement(
  manager: EntityManager,
  where: { endpointId: string; shadowVersionId: string; since: Date; to: Date },
): Promise<{ compared: number; agreeing: number }> {
  const [row] = (await manager.query(
    `SELECT count(*)::int AS compared, count(*) FILTER (WHERE s.outputs->>'label' = p.outputs->>'label')::int AS agreeing
       FROM prediction_log s
       JOIN prediction_log p ON p.endpoint_id = s.endpoint_id AND p.request_key = s.request_key AND NOT p.shadow
      WHERE s.endpoint_id = $1 AND s.shadow AND s.model_version_id = $2 AND s.error IS NULL AND p.error IS NULL
        AND s.created_at > $3 AND s.created_at <= $4`,
    [where.endpointId, where.shadowVersionId, where.since, where.to],
  )) as Array<{ compared: number; agreeing: number }>;
  return row;
}

/** Per version and side, predictions since `since` with a recorded outcome, and how they fared. */
export interface AccuracyRow {
  modelVersionId: string;
  shadow: boolean;
  predictions: number;
  correct: number;
  mae: number | null;
  classified: boolean;
}

/** Live accuracy per version and side: an endpoint's predictions joined with their outcomes, in SQL. */
export function accuracyByVersion(
  manager: EntityManager,
  endpointId: string,
  since: Date | null,
): Promise<AccuracyRow[]> {
  return manager.query(
    `SELECT p.model_version_id AS "modelVersionId", p.shadow,
            count(*)::int AS predictions,
            count(*) FILTER (WHERE p.outputs->>'label' = o.label)::int AS correct,
            avg(abs((p.outputs->'values'->>0)::float8 - o.value)) FILTER (WHERE o.value IS NOT NULL) AS mae,
            bool_or(o.label IS NOT NULL) AS classified
       FROM prediction_log p
       JOIN prediction_outcome o ON o.endpoint_id = p.endpoint_id AND o.request_key = p.request_key
      WHERE p.endpoint_id = $1 AND p.error IS NULL AND ($2::timestamptz IS NULL OR p.created_at >= $2)
      GROUP BY 1, 2`,
    [endpointId, since],
  ) as Promise<AccuracyRow[]>;
}
