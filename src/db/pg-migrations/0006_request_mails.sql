CREATE TABLE "request_mails" (
	"id" text PRIMARY KEY NOT NULL,
	"request_id" text NOT NULL,
	"kind" text NOT NULL,
	"lang" text NOT NULL,
	"recipient" "bytea",
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" bigint NOT NULL,
	"lease_owner" text,
	"lease_expires_at" bigint,
	"last_error" text,
	"created_at" bigint NOT NULL,
	"sent_at" bigint
);
--> statement-breakpoint
CREATE INDEX "request_mails_due_idx" ON "request_mails" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE INDEX "request_mails_request_idx" ON "request_mails" USING btree ("request_id");--> statement-breakpoint
CREATE INDEX "requests_created_by_idx" ON "requests" USING btree ("created_by","id");--> statement-breakpoint
CREATE INDEX "requests_subject_idx" ON "requests" USING btree ("subject_id","id");