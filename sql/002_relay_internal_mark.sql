-- sentry_relay.is_internal becomes an operator's mark: a relay marked with
-- "relaycfgctl relay update --internal" is internal from any address.
-- Until now registration stored its own per-request decision there (an
-- address inside internal_networks), which nothing read.  Kept, those values
-- would make every relay that ever registered from a private network
-- internal for good, so they are cleared: mark the relays that should be
-- internal again with relaycfgctl.  "relaycfgctl db migrate" drops the
-- cache after a migration, so no cached row keeps the old value.
UPDATE sentry_relay SET is_internal = 0 WHERE is_internal IS NULL OR is_internal <> 0;

-- The version this file brings, recorded last (see 001_initial.sql).
INSERT INTO relaycfg_schema_version (version, name, applied_at)
	VALUES (2, '002_relay_internal_mark', UTC_TIMESTAMP(6))
	ON DUPLICATE KEY UPDATE version = version;
