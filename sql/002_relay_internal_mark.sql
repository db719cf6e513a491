-- sentry_relay.is_internal becomes an operator's mark: a relay marked with
-- "relaycfgctl relay update --internal" is internal from any address.
-- Until now registration stored its own per-request decision there (an
-- address inside internal_networks), which nothing read.  Kept, those values
-- would make every relay that ever registered from a private network
-- internal for good, so they are cleared: mark the relays that should be
-- internal again with relaycfgctl.  "relaycfgctl db migrate" drops the
-- cache after a migration, so no cached row keeps the old value.
UPDATE sentry_relay SET is_internal = 0 WHERE is_internal IS NULL OR is_internal <> 0;

-- The version this file brings, recorded as "relaycfgctl db init" and
-- "db migrate" record it, last: a DBA who applies the file by hand leaves
-- the state the tool leaves ("db status" and "db migrate" see it), and
-- applying it again records nothing new.
CREATE TABLE IF NOT EXISTS relaycfg_schema_version (
	version		INT NOT NULL PRIMARY KEY,
	name		VARCHAR(200) NOT NULL,
	applied_at	DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO relaycfg_schema_version (version, name, applied_at)
	VALUES (2, '002_relay_internal_mark', UTC_TIMESTAMP(6))
	ON DUPLICATE KEY UPDATE version = version;
