-- Custom migration (data only): the current consent state is now the event with the latest
-- EFFECTIVE time, min(occurred_at, recorded_at), instead of the latest occurred_at
-- (src/consent/ledger.ts). States that an event dated in the future (within the clock skew) may
-- have frozen — a later withdrawal ignored — are recomputed from the ledger: for every
-- (person, purpose) with such an event, the winner is the latest effective time, then the later
-- recorded (recorded_at, then audit_idx, which follows recording order). Where the decision
-- changes, a consent.updated outbox row tells the silos, as a live write would. Other states
-- are left as they are (for them both rules agree).
CREATE TABLE `__recomputed_consent_states` AS
SELECT s.`subject_id`, s.`purpose_id`, s.`decision` AS `old_decision`, w.`decision`,
       min(w.`occurred_at`, w.`recorded_at`) AS `effective_at`, w.`occurred_at`, w.`channel`, w.`id` AS `event_id`
FROM `consent_states` s
JOIN `consent_events` w ON w.`id` = (
  SELECT e.`id` FROM `consent_events` e
  WHERE e.`subject_id` = s.`subject_id` AND e.`purpose_id` = s.`purpose_id`
  ORDER BY min(e.`occurred_at`, e.`recorded_at`) DESC, e.`recorded_at` DESC, e.`audit_idx` DESC
  LIMIT 1
)
WHERE EXISTS (
  SELECT 1 FROM `consent_events` f
  WHERE f.`subject_id` = s.`subject_id` AND f.`purpose_id` = s.`purpose_id` AND f.`occurred_at` > f.`recorded_at`
);
--> statement-breakpoint
INSERT INTO `outbox` (`type`, `payload`, `created_at`)
SELECT 'consent.updated',
       json_object('subject', `subject_id`, 'purpose', `purpose_id`, 'decision', `decision`, 'occurredAt',
         strftime('%Y-%m-%dT%H:%M:%S', `occurred_at` / 1000, 'unixepoch') || '.' || printf('%03d', `occurred_at` % 1000) || 'Z'),
       CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
FROM `__recomputed_consent_states`
WHERE `decision` <> `old_decision`
ORDER BY `subject_id`, `purpose_id`;
--> statement-breakpoint
UPDATE `consent_states`
SET `decision` = r.`decision`, `occurred_at` = r.`effective_at`, `channel` = r.`channel`, `event_id` = r.`event_id`
FROM `__recomputed_consent_states` r
WHERE `consent_states`.`subject_id` = r.`subject_id` AND `consent_states`.`purpose_id` = r.`purpose_id`;
--> statement-breakpoint
DROP TABLE `__recomputed_consent_states`;
