import type { DataSource } from 'typeorm';
import {
  ConnectorError,
  type ConnectorDefinition,
  type ConnectorEnv,
  type SyncedRecord,
  type WebhookDelivery,
  type WebhookRequest,
} from '../../../connectors/_shared';
import type { Logger } from '../../common/logger';
import { refuseWebhook, type WebhookAnswer } from '../../common/webhook-answer';
import { isUuid } from '../../common/validate';
import { RequestContext } from '../../context/context';
import type { Platform } from '../../platform/platform';
import type { UnitOfWork } from '../../platform/unit-of-work';
import type { KpiService } from '../kpis/kpi.service';
import { Connector, ConnectorWebhookDelivery } from './connector.entity';
import { emitWritten, writePage } from './record-writer';
import type { SecretBox } from './secret-box';

export interface ConnectorWebhooksDeps extends Pick<Platform, 'db' | 'now' | 'logger' | 'work'> {
  registry: ReadonlyMap<string, ConnectorDefinition>;
  box: SecretBox;
  kpis: KpiService;
  env: ConnectorEnv;
}

/**
 * Vendor webhooks into a connector (POST /webhooks/connectors/<id>): verified with the vendor's own
 * signature scheme and the connector's signing secret, refused when replayed (the vendor's delivery
 * id, kept per connector), and the records they carry (or name: read back from the vendor) upserted
 * through the sync's record writer, merged into what a sync stored, with `records.synced` emitted: so
 * automations on new records start at once instead of at the next scheduled sync. An event type the
 * adapter does not model is acknowledged and ignored (vendors disable endpoints that fail).
 */
export class ConnectorWebhooks {
  private readonly db: DataSource;
  private readonly now: () => Date;
  private readonly logger: Logger;
  private readonly work: UnitOfWork;
  private readonly registry: ReadonlyMap<string, ConnectorDefinition>;
  private readonly box: SecretBox;
  private readonly kpis: KpiService;
  private readonly env: ConnectorEnv;

  constructor(deps: ConnectorWebhooksDeps) {
    this.db = deps.db;
    this.now = deps.now;
    this.logger = deps.logger;
    this.work = deps.work;
    this.registry = deps.registry;
    this.box = deps.box;
    this.kpis = deps.kpis;
    this.env = deps.env;
  }

  async receive(connectorId: string, request: WebhookRequest): Promise<WebhookAnswer> {
    const connector = isUuid(connectorId)
      ? await this.db.getRepository(Connector).findOneBy({ id: connectorId.toLowerCase() })
      : null;
    const definition = connector && this.registry.get(connector.kind);
    const spec = definition?.webhook;
    if (!connector || !definition || !spec) return refuseWebhook(404, 'no connector here takes webhooks');
    const secret = this.box.open(connector.secretsCiphertext, connector.id)[spec.secretField];
    // Without its secret nothing can be verified: refused like a bad signature, saying no more.
    if (!secret) return refuseWebhook(401, 'the signature cannot be verified');
    const verdict = spec.verify(request, secret, this.now());
    if (!verdict.ok) return refuseWebhook(verdict.status, verdict.reason);

    let deliveries: WebhookDelivery[];
    try {
      deliveries = spec.parse(request, connector.config as never);
    } catch (error) {
      if (error instanceof ConnectorError) return refuseWebhook(400, error.message);
      throw error;
    }
    if (!connector.enabled) return { status: 200, body: { ignored: 'the connector is disabled' } };

    // Records only named are read back from the vendor before anything is written: a vendor that fails
    // here is told to try again, and nothing of the request is stored.
    let fetched: Map<string, SyncedRecord[]>;
    try {
      fetched = await this.fetchNamed(connector, definition, deliveries);
    } catch (error) {
      if (!(error instanceof ConnectorError)) throw error;
      if (error.kind === 'PERMANENT') return refuseWebhook(400, error.message);
      return {
        ...refuseWebhook(503, error.message),
        retryAfterSeconds: secondsOf(error.details.retryAfterMs),
      };
    }
    const kpiIds = await this.kpis.ensureDerived(
      connector.projectId,
      definition.streams.map((s) => s.recordKind),
    );
    const actor = RequestContext.system(
      this.logger,
      `webhook:${connector.kind}`,
      `webhook:${connector.id}:${deliveries[0]?.deliveryId ?? 'empty'}`,
    );
    const at = this.now();
    const outcome = await this.work.run(actor, async (tx) => {
      const { manager } = tx;
      const claimed = (await manager
        .createQueryBuilder()
        .insert()
        .into(ConnectorWebhookDelivery)
        .values(
          deliveries.map((d) => ({
            connectorId: connector.id,
            deliveryId: d.deliveryId,
            eventType: d.eventType,
            receivedAt: at,
          })),
        )
        .orIgnore()
        .returning(['deliveryId'])
        .execute()) as { raw: Array<{ delivery_id: string }> };
      const fresh = new Set(claimed.raw.map((r) => r.delivery_id));
      if (deliveries.length > 0 && fresh.size === 0) return null;
      const byStream = new Map<string, SyncedRecord[]>();
      const add = (stream: string, record: SyncedRecord): void => {
        byStream.set(stream, [...(byStream.get(stream) ?? []), record]);
      };
      for (const delivery of deliveries.filter((d) => fresh.has(d.deliveryId))) {
        for (const { stream, record } of delivery.records) add(stream, record);
        for (const { stream, externalId } of delivery.refs) {
          const record = fetched.get(stream)?.find((r) => r.externalId === externalId);
          if (record) add(stream, record);
        }
      }
      let records = 0;
      for (const [name, found] of byStream) {
        const stream = definition.streams.find((s) => s.name === name);
        if (!stream) continue;
        const written = await writePage(manager, connector, stream, found, kpiIds, at, { merge: true });
        records += written.records;
        emitWritten(tx, connector, stream, written, null);
      }
      return { deliveries: fresh.size, records };
    });
    if (!outcome) return refuseWebhook(409, 'this delivery was already received');
    return { status: 200, body: { received: outcome.deliveries, records: outcome.records } };
  }

  /** The records the deliveries only name, read from the vendor per stream (ids it lacks are left out). */
  private async fetchNamed(
    connector: Connector,
    definition: ConnectorDefinition,
    deliveries: WebhookDelivery[],
  ): Promise<Map<string, SyncedRecord[]>> {
    const named = new Map<string, Set<string>>();
    for (const { stream, externalId } of deliveries.flatMap((d) => d.refs))
      named.set(stream, (named.get(stream) ?? new Set()).add(externalId));
    const fetched = new Map<string, SyncedRecord[]>();
    if (named.size === 0) return fetched;
    const session = definition.open(
      connector.config as never,
      this.box.open(connector.secretsCiphertext, connector.id),
      this.env,
    );
    if (!session.fetch) throw new ConnectorError('PERMANENT', `${connector.kind} cannot read records by id`);
    for (const [stream, ids] of named) fetched.set(stream, await session.fetch(stream, [...ids]));
    return fetched;
  }
}

function secondsOf(ms: number | undefined): number {
  return ms === undefined ? 30 : Math.max(1, Math.ceil(ms / 1000));
}
