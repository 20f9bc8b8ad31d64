import { Initial1795512307292 } from './1795512307292-Initial';
import { AddEndpointsAndPredictions1795516685971 } from './1795516685971-AddEndpointsAndPredictions';
import { AddMonitoring1795517831619 } from './1795517831619-AddMonitoring';
import { AddRollouts1795520736143 } from './1795520736143-AddRollouts';
import { AddConnectorsAndKpis1795526188332 } from './1795526188332-AddConnectorsAndKpis';
import { AddGovernance1795527957839 } from './1795527957839-AddGovernance';
import { KeyAuditChain1796475797463 } from './1796475797463-KeyAuditChain';
import { AddHubState1796475861836 } from './1796475861836-AddHubState';
import { ScopeArtifactsToProjects1796476008916 } from './1796476008916-ScopeArtifactsToProjects';
import { ClaimIdempotencyKeys1796476812896 } from './1796476812896-ClaimIdempotencyKeys';
import { AddOutbox1796496061824 } from './1796496061824-AddOutbox';
import { AddAutomations1796527198072 } from './1796527198072-AddAutomations';
import { AddConnectorWebhookDeliveries1796528135922 } from './1796528135922-AddConnectorWebhookDeliveries';
import { AddAutomationAlerts1796529247960 } from './1796529247960-AddAutomationAlerts';

/** Every migration, oldest first. `npm run migration:generate -- <Name>` rewrites this list. */
export const migrations = [
  Initial1795512307292,
  AddEndpointsAndPredictions1795516685971,
  AddMonitoring1795517831619,
  AddRollouts1795520736143,
  AddConnectorsAndKpis1795526188332,
  AddGovernance1795527957839,
  KeyAuditChain1796475797463,
  AddHubState1796475861836,
  ScopeArtifactsToProjects1796476008916,
  ClaimIdempotencyKeys1796476812896,
  AddOutbox1796496061824,
  AddAutomations1796527198072,
  AddConnectorWebhookDeliveries1796528135922,
  AddAutomationAlerts1796529247960,
];
