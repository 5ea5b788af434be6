-- Custom migration (drizzle-kit cannot express WITHOUT ROWID): subject_keys is read on every
-- consent write (the person's key makes the audit subjectRef). As a rowid table with a text
-- primary key it was two B-trees (the key index, then the row); clustered on subject_id it is
-- one search, and a new person dirties one B-tree instead of two. Columns and keys unchanged;
-- nothing references this table.
CREATE TABLE `__new_subject_keys` (
	`subject_id` text PRIMARY KEY NOT NULL,
	`key` blob NOT NULL,
	FOREIGN KEY (`subject_id`) REFERENCES `subjects`(`id`) ON UPDATE no action ON DELETE no action
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_subject_keys` (`subject_id`, `key`) SELECT `subject_id`, `key` FROM `subject_keys`;
--> statement-breakpoint
DROP TABLE `subject_keys`;
--> statement-breakpoint
ALTER TABLE `__new_subject_keys` RENAME TO `subject_keys`;
