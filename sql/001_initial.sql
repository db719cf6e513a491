-- 001_initial.sql - the Sentry tables relaycfg reads and writes.
--
-- Table and column names are Sentry's (src/sentry/models/*.py), so that
-- rows move between Sentry and relaycfg with ordinary tools (mysqldump,
-- CSV, pgloader).  Types are the MariaDB equivalents of Django's fields.
-- Differences from Sentry, each deliberate:
--   * public_key, secret_key, relay_id and option `key` columns use
--     utf8mb4_bin: PostgreSQL compares them byte-wise, and a
--     case-insensitive collation would make "ABC..." find "abc...".
--   * Foreign keys do not cascade.  Sentry cascades in Python; relaycfgctl
--     deletes the children itself, in one transaction, because it has to
--     know every deleted row to invalidate its cache entries.
--   * DATETIME(6) columns hold UTC.
--
-- Every statement is idempotent (IF NOT EXISTS), so that a migration
-- interrupted half-way can simply be run again: MariaDB DDL is not
-- transactional.  Statements are separated by ';' at the end of a line.

CREATE TABLE IF NOT EXISTS sentry_organization (
	id		BIGINT NOT NULL AUTO_INCREMENT,
	name		VARCHAR(64) NOT NULL,
	slug		VARCHAR(50) NOT NULL,
	status		INT UNSIGNED NOT NULL DEFAULT 0,
	date_added	DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	default_role	VARCHAR(32) NOT NULL DEFAULT 'member',
	flags		BIGINT NOT NULL DEFAULT 1,
	is_test		BOOL NOT NULL DEFAULT 0,
	PRIMARY KEY (id),
	UNIQUE KEY sentry_organization_slug_uniq (slug)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS sentry_projecttemplate (
	id		BIGINT NOT NULL AUTO_INCREMENT,
	name		VARCHAR(200) NOT NULL,
	organization_id	BIGINT NOT NULL,
	date_added	DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	date_updated	DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	PRIMARY KEY (id),
	UNIQUE KEY sentry_projecttemplate_name_org_uniq (name, organization_id),
	KEY sentry_projecttemplate_organization_id (organization_id),
	CONSTRAINT sentry_projecttemplate_org_fk FOREIGN KEY (organization_id)
	    REFERENCES sentry_organization (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Lookups: by id; by organization_id (org-scope invalidation, the unique
-- key's prefix); by template_id (template-option invalidation).
CREATE TABLE IF NOT EXISTS sentry_project (
	id		BIGINT NOT NULL AUTO_INCREMENT,
	slug		VARCHAR(100) NULL,
	name		VARCHAR(200) NOT NULL,
	forced_color	VARCHAR(6) NULL,
	organization_id	BIGINT NOT NULL,
	public		BOOL NOT NULL DEFAULT 0,
	date_added	DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	status		INT UNSIGNED NOT NULL DEFAULT 0,
	first_event	DATETIME(6) NULL,
	flags		BIGINT NOT NULL DEFAULT 0,
	platform	VARCHAR(64) NULL,
	template_id	BIGINT NULL,
	external_id	VARCHAR(256) NULL,
	PRIMARY KEY (id),
	UNIQUE KEY sentry_project_organization_id_slug_uniq (organization_id, slug),
	UNIQUE KEY sentry_project_organization_id_external_id_uniq (organization_id, external_id),
	KEY sentry_project_status (status),
	KEY sentry_project_template_id (template_id),
	CONSTRAINT sentry_project_organization_fk FOREIGN KEY (organization_id)
	    REFERENCES sentry_organization (id),
	CONSTRAINT sentry_project_template_fk FOREIGN KEY (template_id)
	    REFERENCES sentry_projecttemplate (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Lookups: by id; by public_key (every project-config request); by
-- project_id (v1 requests, project-scope invalidation).
CREATE TABLE IF NOT EXISTS sentry_projectkey (
	id		BIGINT NOT NULL AUTO_INCREMENT,
	project_id	BIGINT NOT NULL,
	label		VARCHAR(64) NULL,
	public_key	VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
	secret_key	VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
	roles		BIGINT NOT NULL DEFAULT 1,
	status		INT UNSIGNED NOT NULL DEFAULT 0,
	date_added	DATETIME(6) NULL DEFAULT CURRENT_TIMESTAMP(6),
	rate_limit_count INT UNSIGNED NULL,
	rate_limit_window INT UNSIGNED NULL,
	data		LONGTEXT NOT NULL DEFAULT '{}',
	use_case	VARCHAR(32) NOT NULL DEFAULT 'user',
	PRIMARY KEY (id),
	UNIQUE KEY sentry_projectkey_public_key_uniq (public_key),
	UNIQUE KEY sentry_projectkey_secret_key_uniq (secret_key),
	KEY sentry_projectkey_project_id (project_id),
	KEY sentry_projectkey_status (status),
	CONSTRAINT sentry_projectkey_project_fk FOREIGN KEY (project_id)
	    REFERENCES sentry_project (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Option values are JSON text (Sentry: LegacyTextJSONField / the
-- PickledObjectField that is "actually just json").  Lookups: all rows of
-- one owner (the unique key's prefix).
CREATE TABLE IF NOT EXISTS sentry_projectoptions (
	id		BIGINT NOT NULL AUTO_INCREMENT,
	project_id	BIGINT NOT NULL,
	`key`		VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	value		LONGTEXT NULL,
	PRIMARY KEY (id),
	UNIQUE KEY sentry_projectoptions_project_id_key_uniq (project_id, `key`),
	KEY sentry_projectoptions_key (`key`),
	CONSTRAINT sentry_projectoptions_project_fk FOREIGN KEY (project_id)
	    REFERENCES sentry_project (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS sentry_organizationoptions (
	id		BIGINT NOT NULL AUTO_INCREMENT,
	organization_id	BIGINT NOT NULL,
	`key`		VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	value		LONGTEXT NOT NULL,
	PRIMARY KEY (id),
	UNIQUE KEY sentry_organizationoptions_org_id_key_uniq (organization_id, `key`),
	CONSTRAINT sentry_organizationoptions_org_fk FOREIGN KEY (organization_id)
	    REFERENCES sentry_organization (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS sentry_projecttemplateoption (
	id		BIGINT NOT NULL AUTO_INCREMENT,
	project_template_id BIGINT NOT NULL,
	`key`		VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	value		LONGTEXT NOT NULL,
	PRIMARY KEY (id),
	UNIQUE KEY sentry_projecttemplateoption_tmpl_key_uniq (project_template_id, `key`),
	CONSTRAINT sentry_projecttemplateoption_tmpl_fk FOREIGN KEY (project_template_id)
	    REFERENCES sentry_projecttemplate (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Lookups: by id; by relay_id (authentication of every relay request).
CREATE TABLE IF NOT EXISTS sentry_relay (
	id		BIGINT NOT NULL AUTO_INCREMENT,
	relay_id	VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	public_key	VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	first_seen	DATETIME(6) NULL,
	last_seen	DATETIME(6) NULL,
	is_internal	BOOL NULL,
	PRIMARY KEY (id),
	UNIQUE KEY sentry_relay_relay_id_uniq (relay_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Lookups: the (relay_id, version) upsert at registration; public_key.
CREATE TABLE IF NOT EXISTS sentry_relayusage (
	id		BIGINT NOT NULL AUTO_INCREMENT,
	relay_id	VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	version		VARCHAR(32) NOT NULL DEFAULT '0.0.1',
	first_seen	DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	last_seen	DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	public_key	VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
	PRIMARY KEY (id),
	UNIQUE KEY sentry_relayusage_relay_id_version_uniq (relay_id, version),
	KEY sentry_relayusage_public_key (public_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The version this file brings, recorded last, here and in every later
-- file: "relaycfgctl db init" and "db migrate" run the files and find the
-- version they record, so a DBA who applies them by hand leaves the state
-- the tool leaves, and applying one again records nothing new.  The table
-- is made here, with the first version.
CREATE TABLE IF NOT EXISTS relaycfg_schema_version (
	version		INT NOT NULL PRIMARY KEY,
	name		VARCHAR(200) NOT NULL,
	applied_at	DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO relaycfg_schema_version (version, name, applied_at)
	VALUES (1, '001_initial', UTC_TIMESTAMP(6))
	ON DUPLICATE KEY UPDATE version = version;
