CREATE TABLE "api_rate_limits" (
	"key_id" text PRIMARY KEY NOT NULL,
	"window_start" bigint NOT NULL,
	"count" integer NOT NULL
);
