import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddMonitoring1795517831619 implements MigrationInterface {
  name = 'AddMonitoring1795517831619';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      "CREATE TYPE \"public\".\"alert_kind\" AS ENUM('DRIFT', 'SLA_LATENCY', 'SLA_ERROR_RATE', 'KPI', 'CONNECTOR', 'ROLLOUT')",
    );
    await queryRunner.query(
      "CREATE TYPE \"public\".\"alert_severity\" AS ENUM('INFO', 'WARNING', 'CRITICAL')",
    );
    await queryRunner.query(
      "CREATE TYPE \"public\".\"alert_status\" AS ENUM('OPEN', 'ACKNOWLEDGED', 'RESOLVED')",
    );
    await queryRunner.query(
      'CREATE TABLE "alert" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "endpoint_id" uuid, "model_version_id" uuid, "kind" "public"."alert_kind" NOT NULL, "severity" "public"."alert_severity" NOT NULL, "status" "public"."alert_status" NOT NULL DEFAULT \'OPEN\', "dedupe_key" text NOT NULL, "title" text NOT NULL, "evidence" jsonb NOT NULL, "occurrences" integer NOT NULL DEFAULT \'1\', "clear_streak" integer NOT NULL DEFAULT \'0\', "opened_at" TIMESTAMP WITH TIME ZONE NOT NULL, "last_seen_at" TIMESTAMP WITH TIME ZONE NOT NULL, "acknowledged_at" TIMESTAMP WITH TIME ZONE, "acknowledged_by_key_id" uuid, "resolved_at" TIMESTAMP WITH TIME ZONE, "resolved_by_key_id" uuid, "resolution" text, CONSTRAINT "pk_alert" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_alert__project_opened" ON "alert"  ("project_id", "opened_at") ',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_alert__dedupe_key" ON "alert"  ("dedupe_key") WHERE status <> \'RESOLVED\'',
    );
    await queryRunner.query(
      'CREATE TABLE "drift_report" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "endpoint_id" uuid NOT NULL, "model_version_id" uuid NOT NULL, "dataset_version_id" uuid NOT NULL, "window_start" TIMESTAMP WITH TIME ZONE NOT NULL, "window_end" TIMESTAMP WITH TIME ZONE NOT NULL, "sample_size" integer NOT NULL, "insufficient" boolean NOT NULL, "drifted" boolean NOT NULL, "drifted_features" text array NOT NULL, "features" jsonb NOT NULL, "skipped" text array NOT NULL DEFAULT \'{}\', "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_drift_report" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_drift_report__project_created" ON "drift_report"  ("project_id", "created_at") ',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_drift_report__endpoint_created" ON "drift_report"  ("endpoint_id", "created_at") ',
    );
    await queryRunner.query(
      'CREATE TABLE "endpoint_stats_minute" ("endpoint_id" uuid NOT NULL, "model_version_id" uuid NOT NULL, "minute" TIMESTAMP WITH TIME ZONE NOT NULL, "replica" text NOT NULL, "requests" integer NOT NULL, "errors" integer NOT NULL, "sketch" jsonb NOT NULL, CONSTRAINT "pk_endpoint_stats_minute" PRIMARY KEY ("endpoint_id", "model_version_id", "minute", "replica"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_endpoint_stats_minute__window" ON "endpoint_stats_minute"  ("endpoint_id", "minute") ',
    );
    await queryRunner.query('ALTER TABLE "endpoint" ADD "sla_min_live_accuracy" double precision');
    await queryRunner.query(
      'ALTER TABLE "alert" ADD CONSTRAINT "fk_alert__project_id" FOREIGN KEY ("project_id") REFERENCES "project"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "drift_report" ADD CONSTRAINT "fk_drift_report__endpoint_id" FOREIGN KEY ("endpoint_id") REFERENCES "endpoint"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "drift_report" DROP CONSTRAINT "fk_drift_report__endpoint_id"');
    await queryRunner.query('ALTER TABLE "alert" DROP CONSTRAINT "fk_alert__project_id"');
    await queryRunner.query('ALTER TABLE "endpoint" DROP COLUMN "sla_min_live_accuracy"');
    await queryRunner.query('DROP INDEX "public"."idx_endpoint_stats_minute__window"');
    await queryRunner.query('DROP TABLE "endpoint_stats_minute"');
    await queryRunner.query('DROP INDEX "public"."idx_drift_report__endpoint_created"');
    await queryRunner.query('DROP INDEX "public"."idx_drift_report__project_created"');
    await queryRunner.query('DROP TABLE "drift_report"');
    await queryRunner.query('DROP INDEX "public"."uq_alert__dedupe_key"');
    await queryRunner.query('DROP INDEX "public"."idx_alert__project_opened"');
    await queryRunner.query('DROP TABLE "alert"');
    await queryRunner.query('DROP TYPE "public"."alert_status"');
    await queryRunner.query('DROP TYPE "public"."alert_severity"');
    await queryRunner.query('DROP TYPE "public"."alert_kind"');
  }
}
