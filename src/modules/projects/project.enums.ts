import { registerEnumType } from 'type-graphql';

/** Risk level under the EU AI Act. */
export enum RiskLevel {
  MINIMAL = 'MINIMAL',
  LIMITED = 'LIMITED',
  HIGH = 'HIGH',
  UNACCEPTABLE = 'UNACCEPTABLE',
}
registerEnumType(RiskLevel, { name: 'RiskLevel', description: 'Risk level under the EU AI Act' });
