import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddHubState1796475861836 implements MigrationInterface {
  name = 'AddHubState1796475861836';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "hub_state" ("key" text NOT NULL, "value" jsonb NOT NULL, "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_hub_state" PRIMARY KEY ("key"))',
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "hub_state"');
  }
}
