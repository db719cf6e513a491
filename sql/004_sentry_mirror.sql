-- 004_sentry_mirror.sql - columns that Sentry lets be NULL, so that
-- "relaycfgctl sentry-sync" can copy every row of Sentry's as it is.
--
-- Sentry's ProjectTemplate.date_added is null=True (its
-- sentry_projecttemplate.date_added is "timestamp with time zone NULL").
-- MODIFY is idempotent: running this again changes nothing.

ALTER TABLE sentry_projecttemplate
	MODIFY date_added DATETIME(6) NULL DEFAULT CURRENT_TIMESTAMP(6);
