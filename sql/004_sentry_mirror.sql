-- 004_sentry_mirror.sql - what "relaycfgctl sentry-sync" needs to copy
-- every row of Sentry's as it is.
--
-- * Sentry's ProjectTemplate.date_added is null=True (its
--   sentry_projecttemplate.date_added is "timestamp with time zone NULL").
-- * PostgreSQL compares text byte by byte, so Sentry's unique keys on
--   (name, organization_id) of templates and (organization_id,
--   external_id) of projects hold "Mobile" and "mobile", or "a" and
--   "a ", side by side; under utf8mb4_unicode_ci (case- and
--   accent-insensitive, trailing spaces ignored) MariaDB would refuse the
--   second.  utf8mb4_nopad_bin compares as PostgreSQL does.
--
-- MODIFY is idempotent: running this again changes nothing.

ALTER TABLE sentry_projecttemplate
	MODIFY date_added DATETIME(6) NULL DEFAULT CURRENT_TIMESTAMP(6),
	MODIFY name VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;

ALTER TABLE sentry_project
	MODIFY external_id VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL;

-- The version this file brings, recorded last (see 001_initial.sql).
INSERT INTO relaycfg_schema_version (version, name, applied_at)
	VALUES (4, '004_sentry_mirror', UTC_TIMESTAMP(6))
	ON DUPLICATE KEY UPDATE version = version;
