CREATE TABLE `subject_identifiers` (
	`type` text NOT NULL,
	`value` text NOT NULL,
	`subject_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`type`, `value`),
	FOREIGN KEY (`subject_id`) REFERENCES `subjects`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `subject_identifiers_subject_idx` ON `subject_identifiers` (`subject_id`);--> statement-breakpoint
CREATE TABLE `subject_keys` (
	`subject_id` text PRIMARY KEY NOT NULL,
	`key` blob NOT NULL,
	FOREIGN KEY (`subject_id`) REFERENCES `subjects`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `subjects` (
	`id` text PRIMARY KEY NOT NULL,
	`created_at` integer NOT NULL,
	`erased_at` integer
);
--> statement-breakpoint
CREATE TABLE `purpose_versions` (
	`purpose_id` text NOT NULL,
	`version` integer NOT NULL,
	`title` text NOT NULL,
	`text` text NOT NULL,
	`text_sha256` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`purpose_id`, `version`)
);
--> statement-breakpoint
CREATE TABLE `purposes` (
	`id` text PRIMARY KEY NOT NULL,
	`title` text NOT NULL,
	`text` text NOT NULL,
	`legal_basis` text NOT NULL,
	`channels` text NOT NULL,
	`validity_days` integer,
	`gpc_applies` integer NOT NULL,
	`version` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `consent_events` (
	`id` text PRIMARY KEY NOT NULL,
	`subject_id` text NOT NULL,
	`purpose_id` text NOT NULL,
	`decision` text NOT NULL,
	`occurred_at` integer NOT NULL,
	`recorded_at` integer NOT NULL,
	`channel` text NOT NULL,
	`collected_by` text,
	`location` text,
	`method` text,
	`purpose_version` integer NOT NULL,
	`evidence` text,
	`gpc` integer NOT NULL,
	`audit_idx` integer NOT NULL,
	`receipt` text
);
--> statement-breakpoint
CREATE INDEX `consent_events_subject_idx` ON `consent_events` (`subject_id`,`occurred_at`);--> statement-breakpoint
CREATE INDEX `consent_events_stats_idx` ON `consent_events` (`purpose_id`,`occurred_at`,`decision`);--> statement-breakpoint
CREATE TABLE `consent_states` (
	`subject_id` text NOT NULL,
	`purpose_id` text NOT NULL,
	`decision` text NOT NULL,
	`occurred_at` integer NOT NULL,
	`channel` text NOT NULL,
	`event_id` text NOT NULL,
	PRIMARY KEY(`subject_id`, `purpose_id`)
);
--> statement-breakpoint
CREATE INDEX `consent_states_purpose_idx` ON `consent_states` (`purpose_id`,`decision`,`occurred_at`);--> statement-breakpoint
CREATE TABLE `outbox` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`type` text NOT NULL,
	`payload` text NOT NULL,
	`created_at` integer NOT NULL
);
