CREATE TABLE `portal_codes` (
	`id` text PRIMARY KEY NOT NULL,
	`email_ref` text NOT NULL,
	`email` blob NOT NULL,
	`code_mac` text NOT NULL,
	`attempts` integer NOT NULL,
	`sent_at` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `portal_codes_expires_idx` ON `portal_codes` (`expires_at`);--> statement-breakpoint
CREATE TABLE `portal_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`email_ref` text NOT NULL,
	`email` blob NOT NULL,
	`subject_id` text,
	`created_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `portal_sessions_expires_idx` ON `portal_sessions` (`expires_at`);--> statement-breakpoint
CREATE INDEX `portal_sessions_email_idx` ON `portal_sessions` (`email_ref`);