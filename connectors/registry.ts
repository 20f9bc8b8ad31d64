import type { ConnectorDefinition } from './_shared';
import { hubspot } from './hubspot';
import { uipath } from './uipath';
import { zendesk } from './zendesk';

/** The adapters this hub has, by kind: the one place `src/` reaches vendor folders through. */
export function connectorRegistry(): ReadonlyMap<string, ConnectorDefinition> {
  const definitions: ConnectorDefinition[] = [hubspot, uipath, zendesk];
  return new Map(definitions.map((d) => [d.spec.kind, d]));
}
