import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddConnectorsAndKpis1795526188332 implements MigrationInterface {
  name = 'AddConnectorsAndKpis1795526188332';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "connector" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "name" text NOT NULL, "kind" text NOT NULL, "config" jsonb NOT NULL, "secrets_ciphertext" text NOT NULL, "secret_names" text array NOT NULL DEFAULT \'{}\', "schedule" text, "enabled" boolean NOT NULL DEFAULT true, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_connector" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_connector__project_name" ON "connector"  ("project_id", "name") ',
    );
    await queryRunner.query(
      'CREATE TABLE "connector_stream" ("connector_id" uuid NOT NULL, "stream" text NOT NULL, "state" jsonb, "records_synced" bigint NOT NULL DEFAULT \'0\', "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_connector_stream" PRIMARY KEY ("connector_id", "stream"))',
    );
    await queryRunner.query('CREATE TYPE "public"."sync_trigger" AS ENUM(\'SCHEDULE\', \'MANUAL\')');
    await queryRunner.query(
      "CREATE TYPE \"public\".\"sync_run_status\" AS ENUM('RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED')",
    );
    await queryRunner.query(
      'CREATE TYPE "public"."connector_error_kind" AS ENUM(\'TEMPORARY\', \'PERMANENT\')',
    );
    await queryRunner.query(
      'CREATE TABLE "sync_run" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "connector_id" uuid NOT NULL, "project_id" uuid NOT NULL, "trigger" "public"."sync_trigger" NOT NULL, "status" "public"."sync_run_status" NOT NULL, "streams" jsonb NOT NULL DEFAULT \'[]\', "error" text, "error_kind" "public"."connector_error_kind", "requested_by_key_id" uuid, "idempotency_key" text, "started_at" TIMESTAMP WITH TIME ZONE NOT NULL, "finished_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "pk_sync_run" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_sync_run__idempotency" ON "sync_run"  ("connector_id", "requested_by_key_id", "idempotency_key") WHERE idempotency_key IS NOT NULL',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_sync_run__running" ON "sync_run"  ("connector_id") WHERE status = \'RUNNING\'',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_sync_run__connector_started" ON "sync_run"  ("connector_id", "started_at") ',
    );
    await queryRunner.query(
      'CREATE TABLE "ticket" ("connector_id" uuid NOT NULL, "project_id" uuid NOT NULL, "external_id" text NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, "request_key" text, "raw" jsonb NOT NULL, "synced_at" TIMESTAMP WITH TIME ZONE NOT NULL, "id" uuid NOT NULL DEFAULT gen_random_uuid(), "subject" text, "status" text NOT NULL, "priority" text, "channel" text, "requester_id" text, "assignee_id" text, "group_id" text, "tags" text array NOT NULL, "routing" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "solved_at" TIMESTAMP WITH TIME ZONE, "replies" integer, "reopens" integer, CONSTRAINT "pk_ticket" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "idx_ticket__request_key" ON "ticket"  ("request_key") ');
    await queryRunner.query(
      'CREATE INDEX "idx_ticket__project_updated" ON "ticket"  ("project_id", "updated_at") ',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_ticket__connector_external" ON "ticket"  ("connector_id", "external_id") ',
    );
    await queryRunner.query(
      'CREATE TABLE "rpa_job" ("connector_id" uuid NOT NULL, "project_id" uuid NOT NULL, "external_id" text NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, "request_key" text, "raw" jsonb NOT NULL, "synced_at" TIMESTAMP WITH TIME ZONE NOT NULL, "id" uuid NOT NULL DEFAULT gen_random_uuid(), "state" text NOT NULL, "release_name" text, "robot_name" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "started_at" TIMESTAMP WITH TIME ZONE, "ended_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "pk_rpa_job" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_rpa_job__project_updated" ON "rpa_job"  ("project_id", "updated_at") ',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_rpa_job__connector_external" ON "rpa_job"  ("connector_id", "external_id") ',
    );
    await queryRunner.query(
      'CREATE TABLE "rpa_queue_item" ("connector_id" uuid NOT NULL, "project_id" uuid NOT NULL, "external_id" text NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, "request_key" text, "raw" jsonb NOT NULL, "synced_at" TIMESTAMP WITH TIME ZONE NOT NULL, "id" uuid NOT NULL DEFAULT gen_random_uuid(), "queue_name" text, "reference" text, "status" text NOT NULL, "priority" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "started_at" TIMESTAMP WITH TIME ZONE, "ended_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "pk_rpa_queue_item" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_rpa_queue_item__project_updated" ON "rpa_queue_item"  ("project_id", "updated_at") ',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_rpa_queue_item__connector_external" ON "rpa_queue_item"  ("connector_id", "external_id") ',
    );
    await queryRunner.query(
      'CREATE TABLE "crm_contact" ("connector_id" uuid NOT NULL, "project_id" uuid NOT NULL, "external_id" text NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, "request_key" text, "raw" jsonb NOT NULL, "synced_at" TIMESTAMP WITH TIME ZONE NOT NULL, "id" uuid NOT NULL DEFAULT gen_random_uuid(), "email" text, "first_name" text, "last_name" text, "company" text, "lifecycle_stage" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_crm_contact" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_crm_contact__project_updated" ON "crm_contact"  ("project_id", "updated_at") ',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_crm_contact__connector_external" ON "crm_contact"  ("connector_id", "external_id") ',
    );
    await queryRunner.query(
      'CREATE TABLE "crm_deal" ("connector_id" uuid NOT NULL, "project_id" uuid NOT NULL, "external_id" text NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, "request_key" text, "raw" jsonb NOT NULL, "synced_at" TIMESTAMP WITH TIME ZONE NOT NULL, "id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" text, "pipeline" text, "stage" text, "amount" double precision, "won" boolean, "closed_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_crm_deal" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_crm_deal__project_updated" ON "crm_deal"  ("project_id", "updated_at") ',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_crm_deal__connector_external" ON "crm_deal"  ("connector_id", "external_id") ',
    );
    await queryRunner.query('CREATE TYPE "public"."kpi_aggregation" AS ENUM(\'MEAN\', \'SUM\')');
    await queryRunner.query(
      'CREATE TYPE "public"."kpi_direction" AS ENUM(\'HIGHER_IS_BETTER\', \'LOWER_IS_BETTER\')',
    );
    await queryRunner.query('CREATE TYPE "public"."kpi_source" AS ENUM(\'PUSHED\', \'DERIVED\')');
    await queryRunner.query(
      'CREATE TABLE "kpi" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "key" text NOT NULL, "name" text NOT NULL, "unit" text NOT NULL, "aggregation" "public"."kpi_aggregation" NOT NULL, "direction" "public"."kpi_direction" NOT NULL, "source" "public"."kpi_source" NOT NULL, "description" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_kpi" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "uq_kpi__project_key" ON "kpi"  ("project_id", "key") ');
    await queryRunner.query(
      'CREATE TABLE "kpi_point" ("id" BIGSERIAL NOT NULL, "kpi_id" uuid NOT NULL, "project_id" uuid NOT NULL, "time" TIMESTAMP WITH TIME ZONE NOT NULL, "value" double precision NOT NULL, "model_version_id" uuid, "request_key" text, "dimensions" jsonb NOT NULL DEFAULT \'{}\', "source_ref" text, CONSTRAINT "pk_kpi_point" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_kpi_point__source_ref" ON "kpi_point"  ("kpi_id", "source_ref") WHERE source_ref IS NOT NULL',
    );
    await queryRunner.query('CREATE INDEX "idx_kpi_point__kpi_time" ON "kpi_point"  ("kpi_id", "time") ');
    await queryRunner.query(
      'ALTER TABLE "connector" ADD CONSTRAINT "fk_connector__project_id" FOREIGN KEY ("project_id") REFERENCES "project"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "connector_stream" ADD CONSTRAINT "fk_connector_stream__connector_id" FOREIGN KEY ("connector_id") REFERENCES "connector"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "sync_run" ADD CONSTRAINT "fk_sync_run__connector_id" FOREIGN KEY ("connector_id") REFERENCES "connector"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "ticket" ADD CONSTRAINT "fk_ticket__connector_id" FOREIGN KEY ("connector_id") REFERENCES "connector"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "rpa_job" ADD CONSTRAINT "fk_rpa_job__connector_id" FOREIGN KEY ("connector_id") REFERENCES "connector"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "rpa_queue_item" ADD CONSTRAINT "fk_rpa_queue_item__connector_id" FOREIGN KEY ("connector_id") REFERENCES "connector"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "crm_contact" ADD CONSTRAINT "fk_crm_contact__connector_id" FOREIGN KEY ("connector_id") REFERENCES "connector"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "crm_deal" ADD CONSTRAINT "fk_crm_deal__connector_id" FOREIGN KEY ("connector_id") REFERENCES "connector"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "kpi" ADD CONSTRAINT "fk_kpi__project_id" FOREIGN KEY ("project_id") REFERENCES "project"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "kpi_point" ADD CONSTRAINT "fk_kpi_point__kpi_id" FOREIGN KEY ("kpi_id") REFERENCES "kpi"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "kpi_point" DROP CONSTRAINT "fk_kpi_point__kpi_id"');
    await queryRunner.query('ALTER TABLE "kpi" DROP CONSTRAINT "fk_kpi__project_id"');
    await queryRunner.query('ALTER TABLE "crm_deal" DROP CONSTRAINT "fk_crm_deal__connector_id"');
    await queryRunner.query('ALTER TABLE "crm_contact" DROP CONSTRAINT "fk_crm_contact__connector_id"');
    await queryRunner.query('ALTER TABLE "rpa_queue_item" DROP CONSTRAINT "fk_rpa_queue_item__connector_id"');
    await queryRunner.query('ALTER TABLE "rpa_job" DROP CONSTRAINT "fk_rpa_job__connector_id"');
    await queryRunner.query('ALTER TABLE "ticket" DROP CONSTRAINT "fk_ticket__connector_id"');
    await queryRunner.query('ALTER TABLE "sync_run" DROP CONSTRAINT "fk_sync_run__connector_id"');
    await queryRunner.query(
      'ALTER TABLE "connector_stream" DROP CONSTRAINT "fk_connector_stream__connector_id"',
    );
    await queryRunner.query('ALTER TABLE "connector" DROP CONSTRAINT "fk_connector__project_id"');
    await queryRunner.query('DROP INDEX "public"."idx_kpi_point__kpi_time"');
    await queryRunner.query('DROP INDEX "public"."uq_kpi_point__source_ref"');
    await queryRunner.query('DROP TABLE "kpi_point"');
    await queryRunner.query('DROP INDEX "public"."uq_kpi__project_key"');
    await queryRunner.query('DROP TABLE "kpi"');
    await queryRunner.query('DROP TYPE "public"."kpi_source"');
    await queryRunner.query('DROP TYPE "public"."kpi_direction"');
    await queryRunner.query('DROP TYPE "public"."kpi_aggregation"');
    await queryRunner.query('DROP INDEX "public"."uq_crm_deal__connector_external"');
    await queryRunner.query('DROP INDEX "public"."idx_crm_deal__project_updated"');
    await queryRunner.query('DROP TABLE "crm_deal"');
    await queryRunner.query('DROP INDEX "public"."uq_crm_contact__connector_external"');
    await queryRunner.query('DROP INDEX "public"."idx_crm_contact__project_updated"');
    await queryRunner.query('DROP TABLE "crm_contact"');
    await queryRunner.query('DROP INDEX "public"."uq_rpa_queue_item__connector_external"');
    await queryRunner.query('DROP INDEX "public"."idx_rpa_queue_item__project_updated"');
    await queryRunner.query('DROP TABLE "rpa_queue_item"');
    await queryRunner.query('DROP INDEX "public"."uq_rpa_job__connector_external"');
    await queryRunner.query('DROP INDEX "public"."idx_rpa_job__project_updated"');
    await queryRunner.query('DROP TABLE "rpa_job"');
    await queryRunner.query('DROP INDEX "public"."uq_ticket__connector_external"');
    await queryRunner.query('DROP INDEX "public"."idx_ticket__project_updated"');
    await queryRunner.query('DROP INDEX "public"."idx_ticket__request_key"');
    await queryRunner.query('DROP TABLE "ticket"');
    await queryRunner.query('DROP INDEX "public"."idx_sync_run__connector_started"');
    await queryRunner.query('DROP INDEX "public"."uq_sync_run__running"');
    await queryRunner.query('DROP INDEX "public"."uq_sync_run__idempotency"');
    await queryRunner.query('DROP TABLE "sync_run"');
    await queryRunner.query('DROP TYPE "public"."connector_error_kind"');
    await queryRunner.query('DROP TYPE "public"."sync_run_status"');
    await queryRunner.query('DROP TYPE "public"."sync_trigger"');
    await queryRunner.query('DROP TABLE "connector_stream"');
    await queryRunner.query('DROP INDEX "public"."uq_connector__project_name"');
    await queryRunner.query('DROP TABLE "connector"');
  }
}
