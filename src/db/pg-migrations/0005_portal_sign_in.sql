CREATE TABLE "portal_codes" (
	"id" text PRIMARY KEY NOT NULL,
	"email_ref" text NOT NULL,
	"email" "bytea" NOT NULL,
	"code_mac" text NOT NULL,
	"attempts" integer NOT NULL,
	"sent_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "portal_sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"email_ref" text NOT NULL,
	"email" "bytea" NOT NULL,
	"subject_id" text,
	"created_at" bigint NOT NULL,
	"last_seen_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "portal_codes_expires_idx" ON "portal_codes" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "portal_sessions_expires_idx" ON "portal_sessions" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "portal_sessions_email_idx" ON "portal_sessions" USING btree ("email_ref");