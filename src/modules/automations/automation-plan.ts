import cron from 'node-cron';
import { BadInputError } from '../../common/errors';
import { requireText } from '../../common/validate';
import type { EventType } from '../../events/catalogue';
import {
  AutomationStepKind,
  AutomationStepStatus,
  AutomationTriggerKind,
  RecordChange,
  type AutomationStep,
  type AutomationStepRun,
  type AutomationTrigger,
} from './automation.entity';
import type { AutomationStepInput, AutomationTriggerInput } from './automation.types';
import { compileExpression, type Expression } from './expressions';

export const MAX_STEPS = 20;
const STEP_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** The domain events an automation may start on (records.synced gives one run per record). */
export const TRIGGER_EVENTS = [
  'records.synced',
  'alert.changed',
  'drift.reported',
  'rollout.changed',
  'model-version.registered',
  'model-alias.moved',
  'endpoint.traffic-changed',
  'kpi-points.recorded',
  'dataset-version.registered',
  'sync-run.changed',
] as const satisfies readonly EventType[];

/** Each step kind's settings: name -> whether it is required. */
const SETTINGS: Record<AutomationStepKind, Record<string, boolean>> = {
  [AutomationStepKind.PREDICT]: { endpoint: true },
  [AutomationStepKind.CONDITION]: {},
  [AutomationStepKind.CONNECTOR_ACTION]: { connector: true, action: true },
  [AutomationStepKind.TRIGGER_PIPELINE]: { connector: true, action: true },
  [AutomationStepKind.WEBHOOK]: { url: true },
};

/** An automation's trigger and steps checked, with the connector named by the trigger still unresolved. */
export interface CheckedPlan {
  trigger: AutomationTrigger & { connector?: string | null };
  steps: AutomationStep[];
}

/** Checks a trigger and steps as given; errors name the field (`trigger.schedule`, `steps.2.settings.url`). */
export function checkPlan(trigger: AutomationTriggerInput, steps: AutomationStepInput[]): CheckedPlan {
  return { trigger: checkTrigger(trigger), steps: checkSteps(steps) };
}

function checkTrigger(input: AutomationTriggerInput): CheckedPlan['trigger'] {
  const filter = optionalExpression('trigger.filter', input.filter);
  if (input.kind === AutomationTriggerKind.WEBHOOK) {
    for (const field of ['event', 'change', 'connector', 'stream', 'schedule'] as const)
      if (input[field] != null) throw new BadInputError(`trigger.${field}`, 'is not for WEBHOOK triggers');
    return { kind: input.kind, filter };
  }
  if (input.kind === AutomationTriggerKind.SCHEDULE) {
    for (const field of ['event', 'change', 'connector', 'stream'] as const)
      if (input[field] != null) throw new BadInputError(`trigger.${field}`, 'is for EVENT triggers');
    const schedule = requireText('trigger.schedule', input.schedule ?? '', 200);
    if (!cron.validate(schedule)) throw new BadInputError('trigger.schedule', 'is not a valid cron pattern');
    return { kind: input.kind, schedule, filter };
  }
  if (input.schedule != null) throw new BadInputError('trigger.schedule', 'is for SCHEDULE triggers');
  const event = input.event ?? '';
  if (!(TRIGGER_EVENTS as readonly string[]).includes(event))
    throw new BadInputError('trigger.event', `must be one of ${TRIGGER_EVENTS.join(', ')}`);
  if (event !== 'records.synced') {
    for (const field of ['change', 'connector', 'stream'] as const)
      if (input[field] != null) throw new BadInputError(`trigger.${field}`, 'is for records.synced triggers');
    return { kind: input.kind, event, filter };
  }
  return {
    kind: input.kind,
    event,
    change: input.change ?? RecordChange.CREATED,
    connector: input.connector == null ? null : requireText('trigger.connector', input.connector, 200),
    stream: input.stream == null ? null : requireText('trigger.stream', input.stream, 200),
    filter,
  };
}

function checkSteps(inputs: AutomationStepInput[]): AutomationStep[] {
  if (inputs.length === 0) throw new BadInputError('steps', 'must hold at least one step');
  if (inputs.length > MAX_STEPS) throw new BadInputError('steps', `must hold at most ${MAX_STEPS} steps`);
  const names = new Set<string>();
  return inputs.map((input, i) => {
    const at = `steps.${i}`;
    if (!STEP_NAME.test(input.name))
      throw new BadInputError(`${at}.name`, 'must be letters, digits and _ (not first), at most 64');
    if (names.has(input.name)) throw new BadInputError(`${at}.name`, `repeats step name "${input.name}"`);
    names.add(input.name);
    const settings = checkSettings(at, input.kind, input.settings ?? {});
    const step: AutomationStep = {
      name: input.name,
      kind: input.kind,
      when: optionalExpression(`${at}.when`, input.when),
      input: optionalExpression(`${at}.input`, input.input),
      settings,
    };
    if (step.kind !== AutomationStepKind.WEBHOOK && step.input == null)
      throw new BadInputError(`${at}.input`, `is required for ${step.kind}`);
    return step;
  });
}

function checkSettings(at: string, kind: AutomationStepKind, settings: Record<string, unknown>) {
  const allowed = SETTINGS[kind];
  for (const key of Object.keys(settings))
    if (!(key in allowed)) throw new BadInputError(`${at}.settings.${key}`, `is not a setting of ${kind}`);
  const checked: Record<string, string> = {};
  for (const [key, required] of Object.entries(allowed)) {
    const value = settings[key];
    if (value == null) {
      if (required) throw new BadInputError(`${at}.settings.${key}`, `is required for ${kind}`);
      continue;
    }
    if (typeof value !== 'string') throw new BadInputError(`${at}.settings.${key}`, 'must be a string');
    checked[key] = requireText(`${at}.settings.${key}`, value, 2_000);
  }
  if (checked.url !== undefined) checkUrl(`${at}.settings.url`, checked.url);
  return checked;
}

function checkUrl(field: string, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new BadInputError(field, 'is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new BadInputError(field, 'must be an http or https URL');
  if (url.username || url.password) throw new BadInputError(field, 'must not carry credentials');
}

function optionalExpression(field: string, source: string | null | undefined): string | null {
  if (source == null) return null;
  compileExpression(field, source);
  return source;
}

/** An automation's expressions, compiled once per version. */
export interface CompiledPlan {
  filter: Expression | null;
  steps: Array<{ step: AutomationStep; when: Expression | null; input: Expression | null }>;
}

export function compilePlan(trigger: AutomationTrigger, steps: AutomationStep[]): CompiledPlan {
  const optional = (field: string, source: string | null | undefined): Expression | null =>
    source == null ? null : compileExpression(field, source);
  return {
    filter: optional('trigger.filter', trigger.filter),
    steps: steps.map((step, i) => ({
      step,
      when: optional(`steps.${i}.when`, step.when),
      input: optional(`steps.${i}.input`, step.input),
    })),
  };
}

/** A step's state before it runs (a run's steps start so; a dry run's steps not reached stay `status`). */
export function stepState(
  step: Pick<AutomationStep, 'name' | 'kind'>,
  status: AutomationStepStatus = AutomationStepStatus.PENDING,
): AutomationStepRun {
  return {
    name: step.name,
    kind: step.kind,
    status,
    input: null,
    output: null,
    error: null,
    errorKind: null,
    attempts: 0,
    startedAt: null,
    finishedAt: null,
  };
}
