CREATE TABLE `request_mails` (
	`id` text PRIMARY KEY NOT NULL,
	`request_id` text NOT NULL,
	`kind` text NOT NULL,
	`lang` text NOT NULL,
	`recipient` blob,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`lease_owner` text,
	`lease_expires_at` integer,
	`last_error` text,
	`created_at` integer NOT NULL,
	`sent_at` integer
);
--> statement-breakpoint
CREATE INDEX `request_mails_due_idx` ON `request_mails` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `request_mails_request_idx` ON `request_mails` (`request_id`);--> statement-breakpoint
CREATE INDEX `requests_created_by_idx` ON `requests` (`created_by`,`id`);--> statement-breakpoint
CREATE INDEX `requests_subject_idx` ON `requests` (`subject_id`,`id`);