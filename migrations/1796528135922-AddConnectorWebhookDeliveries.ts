import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddConnectorWebhookDeliveries1796528135922 implements MigrationInterface {
  name = 'AddConnectorWebhookDeliveries1796528135922';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "connector_webhook_delivery" ("connector_id" uuid NOT NULL, "delivery_id" text NOT NULL, "event_type" text NOT NULL, "received_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_connector_webhook_delivery" PRIMARY KEY ("connector_id", "delivery_id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_connector_webhook_delivery__received" ON "connector_webhook_delivery"  ("received_at") ',
    );
    await queryRunner.query(
      'ALTER TABLE "connector_webhook_delivery" ADD CONSTRAINT "fk_connector_webhook_delivery__connector_id" FOREIGN KEY ("connector_id") REFERENCES "connector"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE "connector_webhook_delivery" DROP CONSTRAINT "fk_connector_webhook_delivery__connector_id"',
    );
    await queryRunner.query('DROP INDEX "public"."idx_connector_webhook_delivery__received"');
    await queryRunner.query('DROP TABLE "connector_webhook_delivery"');
  }
}
