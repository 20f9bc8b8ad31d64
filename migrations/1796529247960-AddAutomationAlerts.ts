import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddAutomationAlerts1796529247960 implements MigrationInterface {
  name = 'AddAutomationAlerts1796529247960';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TYPE "public"."alert_kind" ADD VALUE \'AUTOMATION\'');
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      "CREATE TYPE \"public\".\"alert_kind_old\" AS ENUM('DRIFT', 'SLA_LATENCY', 'SLA_ERROR_RATE', 'KPI', 'CONNECTOR', 'ROLLOUT')",
    );
    await queryRunner.query(
      'ALTER TABLE "alert" ALTER COLUMN "kind" TYPE "public"."alert_kind_old" USING "kind"::"text"::"public"."alert_kind_old"',
    );
    await queryRunner.query('DROP TYPE "public"."alert_kind"');
    await queryRunner.query('ALTER TYPE "public"."alert_kind_old" RENAME TO "alert_kind"');
  }
}
