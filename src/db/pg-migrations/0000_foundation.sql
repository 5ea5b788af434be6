CREATE TABLE "users" (
	"id" text PRIMARY KEY NOT NULL,
	"email" text NOT NULL,
	"password_hash" text NOT NULL,
	"role" text NOT NULL,
	"created_at" bigint NOT NULL,
	"disabled_at" bigint,
	CONSTRAINT "users_email_unique" UNIQUE("email")
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"prefix" text NOT NULL,
	"hash" text NOT NULL,
	"scopes" jsonb NOT NULL,
	"created_at" bigint NOT NULL,
	"created_by" text NOT NULL,
	"revoked_at" bigint,
	CONSTRAINT "api_keys_hash_unique" UNIQUE("hash")
);
--> statement-breakpoint
CREATE TABLE "login_failures" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"account_ref" text NOT NULL,
	"client_ref" text NOT NULL,
	"at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_entries" (
	"idx" bigint PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"request_id" text,
	"entry" text NOT NULL,
	"leaf_hash" "bytea" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_logs" (
	"id" integer PRIMARY KEY NOT NULL,
	"log_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	"size" bigint DEFAULT 0 NOT NULL,
	"frontier" "bytea",
	"root" "bytea"
);
--> statement-breakpoint
CREATE TABLE "audit_nodes" (
	"level" integer NOT NULL,
	"idx" bigint NOT NULL,
	"hash" "bytea" NOT NULL,
	CONSTRAINT "audit_nodes_level_idx_pk" PRIMARY KEY("level","idx")
);
--> statement-breakpoint
CREATE TABLE "audit_tree_heads" (
	"size" bigint PRIMARY KEY NOT NULL,
	"root" text NOT NULL,
	"timestamp" bigint NOT NULL,
	"kid" text NOT NULL,
	"jws" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "subject_identifiers" (
	"type" text NOT NULL,
	"value" text NOT NULL,
	"subject_id" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "subject_identifiers_type_value_pk" PRIMARY KEY("type","value")
);
--> statement-breakpoint
CREATE TABLE "subject_keys" (
	"subject_id" text PRIMARY KEY NOT NULL,
	"key" "bytea" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "subjects" (
	"id" text PRIMARY KEY NOT NULL,
	"created_at" bigint NOT NULL,
	"erased_at" bigint
);
--> statement-breakpoint
CREATE TABLE "purpose_versions" (
	"purpose_id" text NOT NULL,
	"version" integer NOT NULL,
	"title" jsonb NOT NULL,
	"text" jsonb NOT NULL,
	"text_sha256" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "purpose_versions_purpose_id_version_pk" PRIMARY KEY("purpose_id","version")
);
--> statement-breakpoint
CREATE TABLE "purposes" (
	"id" text PRIMARY KEY NOT NULL,
	"title" jsonb NOT NULL,
	"text" jsonb NOT NULL,
	"legal_basis" text NOT NULL,
	"channels" jsonb NOT NULL,
	"validity_days" integer,
	"gpc_applies" boolean NOT NULL,
	"version" integer NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "consent_events" (
	"id" text PRIMARY KEY NOT NULL,
	"subject_id" text NOT NULL,
	"purpose_id" text NOT NULL,
	"decision" text NOT NULL,
	"occurred_at" bigint NOT NULL,
	"recorded_at" bigint NOT NULL,
	"channel" text NOT NULL,
	"collected_by" text,
	"location" text,
	"method" text,
	"purpose_version" integer NOT NULL,
	"evidence" text,
	"gpc" integer NOT NULL,
	"audit_idx" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "consent_states" (
	"subject_id" text NOT NULL,
	"purpose_id" text NOT NULL,
	"decision" text NOT NULL,
	"occurred_at" bigint NOT NULL,
	"channel" text NOT NULL,
	"event_id" text NOT NULL,
	CONSTRAINT "consent_states_subject_id_purpose_id_pk" PRIMARY KEY("subject_id","purpose_id")
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"payload" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "requests" (
	"id" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"status" text NOT NULL,
	"status_reason" text,
	"status_reason_code" text,
	"channel" text NOT NULL,
	"locale" text NOT NULL,
	"verified" boolean NOT NULL,
	"subject_id" text,
	"received_at" bigint NOT NULL,
	"due_at" bigint NOT NULL,
	"extended_months" integer DEFAULT 0 NOT NULL,
	"extension_reason" text,
	"stage" text,
	"round" integer DEFAULT 0 NOT NULL,
	"verification" jsonb,
	"created_by" text NOT NULL,
	"updated_at" bigint NOT NULL,
	"completed_at" bigint,
	"export_path" text,
	"export_expires_at" bigint
);
--> statement-breakpoint
CREATE TABLE "request_identities" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"request_id" text NOT NULL,
	"type" text NOT NULL,
	"value" text,
	"masked" text NOT NULL,
	"source" text NOT NULL,
	"collection" text,
	"reason" text,
	"round" integer NOT NULL,
	"searchable" boolean NOT NULL,
	"state" text DEFAULT 'included' NOT NULL,
	"weak" boolean DEFAULT false NOT NULL,
	"depth" integer DEFAULT 0 NOT NULL,
	"why" jsonb,
	"decision" text,
	"decided_by" text,
	"decided_at" bigint,
	"decision_reason" text
);
--> statement-breakpoint
CREATE TABLE "tasks" (
	"id" text PRIMARY KEY NOT NULL,
	"request_id" text NOT NULL,
	"connector_id" text NOT NULL,
	"phase" text NOT NULL,
	"round" integer NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" bigint NOT NULL,
	"lease_owner" text,
	"lease_expires_at" bigint,
	"identity_watermark" bigint NOT NULL,
	"last_error_code" text,
	"last_error" text,
	"result" jsonb,
	"created_at" bigint NOT NULL,
	"finished_at" bigint
);
--> statement-breakpoint
CREATE TABLE "leases" (
	"name" text PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subject_identifiers" ADD CONSTRAINT "subject_identifiers_subject_id_subjects_id_fk" FOREIGN KEY ("subject_id") REFERENCES "public"."subjects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subject_keys" ADD CONSTRAINT "subject_keys_subject_id_subjects_id_fk" FOREIGN KEY ("subject_id") REFERENCES "public"."subjects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "sessions_user_idx" ON "sessions" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "login_failures_account_idx" ON "login_failures" USING btree ("account_ref","at");--> statement-breakpoint
CREATE INDEX "login_failures_client_idx" ON "login_failures" USING btree ("client_ref","at");--> statement-breakpoint
CREATE INDEX "subject_identifiers_subject_idx" ON "subject_identifiers" USING btree ("subject_id");--> statement-breakpoint
CREATE INDEX "consent_events_subject_idx" ON "consent_events" USING btree ("subject_id","occurred_at");--> statement-breakpoint
CREATE INDEX "consent_events_stats_idx" ON "consent_events" USING btree ("purpose_id","occurred_at","decision");--> statement-breakpoint
CREATE INDEX "consent_states_purpose_idx" ON "consent_states" USING btree ("purpose_id","decision","occurred_at");--> statement-breakpoint
CREATE INDEX "requests_status_idx" ON "requests" USING btree ("status","id");--> statement-breakpoint
CREATE INDEX "requests_due_idx" ON "requests" USING btree ("due_at");--> statement-breakpoint
CREATE UNIQUE INDEX "request_identities_value_idx" ON "request_identities" USING btree ("request_id","type","value");--> statement-breakpoint
CREATE INDEX "request_identities_req_idx" ON "request_identities" USING btree ("request_id","id");--> statement-breakpoint
CREATE INDEX "tasks_due_idx" ON "tasks" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE INDEX "tasks_request_idx" ON "tasks" USING btree ("request_id","phase","round");--> statement-breakpoint
CREATE INDEX "tasks_connector_due_idx" ON "tasks" USING btree ("connector_id","status","next_attempt_at");