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
	STMT_CHANGES_QUEUED,
	STMT_CHANGE_DONE,
	STMT_PROJECT_STATE,
	STMT_BUILD_INSERT,
	STMT_BUILD_UPDATE,
	STMT_BUILDS_ACTIVE,
	STMT_BUILD_GET,
	STMT_TASK_INSERT,
	STMT_TASK_UPDATE,
	STMT_TASKS_OF,
	STMT_INSTANCE_SAVE,
	STMT_INSTANCES_END,
	STMT_BUILD_LATEST,
	STMT_POOL_CAP,
	STMT_CHANGE_HOLD,
	STMT_PROJECT_APPROVE,
	STMT_CHANGES_RELEASE,
	STMT_CHANGES_UNHOLD,
	STMT_REPORT_WANT,
	STMT_REPORTS_DUE,
	STMT_REPORT_POSTED,
	STMT_REPORT_RETRY,
	STMT_REPORTS_BACKLOG,
	STMT_BUILDS_LIST,
	STMT_BUILDS_RECENT,
	STMT_BUILDS_OPEN,
	STMT_PROJECTS_LIST,
	STMT_PROJECT_GET,
	STMT_PROJECT_SET_STATE,
	STMT_POOL_SET_CAP,
	STMT_AUDIT_INSERT,
	STMT_AUDIT_LIST,
	STMT_DELIVERIES_COUNT,
	STMT_BUILDS_COUNT,
	STMT_TASKS_COUNT,
	STMT_BUILD_NEWER,
	STMT_VARS_LIST,
	STMT_VAR_SET,
	STMT_VAR_UNSET,
	STMT_MAX
};

#define BUILD_COLUMNS \
	"id, change_id, project, clone_url, event, ref, pr, sha, fork, " \
	"state, phase, reason, created_at, started_at, finished_at, " \
	"sender, installation, approval, retry_of"
#define REPORT_COLUMNS \
	"id, kind, repo, sha, context, build_id, installation, state, " \
	"description, target_url, summary, posted_state, remote_id, attempts"
#define TASK_COLUMNS \
	"id, phase, phase_name, slug, name, image, run, profile, critical, " \
	"timeout_ms, environment, state, exit_status, reason, attempt, " \
	"infra_retry, instance, pid, queued_at, started_at, finished_at, " \
	"cost, on_demand"

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
	    "state, reason, created_at, installation, default_branch) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[STMT_PROJECT_REGISTER] =
	    "INSERT INTO projects (repo, clone_url, html_url, state, "
	    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
	    "ON CONFLICT (repo) DO UPDATE SET clone_url = excluded.clone_url, "
	    "html_url = excluded.html_url, updated_at = excluded.updated_at",
	[STMT_CHANGES_QUEUED] =
	    "SELECT id, delivery_id, event, repo, clone_url, ref_type, ref, "
	    "sha, pr, action, fork, deleted, sender, installation, "
	    "default_branch, base_ref FROM changes "
	    "WHERE state = 'queued' ORDER BY id LIMIT " DB_CHANGES_PAGE_SQL,
	[STMT_CHANGE_DONE] =
	    "UPDATE changes SET state = ?, reason = ? WHERE id = ?",
	[STMT_PROJECT_STATE] =
	    "SELECT state FROM projects WHERE repo = ?",
	[STMT_BUILD_INSERT] =
	    "INSERT INTO builds (change_id, project, clone_url, event, ref, "
	    "pr, sha, fork, state, phase, reason, created_at, sender, "
	    "installation, approval, retry_of) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[STMT_BUILD_UPDATE] =
	    "UPDATE builds SET state = ?, phase = ?, reason = ?, "
	    "started_at = ?, finished_at = ?, approval = ? WHERE id = ?",
	[STMT_BUILDS_ACTIVE] =
	    "SELECT " BUILD_COLUMNS " FROM builds "
	    "WHERE state IN ('fetching', 'running') ORDER BY id",
	[STMT_BUILD_GET] =
	    "SELECT " BUILD_COLUMNS " FROM builds WHERE id = ?",
	[STMT_TASK_INSERT] =
	    "INSERT INTO tasks (build_id, phase, phase_name, slug, name, "
	    "image, run, profile, critical, timeout_ms, environment, state) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[STMT_TASK_UPDATE] =
	    "UPDATE tasks SET state = ?, exit_status = ?, reason = ?, "
	    "attempt = ?, infra_retry = ?, instance = ?, pid = ?, "
	    "queued_at = ?, started_at = ?, finished_at = ?, cost = ?, "
	    "on_demand = ? WHERE id = ?",
	[STMT_TASKS_OF] =
	    "SELECT " TASK_COLUMNS " FROM tasks WHERE build_id = ? "
	    "ORDER BY phase, id",
	[STMT_INSTANCE_SAVE] =
	    "INSERT INTO instances (id, pool, driver, state, slots, reason, "
	    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
	    "ON CONFLICT (id) DO UPDATE SET state = excluded.state, "
	    "reason = excluded.reason, "
	    "ready_at = CASE WHEN excluded.state = 'ready' AND ready_at IS NULL "
	    "THEN excluded.created_at ELSE ready_at END, "
	    "ended_at = CASE WHEN excluded.state IN ('terminated', 'lost') "
	    "THEN excluded.created_at ELSE ended_at END",
	[STMT_BUILD_LATEST] =
	    "SELECT state FROM builds WHERE project = ? "
	    "AND (?2 IS NULL OR (pr IS NULL AND ref = ?2)) "
	    "AND state IN ('passed', 'failed', 'errored') "
	    "ORDER BY id DESC LIMIT 1",
	[STMT_POOL_CAP] =
	    "SELECT cap FROM pools WHERE name = ? AND cap IS NOT NULL",
	[STMT_INSTANCES_END] =
	    "UPDATE instances SET state = 'terminated', ended_at = ?, "
	    "reason = 'the daemon restarted' WHERE driver = ? "
	    "AND state NOT IN ('terminated', 'lost')",
	[STMT_CHANGE_HOLD] =
	    "UPDATE changes SET state = 'ignored', held = 1, reason = ? "
	    "WHERE id = ?",
	[STMT_PROJECT_APPROVE] =
	    "INSERT INTO projects (repo, state, created_at, updated_at) "
	    "VALUES (?1, 'approved', ?2, ?2) ON CONFLICT (repo) DO UPDATE "
	    "SET state = 'approved', updated_at = ?2 "
	    "WHERE state != 'approved'",
	[STMT_CHANGES_RELEASE] =
	    "UPDATE changes SET state = 'queued', held = 0, reason = NULL "
	    "WHERE id = (SELECT MAX(id) FROM changes WHERE repo = ? "
	    "AND held = 1)",
	[STMT_CHANGES_UNHOLD] =
	    "UPDATE changes SET held = 0, reason = 'not built: a newer "
	    "change was built when the project was approved' "
	    "WHERE repo = ? AND held = 1",
	[STMT_REPORT_WANT] =
	    "INSERT INTO reports (kind, repo, sha, context, build_id, "
	    "installation, state, description, target_url, summary, "
	    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
	    "ON CONFLICT (kind, repo, sha, context) DO UPDATE SET "
	    "build_id = excluded.build_id, "
	    "installation = excluded.installation, "
	    "attempts = CASE WHEN state = excluded.state AND NOT ?12 "
	    "THEN attempts ELSE 0 END, "
	    "next_at = CASE WHEN state = excluded.state AND NOT ?12 "
	    "THEN next_at ELSE 0 END, "
	    "posted_state = CASE WHEN ?12 THEN NULL ELSE posted_state END, "
	    "state = excluded.state, description = excluded.description, "
	    "target_url = excluded.target_url, summary = excluded.summary, "
	    "updated_at = excluded.updated_at",
	[STMT_REPORTS_DUE] =
	    "SELECT " REPORT_COLUMNS " FROM reports "
	    "WHERE posted_state IS NOT state AND next_at <= ? "
	    "ORDER BY id LIMIT ?",
	[STMT_REPORT_POSTED] =
	    "UPDATE reports SET posted_state = ?, "
	    "remote_id = COALESCE(?, remote_id), attempts = 0, next_at = 0, "
	    "last_error = ? WHERE id = ?",
	[STMT_REPORT_RETRY] =
	    "UPDATE reports SET attempts = attempts + 1, next_at = ?, "
	    "last_error = ? WHERE id = ?",
	[STMT_BUILDS_LIST] =
	    "SELECT id FROM builds WHERE (?1 IS NULL OR project = ?1) "
	    "AND (?2 IS NULL OR state = ?2) ORDER BY id DESC LIMIT ?3",
	[STMT_BUILDS_RECENT] =
	    "SELECT id FROM builds WHERE finished_at IS NOT NULL "
	    "ORDER BY finished_at DESC, id DESC LIMIT ?",
	[STMT_BUILDS_OPEN] =
	    "SELECT id FROM builds WHERE state IN ('fetching', 'running') "
	    "ORDER BY id",
	[STMT_PROJECTS_LIST] =
	    "SELECT repo, state, created_at, updated_at FROM projects "
	    "ORDER BY repo",
	[STMT_PROJECT_GET] =
	    "SELECT repo, state, created_at, updated_at FROM projects "
	    "WHERE repo = ?",
	[STMT_PROJECT_SET_STATE] =
	    "UPDATE projects SET state = ?, updated_at = ? WHERE repo = ?",
	[STMT_POOL_SET_CAP] =
	    "INSERT INTO pools (name, cap) VALUES (?1, ?2) "
	    "ON CONFLICT (name) DO UPDATE SET cap = ?2",
	[STMT_AUDIT_INSERT] =
	    "INSERT INTO audit (time, who, cmd, args, ok, result) "
	    "VALUES (?, ?, ?, ?, ?, ?)",
	[STMT_AUDIT_LIST] =
	    "SELECT id, time, who, cmd, args, ok, result FROM audit "
	    "ORDER BY id DESC LIMIT ?",
	[STMT_REPORTS_BACKLOG] =
	    "SELECT COUNT(*), MIN(next_at) FROM reports "
	    "WHERE posted_state IS NOT state",
	[STMT_DELIVERIES_COUNT] =
	    "SELECT event, state, COUNT(*) FROM deliveries "
	    "GROUP BY event, state ORDER BY event, state",
	[STMT_BUILDS_COUNT] =
	    "SELECT state, NULL, COUNT(*) FROM builds GROUP BY state",
	[STMT_TASKS_COUNT] =
	    "SELECT state, NULL, COUNT(*) FROM tasks GROUP BY state",
	[STMT_BUILD_NEWER] =
	    "SELECT id FROM builds WHERE project = ?1 AND id > ?2 "
	    "AND COALESCE(pr, 0) = ?3 AND (?3 != 0 OR (pr IS NULL AND "
	    "event = ?4 AND ref IS ?5)) ORDER BY id DESC LIMIT 1",
	[STMT_VARS_LIST] =
	    "SELECT scope, name, value, secret, set_by, set_at "
	    "FROM variables ORDER BY scope, secret, name",
	[STMT_VAR_SET] =
	    "INSERT INTO variables (scope, name, value, secret, set_by, "
	    "set_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, name) "
	    "DO UPDATE SET value = excluded.value, secret = excluded.secret, "
	    "set_by = excluded.set_by, set_at = excluded.set_at",
	[STMT_VAR_UNSET] =
	    "DELETE FROM variables WHERE scope = ? AND name = ?",
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

	/* 1 -> 2: builds, their tasks, and the pools' instances. */
	"CREATE TABLE builds ("
	"  id INTEGER PRIMARY KEY,"
	"  change_id INTEGER REFERENCES changes (id),"
	"  project TEXT NOT NULL,"
	"  clone_url TEXT,"
	"  event TEXT NOT NULL,"
	"  ref TEXT,"
	"  pr INTEGER,"
	"  sha TEXT NOT NULL,"
	"  fork INTEGER NOT NULL DEFAULT 0,"
	"  state TEXT NOT NULL CHECK (state IN ('fetching', 'running',"
	"    'passed', 'failed', 'errored', 'cancelled')),"
	"  phase INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  started_at INTEGER,"
	"  finished_at INTEGER"
	");"
	"CREATE INDEX builds_state ON builds (state);"
	"CREATE INDEX builds_project ON builds (project, id);"
	"CREATE TABLE tasks ("
	"  id INTEGER PRIMARY KEY,"
	"  build_id INTEGER NOT NULL REFERENCES builds (id),"
	"  phase INTEGER NOT NULL,"
	"  phase_name TEXT NOT NULL,"
	"  slug TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  image TEXT,"
	"  run TEXT,"
	"  profile TEXT NOT NULL,"
	"  critical INTEGER NOT NULL,"
	"  timeout_ms INTEGER NOT NULL DEFAULT 0,"
	"  environment TEXT NOT NULL DEFAULT '{}',"
	"  state TEXT NOT NULL CHECK (state IN ('waiting', 'queued', 'running',"
	"    'passed', 'failed', 'errored', 'cancelled', 'skipped')),"
	"  exit_status INTEGER,"
	"  reason TEXT,"
	"  attempt INTEGER NOT NULL DEFAULT 1,"
	"  infra_retry INTEGER NOT NULL DEFAULT 0,"
	"  instance TEXT,"
	"  pid INTEGER,"
	"  queued_at INTEGER,"
	"  started_at INTEGER,"
	"  finished_at INTEGER,"
	"  UNIQUE (build_id, slug)"
	");"
	"CREATE INDEX tasks_state ON tasks (state);"
	"CREATE TABLE instances ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  pool TEXT NOT NULL,"
	"  driver TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('requested', 'booting', 'ready',"
	"    'draining', 'terminating', 'terminated', 'lost')),"
	"  slots INTEGER NOT NULL,"
	"  reason TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  ready_at INTEGER,"
	"  ended_at INTEGER"
	");"
	"CREATE TABLE pools ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  cap INTEGER"
	");",

	/*
	 * 2 -> 3: GitHub. Changes of a project not yet approved are held;
	 * builds know who asked for them and whether an admin must approve
	 * them first; every status and check run GitHub should have is a
	 * report, posted until what GitHub has is what we want.
	 */
	"ALTER TABLE changes ADD COLUMN held INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE changes ADD COLUMN installation INTEGER;"
	"ALTER TABLE changes ADD COLUMN default_branch TEXT;"
	"CREATE INDEX changes_held ON changes (repo) WHERE held = 1;"
	"ALTER TABLE builds ADD COLUMN sender TEXT;"
	"ALTER TABLE builds ADD COLUMN installation INTEGER;"
	"ALTER TABLE builds ADD COLUMN approval TEXT"
	"  CHECK (approval IN ('required', 'approved'));"
	"CREATE TABLE reports ("
	"  id INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('status', 'check')),"
	"  repo TEXT NOT NULL,"
	"  sha TEXT NOT NULL,"
	"  context TEXT NOT NULL,"
	"  build_id INTEGER,"
	"  installation INTEGER,"
	"  state TEXT NOT NULL,"
	"  description TEXT NOT NULL DEFAULT '',"
	"  target_url TEXT,"
	"  summary TEXT,"
	"  posted_state TEXT,"
	"  remote_id INTEGER,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_at INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT,"
	"  updated_at INTEGER NOT NULL,"
	"  UNIQUE (kind, repo, sha, context)"
	");"
	"CREATE INDEX reports_due ON reports (next_at) "
	"  WHERE posted_state IS NOT state;",

	/* 3 -> 4: who did what through the control socket. */
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  who TEXT NOT NULL,"
	"  cmd TEXT NOT NULL,"
	"  args TEXT NOT NULL,"
	"  ok INTEGER NOT NULL,"
	"  result TEXT"
	");"
	"CREATE INDEX builds_finished ON builds (finished_at) "
	"  WHERE finished_at IS NOT NULL;",

	/* 4 -> 5: /metrics counts deliveries without reading them all. */
	"CREATE INDEX deliveries_event_state ON deliveries (event, state);",

	/* 5 -> 6: a build an operator retried names the one it repeats. */
	"ALTER TABLE builds ADD COLUMN retry_of INTEGER"
	"  REFERENCES builds (id);",

	/*
	 * 6 -> 7: variables and secrets an admin sets through the control
	 * socket; scope is '' for every project, else owner/name.
	 */
	"CREATE TABLE variables ("
	"  scope TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  secret INTEGER NOT NULL,"
	"  set_by TEXT NOT NULL,"
	"  set_at INTEGER NOT NULL,"
	"  PRIMARY KEY (scope, name)"
	");",

	/*
	 * 7 -> 8: what a task's machine time cost (micro-dollars), and a
	 * task retried after a spot interruption waits for on-demand.
	 */
	"ALTER TABLE tasks ADD COLUMN cost INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tasks ADD COLUMN on_demand INTEGER NOT NULL DEFAULT 0;",
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

static void
db_bind_opt_int(sqlite3_stmt *st, int col, int64_t v, int present)
{
	if (present)
		sqlite3_bind_int64(st, col, v);
	else
		sqlite3_bind_null(st, col);
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
	db_bind_opt_int(st, 17, c->installation, c->installation != 0);
	db_bind_text(st, 18, c->default_branch);
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

static char *
db_col_dup(sqlite3_stmt *st, int col)
{
	const char	*s = (const char *)sqlite3_column_text(st, col);

	return (s != NULL ? xstrdup(s) : NULL);
}

void
change_row_free(struct change_row *c)
{
	if (c == NULL)
		return;
	free(c->delivery_id);
	free(c->event);
	free(c->repo);
	free(c->clone_url);
	free(c->ref_type);
	free(c->ref);
	free(c->sha);
	free(c->action);
	free(c->sender);
	free(c->default_branch);
	free(c->base_ref);
	free(c);
}

/* Queued changes, oldest first, collected before cb sees any. */
int
db_changes_queued(struct db *db, db_change_cb cb, void *arg)
{
	sqlite3_stmt		*st = db->stmts[STMT_CHANGES_QUEUED];
	struct change_row	**rows = NULL, *c;
	size_t			 n = 0, i;
	int			 rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		c = xcalloc(1, sizeof *c);
		c->id = sqlite3_column_int64(st, 0);
		c->delivery_id = db_col_dup(st, 1);
		c->event = db_col_dup(st, 2);
		c->repo = db_col_dup(st, 3);
		c->clone_url = db_col_dup(st, 4);
		c->ref_type = db_col_dup(st, 5);
		c->ref = db_col_dup(st, 6);
		c->sha = db_col_dup(st, 7);
		c->pr = sqlite3_column_int64(st, 8);
		c->action = db_col_dup(st, 9);
		c->fork = sqlite3_column_int(st, 10);
		c->deleted = sqlite3_column_int(st, 11);
		c->sender = db_col_dup(st, 12);
		c->installation = sqlite3_column_int64(st, 13);
		c->default_branch = db_col_dup(st, 14);
		c->base_ref = db_col_dup(st, 15);
		rows = xreallocarray(rows, n + 1, sizeof *rows);
		rows[n++] = c;
	}
	sqlite3_reset(st);
	for (i = 0; i < n; i++)
		cb(rows[i], arg);
	free(rows);
	if (rc != SQLITE_DONE)
		return (db_fail(db, "reading queued changes"));
	return (0);
}

int
db_change_done(struct db *db, int64_t id, const char *state,
    const char *reason)
{
	sqlite3_stmt	*st = db->stmts[STMT_CHANGE_DONE];

	db_bind_text(st, 1, state);
	db_bind_text(st, 2, reason);
	sqlite3_bind_int64(st, 3, id);
	return (db_step_done(db, st, "marking change done"));
}

/* Step a bound one-column query: its text (the caller's), or NULL. */
static char *
db_step_text(sqlite3_stmt *st)
{
	char	*text = NULL;

	if (sqlite3_step(st) == SQLITE_ROW)
		text = db_col_dup(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return (text);
}

/* A project's state (the caller's to free), or NULL if unknown. */
char *
db_project_state(struct db *db, const char *repo)
{
	sqlite3_stmt	*st = db->stmts[STMT_PROJECT_STATE];

	db_bind_text(st, 1, repo);
	return (db_step_text(st));
}

int
db_build_insert(struct db *db, struct build *b)
{
	sqlite3_stmt	*st = db->stmts[STMT_BUILD_INSERT];

	db_bind_opt_int(st, 1, b->change_id, b->change_id != 0);
	db_bind_text(st, 2, b->project);
	db_bind_text(st, 3, b->clone_url);
	db_bind_text(st, 4, b->event);
	db_bind_text(st, 5, b->ref);
	db_bind_opt_int(st, 6, b->pr, b->pr != 0);
	db_bind_text(st, 7, b->sha);
	sqlite3_bind_int(st, 8, b->fork);
	db_bind_text(st, 9, build_state_name(b->state));
	sqlite3_bind_int(st, 10, b->phase);
	db_bind_text(st, 11, b->reason);
	sqlite3_bind_int64(st, 12, b->created_at);
	db_bind_text(st, 13, b->sender);
	db_bind_opt_int(st, 14, b->installation, b->installation != 0);
	db_bind_text(st, 15, b->approval);
	db_bind_opt_int(st, 16, b->retry_of, b->retry_of != 0);
	if (db_step_done(db, st, "storing build") != 0)
		return (-1);
	b->id = sqlite3_last_insert_rowid(db->conn);
	return (0);
}

int
db_build_update(struct db *db, const struct build *b)
{
	sqlite3_stmt	*st = db->stmts[STMT_BUILD_UPDATE];

	db_bind_text(st, 1, build_state_name(b->state));
	sqlite3_bind_int(st, 2, b->phase);
	db_bind_text(st, 3, b->reason);
	db_bind_opt_int(st, 4, b->started_at, b->started_at != 0);
	db_bind_opt_int(st, 5, b->finished_at, b->finished_at != 0);
	db_bind_text(st, 6, b->approval);
	sqlite3_bind_int64(st, 7, b->id);
	return (db_step_done(db, st, "updating build"));
}

int
db_task_insert(struct db *db, struct task *t)
{
	sqlite3_stmt	*st = db->stmts[STMT_TASK_INSERT];

	sqlite3_bind_int64(st, 1, t->build->id);
	sqlite3_bind_int(st, 2, t->phase);
	db_bind_text(st, 3, t->phase_name);
	db_bind_text(st, 4, t->slug);
	db_bind_text(st, 5, t->name);
	db_bind_text(st, 6, t->image);
	db_bind_text(st, 7, t->run);
	db_bind_text(st, 8, t->profile);
	sqlite3_bind_int(st, 9, t->critical);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)t->timeout_ms);
	db_bind_text(st, 11, t->environment);
	db_bind_text(st, 12, task_state_name(t->state));
	if (db_step_done(db, st, "storing task") != 0)
		return (-1);
	t->id = sqlite3_last_insert_rowid(db->conn);
	return (0);
}

int
db_task_update(struct db *db, const struct task *t)
{
	sqlite3_stmt	*st = db->stmts[STMT_TASK_UPDATE];

	db_bind_text(st, 1, task_state_name(t->state));
	db_bind_opt_int(st, 2, t->exit_status, t->exit_status >= 0);
	db_bind_text(st, 3, t->reason);
	sqlite3_bind_int(st, 4, t->attempt);
	sqlite3_bind_int(st, 5, t->infra_retry);
	db_bind_text(st, 6, t->instance_id);
	db_bind_opt_int(st, 7, t->pid, t->pid > 0);
	db_bind_opt_int(st, 8, t->queued_at, t->queued_at != 0);
	db_bind_opt_int(st, 9, t->started_at, t->started_at != 0);
	db_bind_opt_int(st, 10, t->finished_at, t->finished_at != 0);
	sqlite3_bind_int64(st, 11, t->cost);
	sqlite3_bind_int(st, 12, t->on_demand);
	sqlite3_bind_int64(st, 13, t->id);
	return (db_step_done(db, st, "updating task"));
}

static struct build *
db_build_row(sqlite3_stmt *st)
{
	struct build	*b;
	const char	*state;

	b = xcalloc(1, sizeof *b);
	b->id = sqlite3_column_int64(st, 0);
	b->change_id = sqlite3_column_int64(st, 1);
	b->project = db_col_dup(st, 2);
	b->clone_url = db_col_dup(st, 3);
	b->event = db_col_dup(st, 4);
	b->ref = db_col_dup(st, 5);
	b->pr = sqlite3_column_int64(st, 6);
	b->sha = db_col_dup(st, 7);
	b->fork = sqlite3_column_int(st, 8);
	state = (const char *)sqlite3_column_text(st, 9);
	if (state == NULL || build_state_parse(state, &b->state) != 0)
		b->state = BUILD_ERRORED;
	b->phase = sqlite3_column_int(st, 10);
	b->reason = db_col_dup(st, 11);
	b->created_at = sqlite3_column_int64(st, 12);
	b->started_at = sqlite3_column_int64(st, 13);
	b->finished_at = sqlite3_column_int64(st, 14);
	b->sender = db_col_dup(st, 15);
	b->installation = sqlite3_column_int64(st, 16);
	b->approval = db_col_dup(st, 17);
	b->retry_of = sqlite3_column_int64(st, 18);
	return (b);
}

static int
db_build_tasks(struct db *db, struct build *b)
{
	sqlite3_stmt	*st = db->stmts[STMT_TASKS_OF];
	struct task	*t;
	const char	*state;
	int		 rc;

	sqlite3_bind_int64(st, 1, b->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		t = xcalloc(1, sizeof *t);
		t->build = b;
		t->id = sqlite3_column_int64(st, 0);
		t->phase = sqlite3_column_int(st, 1);
		t->phase_name = db_col_dup(st, 2);
		t->slug = db_col_dup(st, 3);
		t->name = db_col_dup(st, 4);
		t->image = db_col_dup(st, 5);
		t->run = db_col_dup(st, 6);
		t->profile = db_col_dup(st, 7);
		t->critical = sqlite3_column_int(st, 8);
		t->timeout_ms = sqlite3_column_int64(st, 9);
		t->environment = db_col_dup(st, 10);
		state = (const char *)sqlite3_column_text(st, 11);
		if (state == NULL || task_state_parse(state, &t->state) != 0)
			t->state = TASK_ERRORED;
		t->exit_status = sqlite3_column_type(st, 12) == SQLITE_NULL ?
		    -1 : sqlite3_column_int(st, 12);
		t->reason = db_col_dup(st, 13);
		t->attempt = sqlite3_column_int(st, 14);
		t->infra_retry = sqlite3_column_int(st, 15);
		t->instance_id = db_col_dup(st, 16);
		t->pid = sqlite3_column_int64(st, 17);
		t->queued_at = sqlite3_column_int64(st, 18);
		t->started_at = sqlite3_column_int64(st, 19);
		t->finished_at = sqlite3_column_int64(st, 20);
		t->cost = sqlite3_column_int64(st, 21);
		t->on_demand = sqlite3_column_int(st, 22);
		b->tasks = xreallocarray(b->tasks, b->ntasks + 1,
		    sizeof *b->tasks);
		b->tasks[b->ntasks++] = t;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return (db_fail(db, "reading tasks"));
	return (0);
}

/* Every build not yet finished, with its tasks, for the engine at start. */
int
db_builds_active(struct db *db, db_build_cb cb, void *arg)
{
	sqlite3_stmt	*st = db->stmts[STMT_BUILDS_ACTIVE];
	struct build	**list = NULL;
	size_t		 n = 0, i;
	int		 rc, rv = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		list = xreallocarray(list, n + 1, sizeof *list);
		list[n++] = db_build_row(st);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		rv = db_fail(db, "reading active builds");
	for (i = 0; i < n; i++) {
		if (rv == 0 && db_build_tasks(db, list[i]) != 0)
			rv = -1;
		if (rv == 0)
			cb(list[i], arg);
		else
			build_free(list[i]);
	}
	free(list);
	return (rv);
}

/* One build with its tasks (the caller frees it), or NULL. */
struct build *
db_build_get(struct db *db, int64_t id)
{
	sqlite3_stmt	*st = db->stmts[STMT_BUILD_GET];
	struct build	*b = NULL;

	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		b = db_build_row(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (b != NULL && db_build_tasks(db, b) != 0) {
		build_free(b);
		return (NULL);
	}
	return (b);
}

int
db_instance_save(struct db *db, const char *id, const char *pool,
    const char *driver, const char *state, u_int slots, const char *reason,
    int64_t now)
{
	sqlite3_stmt	*st = db->stmts[STMT_INSTANCE_SAVE];

	db_bind_text(st, 1, id);
	db_bind_text(st, 2, pool);
	db_bind_text(st, 3, driver);
	db_bind_text(st, 4, state);
	sqlite3_bind_int(st, 5, slots);
	db_bind_text(st, 6, reason);
	sqlite3_bind_int64(st, 7, now);
	return (db_step_done(db, st, "storing instance"));
}

/* Local instances do not outlive the daemon: end the last run's. */
int
db_instances_end_all(struct db *db, const char *driver, int64_t now)
{
	sqlite3_stmt	*st = db->stmts[STMT_INSTANCES_END];

	sqlite3_bind_int64(st, 1, now);
	db_bind_text(st, 2, driver);
	return (db_step_done(db, st, "ending instances"));
}

/*
 * The state of a project's last finished build (of branch ref if given,
 * pull requests aside), the caller's to free, or NULL if it has none.
 */
char *
db_build_latest(struct db *db, const char *project, const char *ref)
{
	sqlite3_stmt	*st = db->stmts[STMT_BUILD_LATEST];

	db_bind_text(st, 1, project);
	db_bind_text(st, 2, ref);
	return (db_step_text(st));
}

/*
 * The newest build after b of the same pull request (or, for a push or
 * tag, of the same event and ref): its id, 0 if there is none, -1 on a
 * store error.
 */
int64_t
db_build_newer(struct db *db, const struct build *b)
{
	sqlite3_stmt	*st = db->stmts[STMT_BUILD_NEWER];
	int64_t		 id = 0;
	int		 rc;

	db_bind_text(st, 1, b->project);
	sqlite3_bind_int64(st, 2, b->id);
	sqlite3_bind_int64(st, 3, b->pr);
	db_bind_text(st, 4, b->event);
	db_bind_text(st, 5, b->ref);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return (db_fail(db, "looking for a newer build"));
	return (id);
}

/*
 * Every stored variable and secret, to cb, in the order of scope, then
 * variables before secrets, then name; -1 on a store error.
 */
int
db_vars_list(struct db *db, db_var_cb cb, void *arg)
{
	sqlite3_stmt	*st = db->stmts[STMT_VARS_LIST];
	int		 rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cb((const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1),
		    (const char *)sqlite3_column_text(st, 2),
		    sqlite3_column_bytes(st, 2), sqlite3_column_int(st, 3),
		    (const char *)sqlite3_column_text(st, 4),
		    sqlite3_column_int64(st, 5), arg);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return (db_fail(db, "reading variables"));
	return (0);
}

/* Store a variable or secret (scope "" is every project); 0 or -1. */
int
db_var_set(struct db *db, const char *scope, const char *name,
    const char *value, size_t len, int secret, const char *who, int64_t now)
{
	sqlite3_stmt	*st = db->stmts[STMT_VAR_SET];

	db_bind_text(st, 1, scope);
	db_bind_text(st, 2, name);
	sqlite3_bind_text(st, 3, value, len, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, secret);
	db_bind_text(st, 5, who);
	sqlite3_bind_int64(st, 6, now);
	return (db_step_done(db, st, "storing a variable"));
}

/* Forget a variable or secret; 0 or -1. */
int
db_var_unset(struct db *db, const char *scope, const char *name)
{
	sqlite3_stmt	*st = db->stmts[STMT_VAR_UNSET];

	db_bind_text(st, 1, scope);
	db_bind_text(st, 2, name);
	return (db_step_done(db, st, "removing a variable"));
}

/* The operator's cap on a pool's instances, or -1 if there is none. */
int
db_pool_cap(struct db *db, const char *pool)
{
	sqlite3_stmt	*st = db->stmts[STMT_POOL_CAP];
	int		 cap = -1;

	db_bind_text(st, 1, pool);
	if (sqlite3_step(st) == SQLITE_ROW)
		cap = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return (cap < 0 ? -1 : cap);
}

/*
 * A change of a project that is not approved: kept, marked held, so that
 * approving the project can build it.
 */
int
db_change_hold(struct db *db, int64_t id, const char *reason)
{
	sqlite3_stmt	*st = db->stmts[STMT_CHANGE_HOLD];

	db_bind_text(st, 1, reason);
	sqlite3_bind_int64(st, 2, id);
	return (db_step_done(db, st, "holding change"));
}

/*
 * Approve a project (registering it if unknown) and queue its newest held
 * change; the older held ones say why they were not built. Returns 1 if
 * the project was not approved before, 0 if it was, -1 on error.
 */
int
db_project_approve(struct db *db, const char *repo, int64_t now)
{
	sqlite3_stmt	*st = db->stmts[STMT_PROJECT_APPROVE];
	int		 changed;

	db_bind_text(st, 1, repo);
	sqlite3_bind_int64(st, 2, now);
	if (db_step_done(db, st, "approving project") != 0)
		return (-1);
	changed = sqlite3_changes(db->conn) > 0;
	st = db->stmts[STMT_CHANGES_RELEASE];
	db_bind_text(st, 1, repo);
	if (db_step_done(db, st, "releasing held change") != 0)
		return (-1);
	st = db->stmts[STMT_CHANGES_UNHOLD];
	db_bind_text(st, 1, repo);
	if (db_step_done(db, st, "releasing held changes") != 0)
		return (-1);
	return (changed);
}

void
report_row_free(struct report_row *r)
{
	if (r == NULL)
		return;
	free(r->kind);
	free(r->repo);
	free(r->sha);
	free(r->context);
	free(r->state);
	free(r->description);
	free(r->target_url);
	free(r->summary);
	free(r->posted_state);
	free(r);
}

/* Record what GitHub should show; the reporter posts it when it differs. */
int
db_report_want(struct db *db, const struct report_row *r, int64_t now)
{
	sqlite3_stmt	*st = db->stmts[STMT_REPORT_WANT];

	db_bind_text(st, 1, r->kind);
	db_bind_text(st, 2, r->repo);
	db_bind_text(st, 3, r->sha);
	db_bind_text(st, 4, r->context);
	db_bind_opt_int(st, 5, r->build_id, r->build_id != 0);
	db_bind_opt_int(st, 6, r->installation, r->installation != 0);
	db_bind_text(st, 7, r->state);
	db_bind_text(st, 8, r->description != NULL ? r->description : "");
	db_bind_text(st, 9, r->target_url);
	db_bind_text(st, 10, r->summary);
	sqlite3_bind_int64(st, 11, now);
	sqlite3_bind_int(st, 12, r->repost);
	return (db_step_done(db, st, "storing report"));
}

/* Reports GitHub does not have yet and that are due, oldest first. */
int
db_reports_due(struct db *db, int64_t now, u_int limit, db_report_cb cb,
    void *arg)
{
	sqlite3_stmt		*st = db->stmts[STMT_REPORTS_DUE];
	struct report_row	**rows = NULL, *r;
	size_t			 n = 0, i;
	int			 rc;

	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = xcalloc(1, sizeof *r);
		r->id = sqlite3_column_int64(st, 0);
		r->kind = db_col_dup(st, 1);
		r->repo = db_col_dup(st, 2);
		r->sha = db_col_dup(st, 3);
		r->context = db_col_dup(st, 4);
		r->build_id = sqlite3_column_int64(st, 5);
		r->installation = sqlite3_column_int64(st, 6);
		r->state = db_col_dup(st, 7);
		r->description = db_col_dup(st, 8);
		r->target_url = db_col_dup(st, 9);
		r->summary = db_col_dup(st, 10);
		r->posted_state = db_col_dup(st, 11);
		r->remote_id = sqlite3_column_int64(st, 12);
		r->attempts = sqlite3_column_int(st, 13);
		rows = xreallocarray(rows, n + 1, sizeof *rows);
		rows[n++] = r;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	for (i = 0; i < n; i++)
		cb(rows[i], arg);
	free(rows);
	if (rc != SQLITE_DONE)
		return (db_fail(db, "reading due reports"));
	return (0);
}

/*
 * GitHub has state now (or the report was given up, error says why); a
 * check run's id is kept for its updates.
 */
int
db_report_posted(struct db *db, int64_t id, const char *state,
    int64_t remote_id, const char *error)
{
	sqlite3_stmt	*st = db->stmts[STMT_REPORT_POSTED];

	db_bind_text(st, 1, state);
	db_bind_opt_int(st, 2, remote_id, remote_id != 0);
	db_bind_text(st, 3, error);
	sqlite3_bind_int64(st, 4, id);
	return (db_step_done(db, st, "marking report posted"));
}

int
db_report_retry(struct db *db, int64_t id, int64_t next_at,
    const char *error)
{
	sqlite3_stmt	*st = db->stmts[STMT_REPORT_RETRY];

	sqlite3_bind_int64(st, 1, next_at);
	db_bind_text(st, 2, error);
	sqlite3_bind_int64(st, 3, id);
	return (db_step_done(db, st, "deferring report"));
}

/* How many reports GitHub does not have yet, and when the first is due. */
int
db_reports_backlog(struct db *db, int64_t *count, int64_t *next_at)
{
	sqlite3_stmt	*st = db->stmts[STMT_REPORTS_BACKLOG];
	int		 rc;

	*count = 0;
	*next_at = 0;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*count = sqlite3_column_int64(st, 0);
		*next_at = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return (db_fail(db, "counting reports"));
	return (0);
}

/* Call cb with each id the statement gives (one integer column). */
static int
db_ids(struct db *db, sqlite3_stmt *st, void (*cb)(int64_t, void *),
    void *arg, const char *what)
{
	int64_t	*ids = NULL;
	size_t	 n = 0, i;
	int	 rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ids = xreallocarray(ids, n + 1, sizeof *ids);
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	for (i = 0; i < n; i++)
		cb(ids[i], arg);
	free(ids);
	if (rc != SQLITE_DONE)
		return (db_fail(db, what));
	return (0);
}

/* Builds, newest first, of project and in state if given. */
int
db_builds_list(struct db *db, const char *project, const char *state,
    u_int limit, void (*cb)(int64_t, void *), void *arg)
{
	sqlite3_stmt	*st = db->stmts[STMT_BUILDS_LIST];

	db_bind_text(st, 1, project);
	db_bind_text(st, 2, state);
	sqlite3_bind_int(st, 3, limit);
	return (db_ids(db, st, cb, arg, "listing builds"));
}

/* The builds that finished last, the last first. */
int
db_builds_recent(struct db *db, u_int limit, void (*cb)(int64_t, void *),
    void *arg)
{
	sqlite3_stmt	*st = db->stmts[STMT_BUILDS_RECENT];

	sqlite3_bind_int(st, 1, limit);
	return (db_ids(db, st, cb, arg, "listing finished builds"));
}

/* The builds not finished, oldest first. */
int
db_builds_open(struct db *db, void (*cb)(int64_t, void *), void *arg)
{
	return (db_ids(db, db->stmts[STMT_BUILDS_OPEN], cb, arg,
	    "listing open builds"));
}

static json_t *
db_project_row(sqlite3_stmt *st)
{
	return (json_pack("{s:s, s:s, s:I, s:I}",
	    "repo", (const char *)sqlite3_column_text(st, 0),
	    "state", (const char *)sqlite3_column_text(st, 1),
	    "created_at", (json_int_t)sqlite3_column_int64(st, 2),
	    "updated_at", (json_int_t)sqlite3_column_int64(st, 3)));
}

/* One project as a JSON object, as db_projects_json has it, or NULL. */
json_t *
db_project_json(struct db *db, const char *repo)
{
	sqlite3_stmt	*st = db->stmts[STMT_PROJECT_GET];
	json_t		*o = NULL;

	db_bind_text(st, 1, repo);
	if (sqlite3_step(st) == SQLITE_ROW)
		o = db_project_row(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return (o);
}

/* Every project as JSON objects {repo, state, created_at, updated_at}. */
json_t *
db_projects_json(struct db *db)
{
	sqlite3_stmt	*st = db->stmts[STMT_PROJECTS_LIST];
	json_t		*a = json_array();
	int		 rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(a, db_project_row(st));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		db_fail(db, "listing projects");
		json_decref(a);
		return (NULL);
	}
	return (a);
}

/* Set a known project's state; returns 1 if it is known, 0 if not. */
int
db_project_set_state(struct db *db, const char *repo, const char *state,
    int64_t now)
{
	sqlite3_stmt	*st = db->stmts[STMT_PROJECT_SET_STATE];

	db_bind_text(st, 1, state);
	sqlite3_bind_int64(st, 2, now);
	db_bind_text(st, 3, repo);
	if (db_step_done(db, st, "setting project state") != 0)
		return (-1);
	return (sqlite3_changes(db->conn) > 0);
}

/* A pool's cap, or none when cap is -1. */
int
db_pool_set_cap(struct db *db, const char *pool, int cap)
{
	sqlite3_stmt	*st = db->stmts[STMT_POOL_SET_CAP];

	db_bind_text(st, 1, pool);
	db_bind_opt_int(st, 2, cap, cap >= 0);
	return (db_step_done(db, st, "setting pool cap"));
}

/* Store an audit record; returns its id, or -1. */
int64_t
db_audit_insert(struct db *db, int64_t time, const char *who,
    const char *cmd, const char *args, int ok, const char *result)
{
	sqlite3_stmt	*st = db->stmts[STMT_AUDIT_INSERT];

	sqlite3_bind_int64(st, 1, time);
	db_bind_text(st, 2, who);
	db_bind_text(st, 3, cmd);
	db_bind_text(st, 4, args);
	sqlite3_bind_int(st, 5, ok);
	db_bind_text(st, 6, result);
	if (db_step_done(db, st, "storing audit record") != 0)
		return (-1);
	return (sqlite3_last_insert_rowid(db->conn));
}

/* The newest audit records as JSON objects, newest first. */
json_t *
db_audit_json(struct db *db, u_int limit)
{
	sqlite3_stmt	*st = db->stmts[STMT_AUDIT_LIST];
	json_t		*a = json_array(), *args;
	const char	*result;
	int		 rc;

	sqlite3_bind_int(st, 1, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		args = json_loads((const char *)sqlite3_column_text(st, 4), 0,
		    NULL);
		result = (const char *)sqlite3_column_text(st, 6);
		json_array_append_new(a, json_pack("{s:I, s:I, s:s, s:s, s:o, "
		    "s:b, s:o}",
		    "id", (json_int_t)sqlite3_column_int64(st, 0),
		    "time", (json_int_t)sqlite3_column_int64(st, 1),
		    "who", (const char *)sqlite3_column_text(st, 2),
		    "cmd", (const char *)sqlite3_column_text(st, 3),
		    "args", args != NULL ? args : json_object(),
		    "ok", sqlite3_column_int(st, 5),
		    "result", result != NULL ? json_string(result) :
		    json_null()));
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		db_fail(db, "listing audit records");
		json_decref(a);
		return (NULL);
	}
	return (a);
}

/*
 * Call cb with each row of a counting statement: two text columns (the
 * second may be NULL) and a count. The strings are borrowed for the call,
 * which runs while the statement steps, so cb must not use the store.
 */
static int
db_counts(struct db *db, sqlite3_stmt *st, db_count_cb cb, void *arg,
    const char *what)
{
	int	 rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cb((const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1),
		    sqlite3_column_int64(st, 2), arg);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return (db_fail(db, what));
	return (0);
}

/* Deliveries by event and state: cb(event, state, count). */
int
db_deliveries_count(struct db *db, db_count_cb cb, void *arg)
{
	return (db_counts(db, db->stmts[STMT_DELIVERIES_COUNT], cb, arg,
	    "counting deliveries"));
}

/* Builds by state: cb(state, NULL, count), for the states that have some. */
int
db_builds_count(struct db *db, db_count_cb cb, void *arg)
{
	return (db_counts(db, db->stmts[STMT_BUILDS_COUNT], cb, arg,
	    "counting builds"));
}

/* Tasks by state, likewise. */
int
db_tasks_count(struct db *db, db_count_cb cb, void *arg)
{
	return (db_counts(db, db->stmts[STMT_TASKS_COUNT], cb, arg,
	    "counting tasks"));
}
