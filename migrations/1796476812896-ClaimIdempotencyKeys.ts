import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ClaimIdempotencyKeys1796476812896 implements MigrationInterface {
  name = 'ClaimIdempotencyKeys1796476812896';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "idempotency_record" ADD "state" text NOT NULL DEFAULT \'DONE\'');
    await queryRunner.query('ALTER TABLE "idempotency_record" ADD "claim_id" uuid');
    await queryRunner.query('ALTER TABLE "idempotency_record" ADD "lease_until" TIMESTAMP WITH TIME ZONE');
    await queryRunner.query('ALTER TABLE "idempotency_record" ADD "failure" jsonb');
    await queryRunner.query(
      'ALTER TABLE "idempotency_record" ADD CONSTRAINT "ck_idempotency_record__state" CHECK ("state" IN (\'PENDING\', \'DONE\', \'FAILED\'))',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE "idempotency_record" DROP CONSTRAINT "ck_idempotency_record__state"',
    );
    await queryRunner.query('ALTER TABLE "idempotency_record" DROP COLUMN "failure"');
    await queryRunner.query('ALTER TABLE "idempotency_record" DROP COLUMN "lease_until"');
    await queryRunner.query('ALTER TABLE "idempotency_record" DROP COLUMN "claim_id"');
    await queryRunner.query('ALTER TABLE "idempotency_record" DROP COLUMN "state"');
  }
}
