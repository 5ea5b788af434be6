CREATE TABLE `outbox_sequencer` (
	`id` integer PRIMARY KEY NOT NULL,
	`seq` integer NOT NULL
);

--> statement-breakpoint
-- The sequencer starts after the rows already written (src/db/stores/outbox.ts assigns seq from it).
INSERT INTO `outbox_sequencer` (`id`, `seq`) SELECT 1, coalesce(max(`seq`), 0) FROM `outbox`;
