import type { MigrationInterface, QueryRunner } from 'typeorm';

export class KeyAuditChain1796475797463 implements MigrationInterface {
  name = 'KeyAuditChain1796475797463';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "audit_event" ADD "hash_version" smallint NOT NULL DEFAULT \'0\'');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "audit_event" DROP COLUMN "hash_version"');
  }
}
