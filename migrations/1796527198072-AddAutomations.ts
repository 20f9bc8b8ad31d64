import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddAutomations1796527198072 implements MigrationInterface {
  name = 'AddAutomations1796527198072';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TYPE "public"."automation_status" AS ENUM(\'ACTIVE\', \'PAUSED\')');
    await queryRunner.query(
      'CREATE TABLE "automation" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "name" text NOT NULL, "description" text, "status" "public"."automation_status" NOT NULL DEFAULT \'ACTIVE\', "trigger" jsonb NOT NULL, "steps" jsonb NOT NULL, "max_concurrent_runs" integer NOT NULL DEFAULT \'4\', "max_attempts" integer NOT NULL DEFAULT \'5\', "since_position" bigint NOT NULL, "version" integer NOT NULL DEFAULT \'1\', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_automation" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_automation__project_name" ON "automation"  ("project_id", "name") ',
    );
    await queryRunner.query(
      "CREATE TYPE \"public\".\"automation_run_status\" AS ENUM('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED')",
    );
    await queryRunner.query(
      'CREATE TABLE "automation_run" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "automation_id" uuid NOT NULL, "project_id" uuid NOT NULL, "trigger_key" text NOT NULL, "automation_version" integer NOT NULL, "status" "public"."automation_run_status" NOT NULL, "document" jsonb NOT NULL, "steps" jsonb NOT NULL, "attempts" integer NOT NULL DEFAULT \'0\', "next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL, "lease_until" TIMESTAMP WITH TIME ZONE, "lease_token" uuid, "error" text, "error_kind" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "finished_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "pk_automation_run" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_automation_run__due" ON "automation_run"  ("next_attempt_at") WHERE status IN (\'PENDING\', \'RUNNING\')',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_automation_run__automation_created" ON "automation_run"  ("automation_id", "created_at") ',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_automation_run__trigger_key" ON "automation_run"  ("automation_id", "trigger_key") ',
    );
    await queryRunner.query(
      'ALTER TABLE "automation" ADD CONSTRAINT "fk_automation__project_id" FOREIGN KEY ("project_id") REFERENCES "project"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "automation_run" ADD CONSTRAINT "fk_automation_run__automation_id" FOREIGN KEY ("automation_id") REFERENCES "automation"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE "automation_run" DROP CONSTRAINT "fk_automation_run__automation_id"',
    );
    await queryRunner.query('ALTER TABLE "automation" DROP CONSTRAINT "fk_automation__project_id"');
    await queryRunner.query('DROP INDEX "public"."uq_automation_run__trigger_key"');
    await queryRunner.query('DROP INDEX "public"."idx_automation_run__automation_created"');
    await queryRunner.query('DROP INDEX "public"."idx_automation_run__due"');
    await queryRunner.query('DROP TABLE "automation_run"');
    await queryRunner.query('DROP TYPE "public"."automation_run_status"');
    await queryRunner.query('DROP INDEX "public"."uq_automation__project_name"');
    await queryRunner.query('DROP TABLE "automation"');
    await queryRunner.query('DROP TYPE "public"."automation_status"');
  }
}
