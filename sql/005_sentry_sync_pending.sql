-- 005_sentry_sync_pending.sql - a Sentry sync committed whose cache
-- deletes may not all have gone out.
--
-- "relaycfgctl sentry-sync" writes this row in the transaction of its
-- changes and deletes it once every cache entry of those changes is
-- deleted.  A sync stopped in between (SIGKILL, a crash, the host gone)
-- or one that could not reach memcached leaves the row behind.  The next
-- sync finds relaycfg's rows already equal to Sentry's, so it would
-- change and invalidate nothing while the old configs stay cached until
-- their TTL; the row tells it to drop every cache entry instead.
CREATE TABLE IF NOT EXISTS relaycfg_sentry_sync_pending (
	id		TINYINT UNSIGNED NOT NULL PRIMARY KEY,
	since		DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The version this file brings, recorded last (see 001_initial.sql).
INSERT INTO relaycfg_schema_version (version, name, applied_at)
	VALUES (5, '005_sentry_sync_pending', UTC_TIMESTAMP(6))
	ON DUPLICATE KEY UPDATE version = version;
