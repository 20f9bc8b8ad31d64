import type { ConnectorDefinition } from './_shared';
import { airflow } from './airflow';
import { argo } from './argo';
import { hubspot } from './hubspot';
import { temporal } from './temporal';
import { uipath } from './uipath';
import { zendesk } from './zendesk';

/** The adapters this hub has, by kind: the one place `src/` reaches vendor folders through. */
export function connectorRegistry(): ReadonlyMap<string, ConnectorDefinition> {
  const definitions: ConnectorDefinition[] = [airflow, argo, hubspot, temporal, uipath, zendesk];
  return new Map(definitions.map((d) => [d.spec.kind, d]));
}
