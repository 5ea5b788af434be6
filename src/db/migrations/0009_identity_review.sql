ALTER TABLE `requests` ADD `status_reason_code` text;--> statement-breakpoint
ALTER TABLE `request_identities` ADD `state` text DEFAULT 'included' NOT NULL;--> statement-breakpoint
ALTER TABLE `request_identities` ADD `weak` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `request_identities` ADD `depth` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `request_identities` ADD `why` text;--> statement-breakpoint
ALTER TABLE `request_identities` ADD `decision` text;--> statement-breakpoint
ALTER TABLE `request_identities` ADD `decided_by` text;--> statement-breakpoint
ALTER TABLE `request_identities` ADD `decided_at` integer;--> statement-breakpoint
ALTER TABLE `request_identities` ADD `decision_reason` text;