import path from 'node:path';
import type { GraphQLSchema } from 'graphql';
import { buildSchema, type NonEmptyArray } from 'type-graphql';
import { authChecker } from '../auth/auth-checker';
import { projectRoot } from '../common/paths';
import { ApiKeyResolver } from '../modules/api-keys/api-key.resolver';
import { DatasetResolver, DatasetVersionResolver } from '../modules/datasets/dataset.resolver';
import { ModelResolver, ModelVersionResolver, ProjectModelsResolver } from '../modules/models/model.resolver';
import { ProjectResolver } from '../modules/projects/project.resolver';
import { RunResolver } from '../modules/runs/run.resolver';
import { EndpointResolver } from '../modules/endpoints/endpoint.resolver';
import { PredictionResolver } from '../modules/predictions/prediction.resolver';
import { ReplayResolver } from '../modules/predictions/replay.resolver';
import { EndpointStatsResolver, MonitoringResolver } from '../modules/monitoring/monitoring.resolver';
import { RolloutResolver } from '../modules/rollouts/rollout.resolver';
import { ConnectorResolver } from '../modules/connectors/connector.resolver';
import { KpiResolver } from '../modules/kpis/kpi.resolver';
import { AuditResolver } from '../modules/audit/audit.resolver';
import { ImpactAssessmentResolver } from '../modules/governance/impact-assessment.resolver';
import { AutomationResolver } from '../modules/automations/automation.resolver';
import { LocalEventBus } from '../events';
import { guardArguments } from './argument-guard';
import { bindServices } from './schema-services';
import type { Services } from './services';

/** Every resolver class. Each is constructed once per process with the services. */
export const resolvers: NonEmptyArray<new (services: Services) => object> = [
  ProjectResolver,
  ApiKeyResolver,
  DatasetResolver,
  DatasetVersionResolver,
  ModelResolver,
  ModelVersionResolver,
  ProjectModelsResolver,
  RunResolver,
  EndpointResolver,
  PredictionResolver,
  ReplayResolver,
  EndpointStatsResolver,
  MonitoringResolver,
  RolloutResolver,
  ConnectorResolver,
  KpiResolver,
  AuditResolver,
  ImpactAssessmentResolver,
  AutomationResolver,
];

export const SCHEMA_FILE = path.join(projectRoot, 'graphql', 'schema.graphql');

/** Builds the executable schema; without services it can only be printed (the SDL snapshot). */
export async function buildNerveSchema(services?: Services): Promise<GraphQLSchema> {
  const instances = new Map<unknown, object>();
  const schema = await buildSchema({
    resolvers,
    authChecker,
    authMode: 'error',
    validate: false,
    // Subscriptions use their own `subscribe` functions; type-graphql insists on a bus all the same.
    pubSub: services?.events ?? new LocalEventBus(),
    container: {
      get: (cls: new (services: Services) => object) => {
        if (!services) throw new Error('schema was built without services');
        let instance = instances.get(cls);
        if (!instance) instances.set(cls, (instance = new cls(services)));
        return instance;
      },
    },
  });
  guardArguments(schema);
  if (services) bindServices(schema, services);
  return schema;
}
