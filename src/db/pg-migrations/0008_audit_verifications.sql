CREATE TABLE "audit_verifications" (
	"id" text PRIMARY KEY NOT NULL,
	"status" text NOT NULL,
	"started_by" text NOT NULL,
	"started_at" bigint NOT NULL,
	"heartbeat_at" bigint NOT NULL,
	"finished_at" bigint,
	"checked" bigint NOT NULL,
	"total" bigint NOT NULL,
	"tree_heads" integer,
	"root" text,
	"problem" text
);
