/*
 * The store: the only file that speaks SQL. One SQLite database in WAL
 * mode with synchronous=FULL, so a COMMIT that returned is on disk; the
 * intake batches many deliveries into one transaction, which is what makes
 * that affordable.
 *
 * The schema is versioned with PRAGMA user_version and migrated forward at
 * start, one step per version, each step in its own transaction. A newer
 * database than this binary knows is refused rather than guessed at.
 * beekeeperd(8) documents the tables for operators.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "daemon.h"

enum db_stmt {
	STMT_DELIVERY_INSERT,
	STMT_DELIVERY_DONE,
	STMT_DELIVERIES_RECEIVED,
	STMT_CHANGE_INSERT,
	STMT_PROJECT_REGISTER,
	STMT_MAX
};

static const char *db_stmt_sql[STMT_MAX] = {
	[STMT_DELIVERY_INSERT] =
	    "INSERT OR IGNORE INTO deliveries (id, event, received_at, "
	    "remote, signature, content_type, size, payload, state) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'received')",
	[STMT_DELIVERY_DONE] =
	    "UPDATE deliveries SET state = ?, reason = ?, processed_at = ? "
	    "WHERE id = ? AND state = 'received'",
	[STMT_DELIVERIES_RECEIVED] =
	    "SELECT id, event, received_at, remote, signature, content_type, "
	    "payload FROM deliveries WHERE state = 'received' "
	    "ORDER BY received_at, rowid",
	[STMT_CHANGE_INSERT] =
	    "INSERT INTO changes (delivery_id, event, repo, clone_url, "
	    "ref_type, ref, base_ref, sha, pr, action, fork, sender, deleted, "
	    "state, reason, created_at) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[STMT_PROJECT_REGISTER] =
	    "INSERT INTO projects (repo, clone_url, html_url, state, "
	    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
	    "ON CONFLICT (repo) DO UPDATE SET clone_url = excluded.clone_url, "
	    "html_url = excluded.html_url, updated_at = excluded.updated_at",
};

/* Each entry moves the schema from version i to i + 1. */
static const char *db_migrations[] = {
	/* 0 -> 1: webhook intake. */
	"CREATE TABLE deliveries ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  event TEXT NOT NULL,"
	"  received_at INTEGER NOT NULL,"
	"  remote TEXT,"
	"  signature TEXT,"
	"  content_type TEXT,"
	"  size INTEGER NOT NULL,"
	"  payload BLOB NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'received'"
	"    CHECK (state IN ('received', 'processed', 'failed')),"
	"  reason TEXT,"
	"  processed_at INTEGER"
	");"
	"CREATE INDEX deliveries_state ON deliveries (state);"
	"CREATE TABLE projects ("
	"  id INTEGER PRIMARY KEY,"
	"  repo TEXT UNIQUE NOT NULL,"
	"  clone_url TEXT,"
	"  html_url TEXT,"
	"  state TEXT NOT NULL DEFAULT 'pending'"
	"    CHECK (state IN ('pending', 'approved', 'rejected')),"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	");"
	"CREATE TABLE changes ("
	"  id INTEGER PRIMARY KEY,"
	"  delivery_id TEXT UNIQUE NOT NULL REFERENCES deliveries (id),"
	"  event TEXT NOT NULL,"
	"  repo TEXT,"
	"  clone_url TEXT,"
	"  ref_type TEXT,"
	"  ref TEXT,"
	"  base_ref TEXT,"
	"  sha TEXT,"
	"  pr INTEGER,"
	"  action TEXT,"
	"  fork INTEGER NOT NULL DEFAULT 0,"
	"  sender TEXT,"
	"  deleted INTEGER NOT NULL DEFAULT 0,"
	"  state TEXT NOT NULL CHECK (state IN ('queued', 'ignored', 'done')),"
	"  reason TEXT,"
	"  created_at INTEGER NOT NULL"
	");"
	"CREATE INDEX changes_state ON changes (state);",
};

struct db {
	sqlite3		*conn;
	sqlite3_stmt	*stmts[STMT_MAX];
	char		 error[256];
};

static int
db_fail(struct db *db, const char *what)
{
	snprintf(db->error, sizeof db->error, "%s: %s", what,
	    sqlite3_errmsg(db->conn));
	log_error("store: %s", db->error);
	return (-1);
}

static int
db_exec(struct db *db, const char *sql)
{
	char	*err = NULL;

	if (sqlite3_exec(db->conn, sql, NULL, NULL, &err) != SQLITE_OK) {
		snprintf(db->error, sizeof db->error, "%s",
		    err != NULL ? err : "unknown error");
		log_error("store: %s", db->error);
		sqlite3_free(err);
		return (-1);
	}
	return (0);
}

int
db_schema_version(struct db *db)
{
	sqlite3_stmt	*st;
	int		 v = -1;

	if (sqlite3_prepare_v2(db->conn, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK)
		return (-1);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return (v);
}

static int
db_migrate(struct db *db, char **cause)
{
	int	 v, target = nitems(db_migrations);
	char	*sql;

	if ((v = db_schema_version(db)) < 0) {
		xasprintf(cause, "reading schema version: %s",
		    sqlite3_errmsg(db->conn));
		return (-1);
	}
	if (v > target) {
		xasprintf(cause, "schema version %d is newer than this "
		    "beekeeperd knows (%d); run a newer beekeeperd", v, target);
		return (-1);
	}
	for (; v < target; v++) {
		xasprintf(&sql, "BEGIN IMMEDIATE; %s PRAGMA user_version = %d; "
		    "COMMIT;", db_migrations[v], v + 1);
		if (db_exec(db, sql) != 0) {
			free(sql);
			(void)sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL,
			    NULL);
			xasprintf(cause, "migrating schema to version %d: %s",
			    v + 1, db->error);
			return (-1);
		}
		free(sql);
		log_info("store: schema migrated to version %d", v + 1);
	}
	return (0);
}

struct db *
db_create(const char *path, char **cause)
{
	struct db	*db;
	int		 i;

	db = xcalloc(1, sizeof *db);
	if (sqlite3_open_v2(path, &db->conn, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		xasprintf(cause, "%s: %s", path, db->conn != NULL ?
		    sqlite3_errmsg(db->conn) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(db->conn, 5000);
	/*
	 * A push payload is 5 to 10 KB: with 8 KB pages most deliveries fit
	 * one page instead of spilling into overflow pages, which halves
	 * what each commit writes. It only takes effect on a new file.
	 */
	if (db_exec(db, "PRAGMA page_size = 8192") != 0 ||
	    db_exec(db, "PRAGMA journal_mode = WAL") != 0 ||
	    db_exec(db, "PRAGMA synchronous = FULL") != 0 ||
	    db_exec(db, "PRAGMA foreign_keys = ON") != 0) {
		xasprintf(cause, "%s: %s", path, db->error);
		goto fail;
	}
	if (db_migrate(db, cause) != 0)
		goto fail;
	for (i = 0; i < STMT_MAX; i++) {
		if (sqlite3_prepare_v3(db->conn, db_stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &db->stmts[i], NULL) !=
		    SQLITE_OK) {
			xasprintf(cause, "%s: preparing statement %d: %s",
			    path, i, sqlite3_errmsg(db->conn));
			goto fail;
		}
	}
	return (db);

fail:
	db_free(db);
	return (NULL);
}

void
db_free(struct db *db)
{
	int	 i;

	if (db == NULL)
		return;
	for (i = 0; i < STMT_MAX; i++)
		sqlite3_finalize(db->stmts[i]);
	sqlite3_close(db->conn);
	free(db);
}

const char *
db_error(struct db *db)
{
	return (db->error);
}

int
db_begin(struct db *db)
{
	return (db_exec(db, "BEGIN IMMEDIATE"));
}

int
db_commit(struct db *db)
{
	return (db_exec(db, "COMMIT"));
}

void
db_rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(db->conn))
		(void)db_exec(db, "ROLLBACK");
}

/* A cheap read that fails if the database file has gone bad. */
int
db_ping(struct db *db)
{
	return (db_schema_version(db) == (int)nitems(db_migrations) ? 0 : -1);
}

static void
db_bind_text(sqlite3_stmt *st, int col, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, col);
	else
		sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
}

static int
db_step_done(struct db *db, sqlite3_stmt *st, const char *what)
{
	int	 rc;

	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return (db_fail(db, what));
	return (0);
}

enum db_insert
db_delivery_insert(struct db *db, const struct delivery *d)
{
	sqlite3_stmt	*st = db->stmts[STMT_DELIVERY_INSERT];

	db_bind_text(st, 1, d->id);
	db_bind_text(st, 2, d->event);
	sqlite3_bind_int64(st, 3, d->received_at);
	db_bind_text(st, 4, d->remote);
	db_bind_text(st, 5, d->signature);
	db_bind_text(st, 6, d->content_type);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)d->payload_len);
	sqlite3_bind_blob64(st, 8, d->payload, d->payload_len,
	    SQLITE_STATIC);
	if (db_step_done(db, st, "storing delivery") != 0)
		return (DB_INSERT_ERROR);
	return (sqlite3_changes(db->conn) == 1 ? DB_INSERT_NEW :
	    DB_INSERT_DUPLICATE);
}

/* Mark a delivery processed or failed; only a 'received' one changes. */
int
db_delivery_done(struct db *db, const char *id, const char *state,
    const char *reason, int64_t now)
{
	sqlite3_stmt	*st = db->stmts[STMT_DELIVERY_DONE];

	db_bind_text(st, 1, state);
	db_bind_text(st, 2, reason);
	sqlite3_bind_int64(st, 3, now);
	db_bind_text(st, 4, id);
	return (db_step_done(db, st, "marking delivery done"));
}

/* Call cb for every delivery stored but not yet processed, oldest first. */
int
db_deliveries_received(struct db *db, db_delivery_cb cb, void *arg)
{
	sqlite3_stmt	*st = db->stmts[STMT_DELIVERIES_RECEIVED];
	struct delivery	*d;
	const void	*blob;
	const char	*s;
	int		 rc, n;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		d = xcalloc(1, sizeof *d);
		util_strlcpy(d->id, (const char *)sqlite3_column_text(st, 0),
		    sizeof d->id);
		util_strlcpy(d->event, (const char *)sqlite3_column_text(st,
		    1), sizeof d->event);
		d->received_at = sqlite3_column_int64(st, 2);
		if ((s = (const char *)sqlite3_column_text(st, 3)) != NULL)
			util_strlcpy(d->remote, s, sizeof d->remote);
		blob = sqlite3_column_blob(st, 6);
		n = sqlite3_column_bytes(st, 6);
		d->payload = xmalloc(n + 1);
		if (n > 0)
			memcpy(d->payload, blob, n);
		d->payload[n] = '\0';
		d->payload_len = n;
		cb(d, arg);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return (db_fail(db, "reading unprocessed deliveries"));
	return (0);
}

int
db_change_insert(struct db *db, const char *delivery_id,
    const struct change *c, int64_t now)
{
	sqlite3_stmt	*st = db->stmts[STMT_CHANGE_INSERT];

	db_bind_text(st, 1, delivery_id);
	db_bind_text(st, 2, c->event);
	db_bind_text(st, 3, c->repo);
	db_bind_text(st, 4, c->clone_url);
	db_bind_text(st, 5, c->ref_type);
	db_bind_text(st, 6, c->ref);
	db_bind_text(st, 7, c->base_ref);
	db_bind_text(st, 8, c->sha);
	if (c->pr != 0)
		sqlite3_bind_int64(st, 9, c->pr);
	else
		sqlite3_bind_null(st, 9);
	db_bind_text(st, 10, c->action);
	sqlite3_bind_int(st, 11, c->fork);
	db_bind_text(st, 12, c->sender);
	sqlite3_bind_int(st, 13, c->deleted);
	db_bind_text(st, 14, c->state);
	db_bind_text(st, 15, c->reason);
	sqlite3_bind_int64(st, 16, now);
	return (db_step_done(db, st, "storing change"));
}

/*
 * Register a repository as a project. A repository seen before keeps its
 * approval state: a second ping must not undo an operator's decision.
 */
int
db_project_register(struct db *db, const char *repo, const char *clone_url,
    const char *html_url, int approved, int64_t now)
{
	sqlite3_stmt	*st = db->stmts[STMT_PROJECT_REGISTER];

	db_bind_text(st, 1, repo);
	db_bind_text(st, 2, clone_url);
	db_bind_text(st, 3, html_url);
	db_bind_text(st, 4, approved ? "approved" : "pending");
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, now);
	return (db_step_done(db, st, "registering project"));
}
