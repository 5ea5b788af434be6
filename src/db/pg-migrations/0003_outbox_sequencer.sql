CREATE TABLE "outbox_sequencer" (
	"id" bigint PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "outbox" ALTER COLUMN "seq" SET DATA TYPE bigint;--> statement-breakpoint
-- seq comes from outbox_sequencer under its lock (src/db/stores/outbox.ts), never from a sequence:
-- a bigserial value can commit after a higher one, and a reader past it would skip it.
ALTER TABLE "outbox" ALTER COLUMN "seq" DROP DEFAULT;
--> statement-breakpoint
DROP SEQUENCE IF EXISTS "outbox_seq_seq";
--> statement-breakpoint
INSERT INTO "outbox_sequencer" ("id", "seq") SELECT 1, coalesce(max("seq"), 0) FROM "outbox";
