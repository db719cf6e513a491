#!/bin/bash
# gen-data.sh FROM TO TRUSTED_RELAY_PK - SQL for synthetic projects FROM+1..TO
# (and their organizations, keys and options) on stdout, for the schema of
# "relaycfgctl db init".  Bulk INSERT ... SELECT over MariaDB's SEQUENCE
# engine (seq_1_to_N): 100,000 projects load in seconds.  Deterministic:
# the same ids always get the same rows, so the 100-project set is the
# first 100 projects of the 100,000-project set.
#
# Shape (per project p, organization o = ceil(p / 10)):
#   * 10 projects per organization; platforms cycle through five.
#   * 1 key per project, a 2nd key for every 3rd project (every other one
#     of those rate-limited to 1000/60 s); keys are md5 hex, as uuid4().hex.
#   * project options: sentry:origins (all), scrubbing (scrub_ip_address,
#     sensitive_fields, safe_fields), inbound filters (browser extensions,
#     localhost, legacy browsers, web crawlers), error_messages, releases,
#     blacklisted_ips, a relay_pii_config (every 5th), grouping_config.
#   * organization options: trusted relays (every 5th), sensitive_fields,
#     a relay_pii_config (every 4th), an org quota (every 10th).
set -euo pipefail

from=$1
to=$2
relay_pk=$3
seq="seq_$((from + 1))_to_$to"
ofrom=$(( (from + 9) / 10 ))
oto=$(( (to + 9) / 10 ))
oseq="seq_$((ofrom + 1))_to_$oto"

cat <<SQL
SET SESSION foreign_key_checks = 0, unique_checks = 0;
START TRANSACTION;
SQL
if [ "$oto" -gt "$ofrom" ]; then
	cat <<SQL
INSERT INTO sentry_organization (id, name, slug, status)
SELECT seq, CONCAT('Organization ', seq), CONCAT('org-', seq), 0 FROM $oseq;

INSERT INTO sentry_organizationoptions (organization_id, \`key\`, value)
SELECT seq, 'sentry:sensitive_fields', '["ssn","iban"]' FROM $oseq WHERE seq % 2 = 0
UNION ALL
SELECT seq, 'sentry:trusted-relays',
  CONCAT('[{"public_key":"$relay_pk","name":"edge-', seq,
         '","description":"","created":"2025-01-01T00:00:00Z"}]')
  FROM $oseq WHERE seq % 5 = 0
UNION ALL
SELECT seq, 'sentry:relay_pii_config',
  JSON_QUOTE('{"applications":{"\$string":["@creditcard","@iban"]}}')
  FROM $oseq WHERE seq % 4 = 0
UNION ALL
SELECT seq, 'relaycfg:quotas',
  '[{"id":"org-daily","categories":["error","transaction"],"limit":100000,"window":86400,"reasonCode":"org_quota"}]'
  FROM $oseq WHERE seq % 10 = 0;
SQL
fi
cat <<SQL
INSERT INTO sentry_project (id, slug, name, organization_id, status, platform)
SELECT seq, CONCAT('project-', seq), CONCAT('Project ', seq),
       (seq + 9) DIV 10, 0,
       ELT(1 + seq % 5, 'javascript', 'python', 'node', 'java', 'cocoa')
  FROM $seq;

INSERT INTO sentry_projectkey (id, project_id, label, public_key, secret_key,
    roles, status, rate_limit_count, rate_limit_window, data)
SELECT seq, seq, 'Default', MD5(CONCAT('relaycfg-bench-pk-', seq)),
       MD5(CONCAT('relaycfg-bench-sk-', seq)), 1, 0, NULL, NULL, '{}'
  FROM $seq
UNION ALL
SELECT 1000000 + seq, seq, 'Backend', MD5(CONCAT('relaycfg-bench-pk-', 1000000 + seq)),
       MD5(CONCAT('relaycfg-bench-sk-', 1000000 + seq)), 1, 0,
       IF(seq % 6 = 0, 1000, NULL), IF(seq % 6 = 0, 60, NULL), '{}'
  FROM $seq WHERE seq % 3 = 0;

INSERT INTO sentry_projectoptions (project_id, \`key\`, value)
SELECT seq, 'sentry:origins',
  CONCAT('["https://app', seq, '.example.com","https://*.example-', (seq + 9) DIV 10, '.org"]')
  FROM $seq
UNION ALL
SELECT seq, 'sentry:grouping_config', '"newstyle:2023-01-11"' FROM $seq
UNION ALL
SELECT seq, 'sentry:scrub_ip_address', 'true' FROM $seq WHERE seq % 2 = 0
UNION ALL
SELECT seq, 'sentry:sensitive_fields', '["password","card_number","session_token"]'
  FROM $seq WHERE seq % 3 = 0
UNION ALL
SELECT seq, 'sentry:safe_fields', '["user.email_hash"]' FROM $seq WHERE seq % 7 = 0
UNION ALL
SELECT seq, 'filters:browser-extensions', '"1"' FROM $seq WHERE seq % 2 = 1
UNION ALL
SELECT seq, 'filters:localhost', '"1"' FROM $seq WHERE seq % 4 = 0
UNION ALL
SELECT seq, 'filters:legacy-browsers', '["ie","safari_pre_6","opera_pre_15"]'
  FROM $seq WHERE seq % 5 = 0
UNION ALL
SELECT seq, 'filters:web-crawlers', '"1"' FROM $seq WHERE seq % 3 = 1
UNION ALL
SELECT seq, 'sentry:error_messages',
  '["*ResizeObserver loop*","*Non-Error promise rejection captured*"]'
  FROM $seq WHERE seq % 4 = 1
UNION ALL
SELECT seq, 'sentry:releases', '["*-dev","0.0.*"]' FROM $seq WHERE seq % 10 = 0
UNION ALL
SELECT seq, 'sentry:blacklisted_ips', '["10.0.0.0/8","192.168.1.1"]'
  FROM $seq WHERE seq % 8 = 0
UNION ALL
SELECT seq, 'sentry:relay_pii_config',
  JSON_QUOTE(CONCAT('{"rules":{"strip-token":{"type":"pattern","pattern":"tok_[a-z0-9]+",',
    '"redaction":{"method":"replace","text":"[token]"}}},',
    '"applications":{"\$string":["strip-token","@email"],"password":["@anything"]}}'))
  FROM $seq WHERE seq % 5 = 0;
COMMIT;
SQL
