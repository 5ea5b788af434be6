-- Custom migration (drizzle-kit cannot express WITHOUT ROWID): the two tables on the consent
-- hot path become clustered on their primary key, so "identifier -> subject" and "subject ->
-- current states" are one B-tree search each instead of index search + table lookup, and a
-- write dirties one B-tree instead of two. Columns, keys and indexes are unchanged.
CREATE TABLE `__new_subject_identifiers` (
	`type` text NOT NULL,
	`value` text NOT NULL,
	`subject_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`type`, `value`),
	FOREIGN KEY (`subject_id`) REFERENCES `subjects`(`id`) ON UPDATE no action ON DELETE no action
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_subject_identifiers` (`type`, `value`, `subject_id`, `created_at`) SELECT `type`, `value`, `subject_id`, `created_at` FROM `subject_identifiers`;
--> statement-breakpoint
DROP TABLE `subject_identifiers`;
--> statement-breakpoint
ALTER TABLE `__new_subject_identifiers` RENAME TO `subject_identifiers`;
--> statement-breakpoint
CREATE INDEX `subject_identifiers_subject_idx` ON `subject_identifiers` (`subject_id`);
--> statement-breakpoint
CREATE TABLE `__new_consent_states` (
	`subject_id` text NOT NULL,
	`purpose_id` text NOT NULL,
	`decision` text NOT NULL,
	`occurred_at` integer NOT NULL,
	`channel` text NOT NULL,
	`event_id` text NOT NULL,
	PRIMARY KEY(`subject_id`, `purpose_id`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_consent_states` (`subject_id`, `purpose_id`, `decision`, `occurred_at`, `channel`, `event_id`) SELECT `subject_id`, `purpose_id`, `decision`, `occurred_at`, `channel`, `event_id` FROM `consent_states`;
--> statement-breakpoint
DROP TABLE `consent_states`;
--> statement-breakpoint
ALTER TABLE `__new_consent_states` RENAME TO `consent_states`;
--> statement-breakpoint
CREATE INDEX `consent_states_purpose_idx` ON `consent_states` (`purpose_id`,`decision`,`occurred_at`);
