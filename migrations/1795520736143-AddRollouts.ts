import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddRollouts1795520736143 implements MigrationInterface {
  name = 'AddRollouts1795520736143';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      "CREATE TYPE \"public\".\"rollout_strategy\" AS ENUM('IMMEDIATE', 'CANARY', 'SHADOW', 'BLUE_GREEN')",
    );
    await queryRunner.query(
      "CREATE TYPE \"public\".\"rollout_status\" AS ENUM('PENDING_APPROVAL', 'PROGRESSING', 'PAUSED', 'SUCCEEDED', 'ROLLED_BACK')",
    );
    await queryRunner.query(
      'CREATE TABLE "rollout" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "endpoint_id" uuid NOT NULL, "from_version_id" uuid NOT NULL, "to_version_id" uuid NOT NULL, "strategy" "public"."rollout_strategy" NOT NULL, "steps" jsonb NOT NULL, "analysis" jsonb NOT NULL, "status" "public"."rollout_status" NOT NULL, "current_step" integer NOT NULL DEFAULT \'0\', "step_started_at" TIMESTAMP WITH TIME ZONE, "last_analysis_at" TIMESTAMP WITH TIME ZONE, "failures" integer NOT NULL DEFAULT \'0\', "idempotency_key" text, "requested_by_key_id" uuid NOT NULL, "reason" text, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, "finished_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "pk_rollout" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_rollout__project_created" ON "rollout"  ("project_id", "created_at") ',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_rollout__active_endpoint" ON "rollout"  ("endpoint_id") WHERE status IN (\'PENDING_APPROVAL\', \'PROGRESSING\', \'PAUSED\')',
    );
    await queryRunner.query(
      "CREATE TYPE \"public\".\"rollout_event_type\" AS ENUM('REQUESTED', 'APPROVAL_REQUESTED', 'APPROVED', 'REJECTED', 'STEP_STARTED', 'ANALYSIS_PASSED', 'ANALYSIS_FAILED', 'ANALYSIS_INCONCLUSIVE', 'PAUSED', 'RESUMED', 'PROMOTED', 'ROLLED_BACK')",
    );
    await queryRunner.query(
      'CREATE TABLE "rollout_event" ("id" BIGSERIAL NOT NULL, "rollout_id" uuid NOT NULL, "type" "public"."rollout_event_type" NOT NULL, "step" integer, "at" TIMESTAMP WITH TIME ZONE NOT NULL, "actor_key_id" uuid, "reason" text, "evidence" jsonb, CONSTRAINT "pk_rollout_event" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_rollout_event__rollout_at" ON "rollout_event"  ("rollout_id", "at") ',
    );
    await queryRunner.query(
      "CREATE TYPE \"public\".\"approval_status\" AS ENUM('PENDING', 'APPROVED', 'REJECTED')",
    );
    await queryRunner.query(
      'CREATE TABLE "approval_request" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "rollout_id" uuid NOT NULL, "step" integer, "reason" text NOT NULL, "requested_by_key_id" uuid NOT NULL, "status" "public"."approval_status" NOT NULL DEFAULT \'PENDING\', "decided_by_key_id" uuid, "decided_at" TIMESTAMP WITH TIME ZONE, "comment" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_approval_request" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_approval_request__pending" ON "approval_request"  ("rollout_id") WHERE status = \'PENDING\'',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_approval_request__project_status" ON "approval_request"  ("project_id", "status") ',
    );
    await queryRunner.query(
      'ALTER TABLE "rollout" ADD CONSTRAINT "fk_rollout__endpoint_id" FOREIGN KEY ("endpoint_id") REFERENCES "endpoint"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "rollout" ADD CONSTRAINT "fk_rollout__to_version_id" FOREIGN KEY ("to_version_id") REFERENCES "model_version"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "rollout_event" ADD CONSTRAINT "fk_rollout_event__rollout_id" FOREIGN KEY ("rollout_id") REFERENCES "rollout"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "approval_request" ADD CONSTRAINT "fk_approval_request__rollout_id" FOREIGN KEY ("rollout_id") REFERENCES "rollout"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE "approval_request" DROP CONSTRAINT "fk_approval_request__rollout_id"',
    );
    await queryRunner.query('ALTER TABLE "rollout_event" DROP CONSTRAINT "fk_rollout_event__rollout_id"');
    await queryRunner.query('ALTER TABLE "rollout" DROP CONSTRAINT "fk_rollout__to_version_id"');
    await queryRunner.query('ALTER TABLE "rollout" DROP CONSTRAINT "fk_rollout__endpoint_id"');
    await queryRunner.query('DROP INDEX "public"."idx_approval_request__project_status"');
    await queryRunner.query('DROP INDEX "public"."uq_approval_request__pending"');
    await queryRunner.query('DROP TABLE "approval_request"');
    await queryRunner.query('DROP TYPE "public"."approval_status"');
    await queryRunner.query('DROP INDEX "public"."idx_rollout_event__rollout_at"');
    await queryRunner.query('DROP TABLE "rollout_event"');
    await queryRunner.query('DROP TYPE "public"."rollout_event_type"');
    await queryRunner.query('DROP INDEX "public"."uq_rollout__active_endpoint"');
    await queryRunner.query('DROP INDEX "public"."idx_rollout__project_created"');
    await queryRunner.query('DROP TABLE "rollout"');
    await queryRunner.query('DROP TYPE "public"."rollout_status"');
    await queryRunner.query('DROP TYPE "public"."rollout_strategy"');
  }
}
