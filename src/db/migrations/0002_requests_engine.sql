CREATE TABLE `requests` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`status` text NOT NULL,
	`status_reason` text,
	`channel` text NOT NULL,
	`locale` text NOT NULL,
	`verified` integer NOT NULL,
	`subject_id` text,
	`received_at` integer NOT NULL,
	`due_at` integer NOT NULL,
	`extended_months` integer DEFAULT 0 NOT NULL,
	`extension_reason` text,
	`stage` text,
	`round` integer DEFAULT 0 NOT NULL,
	`verification` text,
	`created_by` text NOT NULL,
	`updated_at` integer NOT NULL,
	`completed_at` integer,
	`export_path` text,
	`export_expires_at` integer
);
--> statement-breakpoint
CREATE INDEX `requests_status_idx` ON `requests` (`status`,`id`);--> statement-breakpoint
CREATE INDEX `requests_due_idx` ON `requests` (`due_at`);--> statement-breakpoint
CREATE TABLE `request_identities` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`request_id` text NOT NULL,
	`type` text NOT NULL,
	`value` text,
	`masked` text NOT NULL,
	`source` text NOT NULL,
	`collection` text,
	`reason` text,
	`round` integer NOT NULL,
	`searchable` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `request_identities_value_idx` ON `request_identities` (`request_id`,`type`,`value`);--> statement-breakpoint
CREATE INDEX `request_identities_req_idx` ON `request_identities` (`request_id`,`id`);--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`request_id` text NOT NULL,
	`connector_id` text NOT NULL,
	`phase` text NOT NULL,
	`round` integer NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`lease_owner` text,
	`lease_expires_at` integer,
	`identity_watermark` integer NOT NULL,
	`last_error_code` text,
	`last_error` text,
	`result` text,
	`created_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `tasks_due_idx` ON `tasks` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `tasks_request_idx` ON `tasks` (`request_id`,`phase`,`round`);