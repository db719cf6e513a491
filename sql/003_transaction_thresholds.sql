-- 003_transaction_thresholds.sql - Sentry's per-project transaction
-- thresholds (the satisfaction rules of metricConditionalTagging):
-- src/sentry/models/transaction_threshold.py, ProjectTransactionThreshold
-- and ProjectTransactionThresholdOverride (DefaultFieldsModel: id,
-- date_updated, date_added).  metric is TransactionMetric: 1 duration,
-- 2 lcp.  Unique as Sentry's: one threshold per project, one override per
-- project and transaction.
--
-- Differences from Sentry, each deliberate:
--   * `transaction` uses utf8mb4_nopad_bin: PostgreSQL compares byte-wise
--     and so does it, trailing spaces included (utf8mb4_bin would take
--     "foo " for "foo" and let one override overwrite the other); the
--     overrides go out ordered by name, in byte order.
--   * project_id cascades on delete (Sentry: no constraint, its deletion
--     code removes the rows).  relaycfgctl's project and organization
--     deletes predate these tables; the rows' only cache entry is keyed by
--     the project, which no config is built for once it is gone.
--   * edited_by_id has no constraint: relaycfg has no users.
-- Idempotent like 001: IF NOT EXISTS throughout.

CREATE TABLE IF NOT EXISTS sentry_projecttransactionthreshold (
	id		BIGINT NOT NULL AUTO_INCREMENT,
	date_updated	DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	date_added	DATETIME(6) NULL DEFAULT CURRENT_TIMESTAMP(6),
	project_id	BIGINT NOT NULL,
	organization_id	BIGINT NOT NULL,
	threshold	INT NOT NULL,
	metric		SMALLINT UNSIGNED NOT NULL DEFAULT 1,
	edited_by_id	BIGINT NULL,
	PRIMARY KEY (id),
	UNIQUE KEY sentry_projecttransactionthreshold_project_id_uniq (project_id),
	KEY sentry_projecttransactionthreshold_organization_id (organization_id),
	KEY sentry_projecttransactionthreshold_edited_by_id (edited_by_id),
	CONSTRAINT sentry_projecttransactionthreshold_project_fk
	    FOREIGN KEY (project_id) REFERENCES sentry_project (id)
	    ON DELETE CASCADE,
	CONSTRAINT sentry_projecttransactionthreshold_org_fk
	    FOREIGN KEY (organization_id) REFERENCES sentry_organization (id)
	    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS sentry_projecttransactionthresholdoverride (
	id		BIGINT NOT NULL AUTO_INCREMENT,
	date_updated	DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	date_added	DATETIME(6) NULL DEFAULT CURRENT_TIMESTAMP(6),
	`transaction`	VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
	project_id	BIGINT NOT NULL,
	organization_id	BIGINT NOT NULL,
	threshold	INT NOT NULL,
	metric		SMALLINT UNSIGNED NOT NULL DEFAULT 1,
	edited_by_id	BIGINT NULL,
	PRIMARY KEY (id),
	UNIQUE KEY sentry_projecttxthresholdoverride_project_id_txn_uniq (project_id, `transaction`),
	KEY sentry_projecttransactionthresholdoverride_organization_id (organization_id),
	KEY sentry_projecttransactionthresholdoverride_edited_by_id (edited_by_id),
	CONSTRAINT sentry_projecttransactionthresholdoverride_project_fk
	    FOREIGN KEY (project_id) REFERENCES sentry_project (id)
	    ON DELETE CASCADE,
	CONSTRAINT sentry_projecttransactionthresholdoverride_org_fk
	    FOREIGN KEY (organization_id) REFERENCES sentry_organization (id)
	    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The version this file brings, recorded last (see 001_initial.sql).
INSERT INTO relaycfg_schema_version (version, name, applied_at)
	VALUES (3, '003_transaction_thresholds', UTC_TIMESTAMP(6))
	ON DUPLICATE KEY UPDATE version = version;
