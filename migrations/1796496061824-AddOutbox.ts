import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddOutbox1796496061824 implements MigrationInterface {
  name = 'AddOutbox1796496061824';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "outbox_event" ("position" BIGSERIAL NOT NULL, "type" text NOT NULL, "stream" text NOT NULL, "project_id" uuid, "payload" jsonb NOT NULL, "actor_key_id" uuid NOT NULL, "request_id" text NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_outbox_event" PRIMARY KEY ("position"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_outbox_event__project_position" ON "outbox_event"  ("project_id", "position") ',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_outbox_event__stream_position" ON "outbox_event"  ("stream", "position") ',
    );
    await queryRunner.query(
      'CREATE TABLE "outbox_consumer" ("name" text NOT NULL, "position" bigint NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_outbox_consumer" PRIMARY KEY ("name"))',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "outbox_consumer"');
    await queryRunner.query('DROP INDEX "public"."idx_outbox_event__stream_position"');
    await queryRunner.query('DROP INDEX "public"."idx_outbox_event__project_position"');
    await queryRunner.query('DROP TABLE "outbox_event"');
  }
}
