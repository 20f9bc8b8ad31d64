import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddEndpointsAndPredictions1795516685971 implements MigrationInterface {
  name = 'AddEndpointsAndPredictions1795516685971';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "endpoint" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "name" text NOT NULL, "model_id" uuid NOT NULL, "stable_version_id" uuid NOT NULL, "canary_version_id" uuid, "canary_weight" double precision NOT NULL DEFAULT \'0\', "shadow_version_id" uuid, "sla_p95_latency_ms" double precision, "sla_max_error_rate" double precision, "sla_min_throughput_per_minute" double precision, "max_batch_size" integer NOT NULL DEFAULT \'32\', "max_queue_delay_ms" double precision NOT NULL DEFAULT \'0\', "log_sample_rate" double precision NOT NULL DEFAULT \'1\', "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "uq_endpoint__name" UNIQUE ("name"), CONSTRAINT "pk_endpoint" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "idx_endpoint__project_id" ON "endpoint"  ("project_id") ');
    await queryRunner.query(
      'CREATE TABLE "endpoint_traffic" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "endpoint_id" uuid NOT NULL, "stable_version_id" uuid NOT NULL, "canary_version_id" uuid, "canary_weight" double precision NOT NULL, "shadow_version_id" uuid, "valid_from" TIMESTAMP WITH TIME ZONE NOT NULL, "valid_to" TIMESTAMP WITH TIME ZONE, "changed_by_key_id" uuid, "reason" text, CONSTRAINT "pk_endpoint_traffic" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_endpoint_traffic__current" ON "endpoint_traffic"  ("endpoint_id") WHERE valid_to IS NULL',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_endpoint_traffic__history" ON "endpoint_traffic"  ("endpoint_id", "valid_from") ',
    );
    await queryRunner.query(
      'CREATE TABLE "prediction_log" ("id" BIGSERIAL NOT NULL, "project_id" uuid NOT NULL, "endpoint_id" uuid NOT NULL, "model_version_id" uuid NOT NULL, "request_key" text NOT NULL, "features" jsonb NOT NULL, "outputs" jsonb, "latency_ms" real NOT NULL, "error" text, "shadow" boolean NOT NULL DEFAULT false, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "uq_prediction_log__request_key" UNIQUE ("endpoint_id", "request_key", "shadow"), CONSTRAINT "pk_prediction_log" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_prediction_log__version_time" ON "prediction_log"  ("model_version_id", "created_at") ',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_prediction_log__endpoint_time" ON "prediction_log"  ("endpoint_id", "created_at") ',
    );
    await queryRunner.query(
      'CREATE TABLE "prediction_outcome" ("id" BIGSERIAL NOT NULL, "project_id" uuid NOT NULL, "endpoint_id" uuid NOT NULL, "request_key" text NOT NULL, "label" text, "value" double precision, "recorded_at" TIMESTAMP WITH TIME ZONE NOT NULL, "recorded_by_key_id" uuid, CONSTRAINT "uq_prediction_outcome__request_key" UNIQUE ("endpoint_id", "request_key"), CONSTRAINT "pk_prediction_outcome" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('ALTER TABLE "model_version" ADD "remote" jsonb');
    await queryRunner.query('ALTER TABLE "model_version" ADD "validation" jsonb');
    await queryRunner.query('ALTER TABLE "model_version" ALTER COLUMN "artifact_sha256" DROP NOT NULL');
    await queryRunner.query('ALTER TABLE "model_version" ALTER COLUMN "artifact_size" DROP NOT NULL');
    await queryRunner.query('ALTER TYPE "public"."model_format" ADD VALUE \'REMOTE_OIP\'');
    await queryRunner.query(
      'ALTER TABLE "endpoint" ADD CONSTRAINT "fk_endpoint__project_id" FOREIGN KEY ("project_id") REFERENCES "project"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "endpoint" ADD CONSTRAINT "fk_endpoint__model_id" FOREIGN KEY ("model_id") REFERENCES "model"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "endpoint" ADD CONSTRAINT "fk_endpoint__stable_version_id" FOREIGN KEY ("stable_version_id") REFERENCES "model_version"("id") ON DELETE NO ACTION ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "endpoint" ADD CONSTRAINT "fk_endpoint__canary_version_id" FOREIGN KEY ("canary_version_id") REFERENCES "model_version"("id") ON DELETE NO ACTION ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "endpoint" ADD CONSTRAINT "fk_endpoint__shadow_version_id" FOREIGN KEY ("shadow_version_id") REFERENCES "model_version"("id") ON DELETE NO ACTION ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "endpoint_traffic" ADD CONSTRAINT "fk_endpoint_traffic__endpoint_id" FOREIGN KEY ("endpoint_id") REFERENCES "endpoint"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE "endpoint_traffic" DROP CONSTRAINT "fk_endpoint_traffic__endpoint_id"',
    );
    await queryRunner.query('ALTER TABLE "endpoint" DROP CONSTRAINT "fk_endpoint__shadow_version_id"');
    await queryRunner.query('ALTER TABLE "endpoint" DROP CONSTRAINT "fk_endpoint__canary_version_id"');
    await queryRunner.query('ALTER TABLE "endpoint" DROP CONSTRAINT "fk_endpoint__stable_version_id"');
    await queryRunner.query('ALTER TABLE "endpoint" DROP CONSTRAINT "fk_endpoint__model_id"');
    await queryRunner.query('ALTER TABLE "endpoint" DROP CONSTRAINT "fk_endpoint__project_id"');
    await queryRunner.query('CREATE TYPE "public"."model_format_old" AS ENUM(\'ONNX\')');
    await queryRunner.query(
      'ALTER TABLE "model_version" ALTER COLUMN "format" TYPE "public"."model_format_old" USING "format"::"text"::"public"."model_format_old"',
    );
    await queryRunner.query('DROP TYPE "public"."model_format"');
    await queryRunner.query('ALTER TYPE "public"."model_format_old" RENAME TO "model_format"');
    await queryRunner.query('ALTER TABLE "model_version" ALTER COLUMN "artifact_size" SET NOT NULL');
    await queryRunner.query('ALTER TABLE "model_version" ALTER COLUMN "artifact_sha256" SET NOT NULL');
    await queryRunner.query('ALTER TABLE "model_version" DROP COLUMN "validation"');
    await queryRunner.query('ALTER TABLE "model_version" DROP COLUMN "remote"');
    await queryRunner.query('DROP TABLE "prediction_outcome"');
    await queryRunner.query('DROP INDEX "public"."idx_prediction_log__endpoint_time"');
    await queryRunner.query('DROP INDEX "public"."idx_prediction_log__version_time"');
    await queryRunner.query('DROP TABLE "prediction_log"');
    await queryRunner.query('DROP INDEX "public"."idx_endpoint_traffic__history"');
    await queryRunner.query('DROP INDEX "public"."uq_endpoint_traffic__current"');
    await queryRunner.query('DROP TABLE "endpoint_traffic"');
    await queryRunner.query('DROP INDEX "public"."idx_endpoint__project_id"');
    await queryRunner.query('DROP TABLE "endpoint"');
  }
}
