/*
 * ctl_db.c - relaycfgctl db init | migrate | status: the schema, on a bare
 * primary connection, and the cache dropped after a migration.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl_admin.h"
#include "db.h"

/*
 * cmd_db - status, init or migrate the schema.  A migration that changed
 * rows drops the whole cache; when memcached does not take that, a
 * warning (the schema stays migrated, exit 0).  Any other subcommand is
 * a usage error (2) before the database is opened.
 */
int
cmd_db(struct admin *a, int argc, char **argv)
{
	static const int none[] = { 0 };
	struct db *db = NULL;
	struct args ar;
	int version = 0, from = 0, to = 0, latest = db_schema_latest(), rc;
	const char *sub = argv[0];
	enum db_rc drc;

	/* Checked first: a typo must never reach db_schema_migrate(). */
	if (strcmp(sub, "status") != 0 && strcmp(sub, "init") != 0 &&
	    strcmp(sub, "migrate") != 0)
		return admin_usage_error(a, "db init|migrate|status");
	if ((rc = admin_parse_args(a, argc, argv, none, &ar)) != 0 ||
	    (rc = admin_want_pos(a, &ar, 0, 0)) != 0)
		return rc;
	/* Schema work needs no cache: a bare primary connection. */
	if ((db = db_new(&a->conf->db, NULL, a->conf, 0)) == NULL)
		return admin_fail(a, "out of memory");
	if ((drc = db_schema_version(db, &version)) != DB_OK) {
		rc = admin_fail(a, "%s", db_last_error(db));
		goto out;
	}
	if (version > latest) {
		rc = admin_fail(a, "the schema is at version %d, newer than "
		    "this relaycfgctl knows (%d)", version, latest);
		goto out;
	}
	if (strcmp(sub, "status") == 0) {
		if (a->json) {
			json_object *o = json_object_new_object();
			json_object *p = json_object_new_array();

			for (size_t i = 0; i < db_n_migrations; i++)
				if (db_migrations[i].version > version)
					json_object_array_add(p,
					    json_object_new_string(
					    db_migrations[i].name));
			admin_jadd(o, "version", json_object_new_int(version));
			admin_jadd(o, "latest", json_object_new_int(latest));
			admin_jadd(o, "pending", p);
			admin_print_json(o);
		} else if (version == 0)
			printf("schema version 0 (latest %d): not initialised; "
			    "run relaycfgctl db init\n", latest);
		else if (version < latest)
			printf("schema version %d (latest %d): %d migration(s) "
			    "pending; run relaycfgctl db migrate\n", version,
			    latest, latest - version);
		else
			printf("schema version %d (latest %d): up to date\n",
			    version, latest);
		rc = 0;
		goto out;
	}
	if (strcmp(sub, "init") == 0 && version != 0 && version < latest) {
		rc = admin_fail(a, "the schema is at version %d: run "
		    "relaycfgctl db migrate", version);
		goto out;
	}
	if (strcmp(sub, "migrate") == 0 && version == 0) {
		rc = admin_fail(a, "no schema: run relaycfgctl db init");
		goto out;
	}
	if ((drc = db_schema_migrate(db, &from, &to)) != DB_OK) {
		rc = admin_fail(a, "%s (the schema is at version %d)",
		    db_last_error(db), to);
		goto out;
	}
	/*
	 * A migration changes rows behind the cache's back: drop it all, so
	 * that no server reads a row as it was before.  The schema stays
	 * migrated either way; a cache that did not take it is said.
	 */
	if (from != 0 && from != to &&
	    (store_invalidate(a->st, STORE_SCOPE_ALL, 0, NULL) != STORE_OK ||
	    store_cache_stale(a->st)))
		fprintf(stderr, "relaycfgctl: warning: memcached did not take "
		    "the invalidation after the migration; run relaycfgctl "
		    "invalidate --all once it is back\n");
	if (a->json) {
		json_object *o = json_object_new_object();

		admin_jadd(o, "from", json_object_new_int(from));
		admin_jadd(o, "version", json_object_new_int(to));
		admin_print_json(o);
	} else if (from == to)
		printf("schema already at version %d\n", to);
	else
		printf("schema %s from version %d to %d\n",
		    from == 0 ? "created" : "migrated", from, to);
	rc = 0;
out:
	db_free(db);
	return rc;
}
