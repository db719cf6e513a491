-- relaycfg-notify.sql - optional triggers on Sentry's PostgreSQL that wake
-- "relaycfgctl sentry-sync --watch" within a second of a change, instead
-- of at its next interval.
--
-- relaycfg never writes to Sentry's database: installing this is the
-- operator's choice, run as the owner of Sentry's tables, e.g.
--     psql -U postgres -d postgres -v ON_ERROR_STOP=1 \
--         -f /usr/share/relaycfg/sentry/relaycfg-notify.sql
-- (self-hosted: docker compose exec -T postgres psql -U postgres
--  -v ON_ERROR_STOP=1 < relaycfg-notify.sql).
--
-- Each trigger fires once per statement, not per row, and only sends
-- NOTIFY relaycfg_sentry_sync (the table's name as payload): a few
-- microseconds per write to these rarely-written tables.  PostgreSQL
-- folds identical notifications of one transaction into one.  The sync
-- still compares everything; a notification only makes it look now.
--
-- The statements that remove it are at the end of this file.
-- Running this file again is harmless (CREATE OR REPLACE, DROP IF EXISTS).

CREATE OR REPLACE FUNCTION relaycfg_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('relaycfg_sentry_sync', TG_TABLE_NAME);
	RETURN NULL;
END;
$$;

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY[
		'sentry_organization', 'sentry_organizationoptions',
		'sentry_project', 'sentry_projectoptions', 'sentry_projectkey',
		'sentry_projecttemplate', 'sentry_projecttemplateoption',
		'sentry_projecttransactionthreshold',
		'sentry_projecttransactionthresholdoverride', 'sentry_relay']
	LOOP
		-- A Sentry without project templates has fewer tables.
		IF to_regclass('public.' || t) IS NULL THEN
			CONTINUE;
		END IF;
		EXECUTE format('DROP TRIGGER IF EXISTS relaycfg_notify ON %I', t);
		EXECUTE format('CREATE TRIGGER relaycfg_notify AFTER INSERT OR '
		    'UPDATE OR DELETE OR TRUNCATE ON %I FOR EACH STATEMENT '
		    'EXECUTE FUNCTION relaycfg_notify()', t);
	END LOOP;
END;
$$;

-- To remove:
--   DO $$ DECLARE t text; BEGIN
--     FOR t IN SELECT event_object_table FROM information_schema.triggers
--              WHERE trigger_name = 'relaycfg_notify' LOOP
--       EXECUTE format('DROP TRIGGER IF EXISTS relaycfg_notify ON %I', t);
--     END LOOP; END $$;
--   DROP FUNCTION IF EXISTS relaycfg_notify();
