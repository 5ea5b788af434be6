CREATE TABLE `audit_verifications` (
	`id` text PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`started_by` text NOT NULL,
	`started_at` integer NOT NULL,
	`heartbeat_at` integer NOT NULL,
	`finished_at` integer,
	`checked` integer NOT NULL,
	`total` integer NOT NULL,
	`tree_heads` integer,
	`root` text,
	`problem` text
);
