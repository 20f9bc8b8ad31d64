import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddGovernance1795527957839 implements MigrationInterface {
  name = 'AddGovernance1795527957839';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "audit_event" ("id" BIGSERIAL NOT NULL, "chain" text NOT NULL, "seq" integer NOT NULL, "project_id" uuid, "actor_key_id" uuid NOT NULL, "actor_name" text NOT NULL, "actor_role" text NOT NULL, "action" text NOT NULL, "subject_type" text NOT NULL, "subject_id" text, "before" jsonb, "after" jsonb, "request_id" text NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, "prev_hash" text NOT NULL, "hash" text NOT NULL, CONSTRAINT "pk_audit_event" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_audit_event__project_at" ON "audit_event"  ("project_id", "at") ',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_audit_event__chain_seq" ON "audit_event"  ("chain", "seq") ',
    );
    await queryRunner.query(
      "CREATE TYPE \"public\".\"assessment_status\" AS ENUM('SUBMITTED', 'APPROVED', 'REJECTED')",
    );
    await queryRunner.query(
      'CREATE TABLE "impact_assessment" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "project_id" uuid NOT NULL, "version" integer NOT NULL, "sections" jsonb NOT NULL, "status" "public"."assessment_status" NOT NULL, "submitted_by_key_id" uuid NOT NULL, "submitted_at" TIMESTAMP WITH TIME ZONE NOT NULL, "decided_by_key_id" uuid, "decided_at" TIMESTAMP WITH TIME ZONE, "comment" text, CONSTRAINT "pk_impact_assessment" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_impact_assessment__project_version" ON "impact_assessment"  ("project_id", "version") ',
    );
    await queryRunner.query('ALTER TABLE "project" ADD "data_policy" jsonb NOT NULL DEFAULT \'{}\'');
    await queryRunner.query('ALTER TYPE "public"."role" ADD VALUE \'AUDITOR\'');
    await queryRunner.query(
      'ALTER TABLE "impact_assessment" ADD CONSTRAINT "fk_impact_assessment__project_id" FOREIGN KEY ("project_id") REFERENCES "project"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    // Append-only: the hub's own role cannot change or remove an audit event; only a superuser who
    // disables the trigger can, and verifyAuditChain then names the broken link.
    await queryRunner.query(
      `CREATE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
       END $$`,
    );
    await queryRunner.query(
      'CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change()',
    );
    await queryRunner.query(
      'CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change()',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TRIGGER audit_event_no_truncate ON audit_event');
    await queryRunner.query('DROP TRIGGER audit_event_append_only ON audit_event');
    await queryRunner.query('DROP FUNCTION audit_event_refuse_change()');
    await queryRunner.query(
      'ALTER TABLE "impact_assessment" DROP CONSTRAINT "fk_impact_assessment__project_id"',
    );
    await queryRunner.query(
      "CREATE TYPE \"public\".\"role_old\" AS ENUM('VIEWER', 'ANALYST', 'DATA_SCIENTIST', 'ML_ENGINEER', 'APPROVER', 'ADMIN', 'BOT')",
    );
    await queryRunner.query(
      'ALTER TABLE "api_key" ALTER COLUMN "role" TYPE "public"."role_old" USING "role"::"text"::"public"."role_old"',
    );
    await queryRunner.query('DROP TYPE "public"."role"');
    await queryRunner.query('ALTER TYPE "public"."role_old" RENAME TO "role"');
    await queryRunner.query('ALTER TABLE "project" DROP COLUMN "data_policy"');
    await queryRunner.query('DROP INDEX "public"."uq_impact_assessment__project_version"');
    await queryRunner.query('DROP TABLE "impact_assessment"');
    await queryRunner.query('DROP TYPE "public"."assessment_status"');
    await queryRunner.query('DROP INDEX "public"."uq_audit_event__chain_seq"');
    await queryRunner.query('DROP INDEX "public"."idx_audit_event__project_at"');
    await queryRunner.query('DROP TABLE "audit_event"');
  }
}
