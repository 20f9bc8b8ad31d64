import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ScopeArtifactsToProjects1796476008916 implements MigrationInterface {
  name = 'ScopeArtifactsToProjects1796476008916';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "artifact_grant" ("sha256" character(64) NOT NULL, "project_id" uuid NOT NULL, "granted_by_key_id" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_artifact_grant" PRIMARY KEY ("sha256", "project_id"))',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_artifact_grant__project_id" ON "artifact_grant"  ("project_id") ',
    );
    await queryRunner.query(
      'ALTER TABLE "artifact_grant" ADD CONSTRAINT "fk_artifact_grant__sha256" FOREIGN KEY ("sha256") REFERENCES "artifact"("sha256") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "artifact_grant" ADD CONSTRAINT "fk_artifact_grant__project_id" FOREIGN KEY ("project_id") REFERENCES "project"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    // Artifacts uploaded before grants belong to the projects whose versions reference them; one
    // referenced nowhere stays ungranted until a project uploads it again.
    await queryRunner.query(
      `INSERT INTO "artifact_grant" ("sha256", "project_id")
       SELECT DISTINCT a."sha256", v."project_id" FROM "artifact" a
         JOIN (SELECT "artifact_sha256" AS "sha256", "project_id" FROM "model_version"
               UNION SELECT "sha256", "project_id" FROM "dataset_version") v ON v."sha256" = a."sha256"
       ON CONFLICT DO NOTHING`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "artifact_grant" DROP CONSTRAINT "fk_artifact_grant__project_id"');
    await queryRunner.query('ALTER TABLE "artifact_grant" DROP CONSTRAINT "fk_artifact_grant__sha256"');
    await queryRunner.query('DROP INDEX "public"."idx_artifact_grant__project_id"');
    await queryRunner.query('DROP TABLE "artifact_grant"');
  }
}
