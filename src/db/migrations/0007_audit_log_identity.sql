CREATE TABLE `audit_logs` (
	`id` integer PRIMARY KEY NOT NULL,
	`log_id` text NOT NULL,
	`created_at` integer NOT NULL
);
