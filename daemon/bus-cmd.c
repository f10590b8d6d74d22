/*
 * The bus's control socket: requests in, replies out, as
 * beekeeper-protocol(7) describes them. One table of commands; each
 * takes the request's JSON object and returns the reply's members, or
 * NULL with a sentence a person can act on. Whatever a client sends, it
 * gets one reply and the daemon goes on: a malformed request is a
 * refusal, never a failure of the daemon. Every command that changes
 * state is stored in the audit log and published, accepted or not.
 *
 * Without CURVE, a request that carries the control key (bus-auth.c) is an
 * admin's and may act; any other is a viewer's and may only ask. With
 * CURVE the "key" member is ignored: the connection's User-Id, the name
 * the ZAP handler (bus-auth.c) gave its key, is looked up in the clients
 * table at each request, so a reload that removes a key or changes its
 * role applies to the next request of a connection already open; a
 * connection whose key is no longer in the table is refused everything.
 */

#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <zmq.h>

#include "daemon.h"
#include "proto.h"

#define BUS_LOG_MAX		(1024 * 1024)
#define BUS_ADMIN		"local"
#define BUS_VIEWER		"viewer"
#define BUS_FRAMES_MAX		4

/* Who sent a request: the name the audit log records, and the role. */
struct bus_client {
	const char	*name;
	int		 admin;
	int		 revoked;	/* CURVE: the key left the table */
};

struct bus_cmd {
	const char	*name;
	int		 mutating;
	json_t		*(*fn)(struct bus *, const struct bus_client *,
			    json_t *, char **);
	const char	*secret;	/* an argument never audited */
};

/* A string argument; returns -1 with *error if wrong or, when required,
 * missing. */
static int
arg_str(json_t *req, const char *name, int required, const char **v,
    char **error)
{
	json_t	*a = json_object_get(req, name);

	*v = NULL;
	if (a == NULL || json_is_null(a)) {
		if (required)
			xasprintf(error, "'%s' is missing", name);
		return (required ? -1 : 0);
	}
	if (!json_is_string(a)) {
		xasprintf(error, "'%s' must be a string", name);
		return (-1);
	}
	*v = json_string_value(a);
	return (0);
}

/* A whole-number argument from min to max (def when absent and def >= 0,
 * else required). */
static int
arg_int(json_t *req, const char *name, int64_t min, int64_t max,
    int64_t def, int64_t *v, char **error)
{
	json_t	*a = json_object_get(req, name);

	if (a == NULL || json_is_null(a)) {
		if (def >= 0) {
			*v = def;
			return (0);
		}
		xasprintf(error, "'%s' is missing", name);
		return (-1);
	}
	if (!json_is_integer(a) || json_integer_value(a) < min ||
	    json_integer_value(a) > max) {
		xasprintf(error, "'%s' must be a whole number from %lld to "
		    "%lld", name, (long long)min, (long long)max);
		return (-1);
	}
	*v = json_integer_value(a);
	return (0);
}

/*
 * Who sent req: with CURVE, the entry of the User-Id (user, borrowed)
 * in the clients table; else an admin with the control key, a viewer
 * without.
 */
static void
bus_client_of(struct bus *bus, json_t *req, const char *user,
    struct bus_client *who)
{
	const struct bus_key	*k;
	json_t			*key = json_object_get(req, "key");

	who->revoked = 0;
	if (bus_curve(bus)) {
		k = bus_keys_find(bus_config(bus)->bus_keys, NULL, user);
		who->name = k != NULL ? k->name : user != NULL && *user !=
		    '\0' ? user : BUS_VIEWER;
		who->admin = k != NULL && k->admin;
		who->revoked = k == NULL;
		return;
	}
	who->admin = json_is_string(key) && bus_is_admin(bus,
	    json_string_value(key));
	who->name = who->admin ? BUS_ADMIN : BUS_VIEWER;
}

/* Why who may not run c, or NULL if it may; the caller frees it. */
static char *
bus_refusal(struct bus *bus, const struct bus_cmd *c,
    const struct bus_client *who)
{
	const char	*file = bus_config(bus)->bus_clients_file;
	char		*error;

	if (who->revoked)
		xasprintf(&error, "the key named %s is no longer in the "
		    "clients file (%s): reconnect with a key that is",
		    who->name, file != NULL ? file : "bus.clients_file");
	else if (!c->mutating || who->admin)
		return (NULL);
	else if (bus_curve(bus))
		xasprintf(&error, "only an admin may %s: the key named %s is a "
		    "viewer; to make it an admin, change its role to admin in "
		    "%s and send beekeeperd SIGHUP", c->name, who->name,
		    file != NULL ? file : "bus.clients_file");
	else
		xasprintf(&error, "only an admin may %s: send the control key "
		    "(the file control.key in the daemon's state_dir) as "
		    "\"key\"", c->name);
	return (error);
}

static json_t *
cmd_hello(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	const char	*name;

	if (arg_str(req, "name", 0, &name, error) != 0)
		return (NULL);
	/* With CURVE the name is the key's, whatever the client says. */
	if (bus_curve(bus))
		name = NULL;
	return (json_pack("{s:i, s:s, s:s, s:s, s:I, s:I}",
	    "protocol", BEEKEEPER_PROTOCOL,
	    "publish", bus_publish_endpoint(bus),
	    "name", name != NULL ? name : who->name,
	    "role", who->admin ? "admin" : "viewer",
	    "seq", (json_int_t)bus_seq(bus),
	    "start", (json_int_t)bus_start(bus)));
}

struct build_list {
	struct bus	*bus;
	json_t		*builds;
	json_t		*tasks;		/* NULL: builds only */
};

static void
build_list_add(int64_t id, void *arg)
{
	struct build_list	*bl = arg;
	struct build		*b;
	size_t			 i;

	if ((b = db_build_get(bus_db(bl->bus), id)) == NULL)
		return;
	json_array_append_new(bl->builds, bus_build_json(b));
	for (i = 0; bl->tasks != NULL && i < b->ntasks; i++)
		json_array_append_new(bl->tasks, bus_task_json(b->tasks[i]));
	build_free(b);
}

static json_t *
cmd_snapshot(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	struct build_list	 bl;
	json_t			*reply, *instances, *pools, *projects;

	(void)req;
	if ((projects = db_projects_json(bus_db(bus))) == NULL) {
		xasprintf(error, "the store failed: %s",
		    db_error(bus_db(bus)));
		return (NULL);
	}
	bl.bus = bus;
	bl.builds = json_array();
	bl.tasks = json_array();
	bus_snapshot_builds(bus, build_list_add, &bl);
	pools = pools_json(engine_pools(bus_engine(bus)), &instances);
	reply = json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "seq", (json_int_t)bus_seq(bus),
	    "start", (json_int_t)bus_start(bus), "builds", bl.builds,
	    "tasks", bl.tasks, "pools", pools, "instances", instances,
	    "projects", projects, "github", bus_github(bus));
	return (reply);
}

static json_t *
cmd_builds(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	struct build_list	 bl;
	const char		*project, *state;
	enum build_state	 s;
	int64_t			 limit;

	if (arg_str(req, "project", 0, &project, error) != 0 ||
	    arg_str(req, "state", 0, &state, error) != 0 ||
	    arg_int(req, "limit", 1, 1000, 50, &limit, error) != 0)
		return (NULL);
	if (state != NULL && build_state_parse(state, &s) != 0) {
		xasprintf(error, "no build state '%s' (fetching, running, "
		    "passed, failed, errored, cancelled)", state);
		return (NULL);
	}
	bl.bus = bus;
	bl.builds = json_array();
	bl.tasks = NULL;
	db_builds_list(bus_db(bus), project, state, limit, build_list_add,
	    &bl);
	return (json_pack("{s:o}", "builds", bl.builds));
}

static json_t *
cmd_build(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	struct build	*b;
	json_t		*tasks, *reply;
	int64_t		 id;
	size_t		 i;

	if (arg_int(req, "build", 1, INT64_MAX, -1, &id, error) != 0)
		return (NULL);
	if ((b = db_build_get(bus_db(bus), id)) == NULL) {
		xasprintf(error, "no build %lld", (long long)id);
		return (NULL);
	}
	tasks = json_array();
	for (i = 0; i < b->ntasks; i++)
		json_array_append_new(tasks, bus_task_json(b->tasks[i]));
	reply = json_pack("{s:o, s:o}", "build", bus_build_json(b),
	    "tasks", tasks);
	build_free(b);
	return (reply);
}

static json_t *
cmd_pools(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	json_t	*instances, *pools;

	(void)req;
	(void)error;
	pools = pools_json(engine_pools(bus_engine(bus)), &instances);
	json_decref(instances);
	return (json_pack("{s:o}", "pools", pools));
}

static json_t *
cmd_instances(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	json_t	*instances, *pools;

	(void)req;
	(void)error;
	pools = pools_json(engine_pools(bus_engine(bus)), &instances);
	json_decref(pools);
	return (json_pack("{s:o}", "instances", instances));
}

static json_t *
cmd_projects(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	json_t	*projects;

	(void)req;
	if ((projects = db_projects_json(bus_db(bus))) == NULL) {
		xasprintf(error, "the store failed: %s",
		    db_error(bus_db(bus)));
		return (NULL);
	}
	return (json_pack("{s:o}", "projects", projects));
}

/* Text as JSON can hold it: bytes that are not UTF-8 become U+FFFD. */
static json_t *
bus_text(const unsigned char *p, size_t len)
{
	struct buf	 b;
	size_t		 i = 0, n, k;
	unsigned int	 c;
	json_t		*s;
	char		*text;

	buf_init(&b, 0);
	while (i < len) {
		c = p[i];
		n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 :
		    (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		for (k = 1; n > 1 && k < n; k++) {
			if (i + k >= len || (p[i + k] & 0xc0) != 0x80)
				break;
		}
		if (n == 0 || k < n || c == 0 || (n == 2 && c < 0xc2) ||
		    (n == 3 && c == 0xe0 && p[i + 1] < 0xa0) ||
		    (n == 3 && c == 0xed && p[i + 1] >= 0xa0) ||
		    (n == 4 && (c > 0xf4 || (c == 0xf0 && p[i + 1] < 0x90) ||
		    (c == 0xf4 && p[i + 1] >= 0x90)))) {
			buf_add(&b, "\xef\xbf\xbd", 3);
			i++;
			continue;
		}
		buf_add(&b, p + i, n);
		i += n;
	}
	text = buf_detach(&b, &n);
	s = json_stringn(text != NULL ? text : "", text != NULL ? n : 0);
	free(text);
	return (s);
}

/* The length of p without a UTF-8 sequence cut short at its end. */
static ssize_t
bus_utf8_whole(const unsigned char *p, ssize_t n)
{
	ssize_t		 i;
	unsigned int	 c, need;

	for (i = n - 1; i >= 0 && i >= n - 4; i--) {
		c = p[i];
		if ((c & 0xc0) == 0x80)
			continue;	/* a continuation: look further back */
		need = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 :
		    (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
		return (n - i < (ssize_t)need ? i : n);
	}
	return (n);
}

static json_t *
cmd_log(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	struct build	*b;
	struct task	*t = NULL;
	struct stat	 sb;
	unsigned char	*data;
	const char	*slug;
	char		*path;
	int64_t		 id, offset;
	ssize_t		 n = 0;
	size_t		 i;
	int		 fd, finished;
	json_t		*reply;

	if (arg_int(req, "build", 1, INT64_MAX, -1, &id, error) != 0 ||
	    arg_str(req, "task", 1, &slug, error) != 0 ||
	    arg_int(req, "offset", 0, INT64_MAX, 0, &offset, error) != 0)
		return (NULL);
	if ((b = db_build_get(bus_db(bus), id)) == NULL) {
		xasprintf(error, "no build %lld", (long long)id);
		return (NULL);
	}
	for (i = 0; i < b->ntasks; i++) {
		if (strcmp(b->tasks[i]->slug, slug) == 0)
			t = b->tasks[i];
	}
	if (t == NULL) {
		xasprintf(error, "build %lld has no task '%s'", (long long)id,
		    slug);
		build_free(b);
		return (NULL);
	}
	finished = task_finished(t);
	xasprintf(&path, "%s/logs/%lld/%lld.log", bus_config(bus)->state_dir,
	    (long long)id, (long long)t->id);
	build_free(b);
	data = xmalloc(BUS_LOG_MAX);
	sb.st_size = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		if (fstat(fd, &sb) == 0 && offset < sb.st_size &&
		    (n = pread(fd, data, BUS_LOG_MAX, offset)) < 0)
			n = 0;
		close(fd);
	}
	free(path);
	/*
	 * A character cut at the end of what was read is left for the next
	 * read, where it is whole: only a finished log ends in one.
	 */
	if (n > 0 && !(finished && offset + n >= sb.st_size))
		n = bus_utf8_whole(data, n);
	reply = json_pack("{s:o, s:I, s:I, s:I, s:b}",
	    "data", bus_text(data, n), "offset", (json_int_t)offset,
	    "next", (json_int_t)(offset + n), "size", (json_int_t)sb.st_size,
	    "finished", finished && offset + n >= sb.st_size);
	free(data);
	return (reply);
}

static json_t *
cmd_audit(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	json_t	*a;
	int64_t	 limit;

	if (arg_int(req, "limit", 1, 1000, 50, &limit, error) != 0)
		return (NULL);
	if ((a = db_audit_json(bus_db(bus), limit)) == NULL) {
		xasprintf(error, "the store failed: %s",
		    db_error(bus_db(bus)));
		return (NULL);
	}
	return (json_pack("{s:o}", "audit", a));
}

static json_t *
cmd_cap(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	const char	*pool;
	int64_t		 n;

	if (arg_str(req, "pool", 1, &pool, error) != 0 ||
	    arg_int(req, "n", 0, 100000, -1, &n, error) != 0)
		return (NULL);
	if (pools_set_cap(engine_pools(bus_engine(bus)), pool, n, error) != 0)
		return (NULL);
	return (json_object());
}

static json_t *
cmd_uncap(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	const char	*pool;

	if (arg_str(req, "pool", 1, &pool, error) != 0)
		return (NULL);
	if (pools_set_cap(engine_pools(bus_engine(bus)), pool, -1, error) != 0)
		return (NULL);
	return (json_object());
}

static json_t *
cmd_cancel(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	int64_t	 id;

	if (arg_int(req, "build", 1, INT64_MAX, -1, &id, error) != 0)
		return (NULL);
	if (engine_cancel_build(bus_engine(bus), id, who->name, error) != 0)
		return (NULL);
	return (json_object());
}

/*
 * retry: a finished build runs again as a new build, whole or only the
 * task named; engine_retry_build says which builds and tasks may.
 */
static json_t *
cmd_retry(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	const char	*slug;
	int64_t		 id, nid;

	if (arg_int(req, "build", 1, INT64_MAX, -1, &id, error) != 0 ||
	    arg_str(req, "task", 0, &slug, error) != 0)
		return (NULL);
	if ((nid = engine_retry_build(bus_engine(bus), id, slug, who->name,
	    error)) < 0)
		return (NULL);
	return (json_pack("{s:I}", "build", (json_int_t)nid));
}

static json_t *
cmd_approve(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	const char	*project;
	int64_t		 id;

	if (json_object_get(req, "build") != NULL) {
		if (arg_int(req, "build", 1, INT64_MAX, -1, &id, error) != 0 ||
		    engine_approve_build(bus_engine(bus), id, who->name,
		    error) != 0)
			return (NULL);
		return (json_object());
	}
	if (arg_str(req, "project", 1, &project, error) != 0)
		return (NULL);
	if (strchr(project, '/') == NULL || strchr(project, ' ') != NULL) {
		xasprintf(error, "'%s' is not a repository (owner/name)",
		    project);
		return (NULL);
	}
	if (engine_approve_project(bus_engine(bus), project, who->name) < 0) {
		xasprintf(error, "the store failed: %s",
		    db_error(bus_db(bus)));
		return (NULL);
	}
	bus_project(project);
	return (json_object());
}

static json_t *
cmd_reject(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	const char	*project;
	int		 rv;

	if (arg_str(req, "project", 1, &project, error) != 0)
		return (NULL);
	rv = db_project_set_state(bus_db(bus), project, "rejected",
	    ev_time(bus_loop(bus)));
	if (rv < 0) {
		xasprintf(error, "the store failed: %s",
		    db_error(bus_db(bus)));
		return (NULL);
	}
	if (rv == 0) {
		xasprintf(error, "no project %s: it has sent no webhook yet",
		    project);
		return (NULL);
	}
	log_info("project %s: rejected by %s", project, who->name);
	bus_project(project);
	return (json_object());
}

/* drain, undrain and drain-pool: the argument names the instance or pool. */
static json_t *
cmd_drain_op(struct bus *bus, const struct bus_client *who, json_t *req,
    const char *op, const char *arg, char **error)
{
	const char	*name;

	if (arg_str(req, arg, 1, &name, error) != 0)
		return (NULL);
	if (pools_drain(engine_pools(bus_engine(bus)), op, name, who->name,
	    error) != 0)
		return (NULL);
	return (json_object());
}

static json_t *
cmd_drain(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	return (cmd_drain_op(bus, who, req, "drain", "instance", error));
}

static json_t *
cmd_undrain(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	return (cmd_drain_op(bus, who, req, "undrain", "instance", error));
}

static json_t *
cmd_drain_pool(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	return (cmd_drain_op(bus, who, req, "drain-pool", "pool", error));
}

/*
 * The optional "project" of the variables' commands: NULL for every
 * project, else owner/name. 0, or -1 with *error.
 */
static int
arg_scope(json_t *req, const char **project, char **error)
{
	if (arg_str(req, "project", 0, project, error) != 0)
		return (-1);
	if (*project != NULL && (strchr(*project, '/') == NULL ||
	    strchr(*project, ' ') != NULL)) {
		xasprintf(error, "'%s' is not a repository (owner/name)",
		    *project);
		return (-1);
	}
	return (0);
}

/*
 * vars: the variables and secrets tasks get, from the configuration file
 * and the store, in the order they override each other (global, then a
 * project's; the file's, then the stored ones); a secret by name only.
 */
static json_t *
cmd_vars(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	const struct config	*conf = bus_config(bus);
	const struct config_var	*v;
	const char		*project;
	json_t			*list, *o;
	size_t			 i;
	int			 pass;

	if (arg_scope(req, &project, error) != 0)
		return (NULL);
	list = json_array();
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < conf->nvars; i++) {
			v = &conf->vars[i];
			if ((v->project != NULL) != pass || (pass &&
			    project != NULL && strcasecmp(v->project,
			    project) != 0))
				continue;
			o = json_pack("{s:s, s:s?, s:s?, s:b, s:s}",
			    "name", v->name, "project", v->project,
			    "image", v->image, "secret", v->secret,
			    "source", "config");
			if (!v->secret)
				json_object_set_new(o, "value",
				    json_string(v->value));
			json_array_append_new(list, o);
		}
		vars_json(engine_vars(bus_engine(bus)), project, !pass, list);
	}
	return (json_pack("{s:o}", "variables", list));
}

/* set-var and set-secret: store a value for every project or one. */
static json_t *
cmd_set_value(struct bus *bus, const struct bus_client *who, json_t *req,
    int secret, char **error)
{
	const char	*project, *name, *value;

	if (arg_scope(req, &project, error) != 0 ||
	    arg_str(req, "name", 1, &name, error) != 0 ||
	    arg_str(req, "value", 1, &value, error) != 0)
		return (NULL);
	if (vars_set(engine_vars(bus_engine(bus)), project != NULL ? project :
	    "", name, value, json_string_length(json_object_get(req,
	    "value")), secret, who->name, ev_time(bus_loop(bus)), error) != 0)
		return (NULL);
	return (json_object());
}

/* unset-var and unset-secret. */
static json_t *
cmd_unset_value(struct bus *bus, const struct bus_client *who, json_t *req,
    int secret, char **error)
{
	const char	*project, *name;

	if (arg_scope(req, &project, error) != 0 ||
	    arg_str(req, "name", 1, &name, error) != 0)
		return (NULL);
	if (vars_unset(engine_vars(bus_engine(bus)), project != NULL ?
	    project : "", name, secret, who->name, error) != 0)
		return (NULL);
	return (json_object());
}

static json_t *
cmd_set_var(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	return (cmd_set_value(bus, who, req, 0, error));
}

static json_t *
cmd_unset_var(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	return (cmd_unset_value(bus, who, req, 0, error));
}

static json_t *
cmd_set_secret(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	return (cmd_set_value(bus, who, req, 1, error));
}

static json_t *
cmd_unset_secret(struct bus *bus, const struct bus_client *who, json_t *req,
    char **error)
{
	return (cmd_unset_value(bus, who, req, 1, error));
}

static const struct bus_cmd bus_cmds[] = {
	{ "hello", 0, cmd_hello, NULL },
	{ "snapshot", 0, cmd_snapshot, NULL },
	{ "builds", 0, cmd_builds, NULL },
	{ "build", 0, cmd_build, NULL },
	{ "pools", 0, cmd_pools, NULL },
	{ "instances", 0, cmd_instances, NULL },
	{ "projects", 0, cmd_projects, NULL },
	{ "log", 0, cmd_log, NULL },
	{ "audit", 0, cmd_audit, NULL },
	{ "cap", 1, cmd_cap, NULL },
	{ "uncap", 1, cmd_uncap, NULL },
	{ "cancel", 1, cmd_cancel, NULL },
	{ "retry", 1, cmd_retry, NULL },
	{ "approve", 1, cmd_approve, NULL },
	{ "reject", 1, cmd_reject, NULL },
	{ "drain", 1, cmd_drain, NULL },
	{ "undrain", 1, cmd_undrain, NULL },
	{ "drain-pool", 1, cmd_drain_pool, NULL },
	{ "vars", 0, cmd_vars, NULL },
	{ "set-var", 1, cmd_set_var, NULL },
	{ "unset-var", 1, cmd_unset_var, NULL },
	{ "set-secret", 1, cmd_set_secret, "value" },
	{ "unset-secret", 1, cmd_unset_secret, NULL },
};

/*
 * Store and publish who did what, and how it went; never the key, nor
 * the command's secret argument, which reads "***".
 */
static void
bus_audit_record(struct bus *bus, const struct bus_cmd *c, json_t *req,
    const char *who, int ok, const char *error)
{
	const char	*cmd = c->name;
	json_t		*args;
	char		*text;
	int64_t		 id, now = ev_time(bus_loop(bus));

	args = json_deep_copy(req);
	json_object_del(args, "cmd");
	json_object_del(args, "id");
	json_object_del(args, "key");
	if (c->secret != NULL && json_object_get(args, c->secret) != NULL)
		json_object_set_new(args, c->secret, json_string("***"));
	text = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
	id = db_audit_insert(bus_db(bus), now, who, cmd, text, ok, error);
	free(text);
	if (id > 0)
		bus_audit(json_pack("{s:I, s:I, s:s, s:s, s:o, s:b, s:o}",
		    "id", (json_int_t)id, "time", (json_int_t)now,
		    "who", who, "cmd", cmd, "args", args, "ok", ok,
		    "result", error != NULL ? json_string(error) :
		    json_null()));
	else
		json_decref(args);
}

/* The refusal of an unknown command, naming the known ones. */
static char *
bus_unknown(const char *name)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b, 0);
	buf_printf(&b, "unknown command '%.64s' (", name);
	for (i = 0; i < nitems(bus_cmds); i++)
		buf_printf(&b, "%s%s", i > 0 ? ", " : "", bus_cmds[i].name);
	buf_addstr(&b, ")");
	return (buf_detach(&b, NULL));
}

/*
 * One request's reply, as text (the caller frees it); msg is the
 * request's frame, whose User-Id names a CURVE client.
 */
static char *
bus_answer(struct bus *bus, zmq_msg_t *msg)
{
	const char		*text = zmq_msg_data(msg);
	size_t			 len = zmq_msg_size(msg);
	const struct bus_cmd	*c = NULL;
	struct bus_client	 who;
	json_t			*req = NULL, *reply = NULL, *id = NULL;
	json_error_t		 jerr;
	const char		*name;
	char			*error = NULL, *out;
	size_t			 i;

	if (len > PROTO_REQUEST_MAX) {
		xasprintf(&error, "a request of %zu bytes is larger than the "
		    "%d allowed", len, PROTO_REQUEST_MAX);
		goto reply;
	}
	if ((req = json_loadb(text, len, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL) {
		xasprintf(&error, "the request is not JSON: %s (at byte %d)",
		    jerr.text, jerr.position);
		goto reply;
	}
	id = json_object_get(req, "id");
	if (!json_is_object(req) || !json_is_string(json_object_get(req,
	    "cmd"))) {
		xasprintf(&error, "a request is a JSON object with a string "
		    "\"cmd\", such as {\"cmd\": \"hello\"}");
		goto reply;
	}
	name = json_string_value(json_object_get(req, "cmd"));
	for (i = 0; i < nitems(bus_cmds); i++) {
		if (strcmp(bus_cmds[i].name, name) == 0)
			c = &bus_cmds[i];
	}
	if (c == NULL) {
		error = bus_unknown(name);
		goto reply;
	}
	bus_client_of(bus, req, zmq_msg_gets(msg, "User-Id"), &who);
	if ((error = bus_refusal(bus, c, &who)) != NULL) {
		if (c->mutating)
			bus_audit_record(bus, c, req, who.name, 0, error);
		goto reply;
	}
	reply = c->fn(bus, &who, req, &error);
	if (c->mutating)
		bus_audit_record(bus, c, req, who.name, reply != NULL,
		    error);

reply:
	if (reply == NULL) {
		if (error == NULL)
			error = xstrdup("the command failed");
		reply = json_pack("{s:b, s:s}", "ok", 0, "error", error);
	} else
		json_object_set_new(reply, "ok", json_true());
	if (id != NULL)
		json_object_set(reply, "id", id);
	out = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	json_decref(req);
	free(error);
	return (out);
}

/*
 * Read what the ROUTER holds: each message is [identity, request] from a
 * DEALER, or [identity, empty, request] from a REQ (or a DEALER that
 * sends the empty frame). The reply goes back in the same envelope; a
 * message of any other shape gets an error reply.
 */
void
bus_cmd_readable(struct ev_loop *loop, int fd, void *arg)
{
	struct bus	*bus = arg;
	void		*router = bus_router(bus);
	zmq_msg_t	 frames[BUS_FRAMES_MAX], scratch, *m;
	size_t		 n, i, extra;
	int		 more, turns = 0, delim;
	char		*out;

	(void)loop;
	(void)fd;
	/* A few messages a turn: a flood of requests cannot starve the loop. */
	while (turns++ < 64) {
		n = extra = 0;
		for (;;) {
			m = n < BUS_FRAMES_MAX ? &frames[n] : &scratch;
			zmq_msg_init(m);
			if (zmq_msg_recv(m, router, ZMQ_DONTWAIT) == -1) {
				zmq_msg_close(m);
				break;
			}
			more = zmq_msg_more(m);
			if (m == &scratch) {
				zmq_msg_close(m);
				extra++;
			} else
				n++;
			if (!more)
				break;
		}
		if (n == 0)
			return;		/* nothing more to read */
		delim = n >= 3 && zmq_msg_size(&frames[1]) == 0;
		if (n < 2)
			out = NULL;	/* no request at all: nothing to say */
		else if (extra > 0 || n > 3 || (n == 3 && !delim))
			out = xstrdup("{\"ok\":false,\"error\":\"a request is "
			    "one frame (after an empty one, from a REQ)\"}");
		else
			out = bus_answer(bus, &frames[n - 1]);
		if (out != NULL) {
			zmq_send(router, zmq_msg_data(&frames[0]),
			    zmq_msg_size(&frames[0]), ZMQ_SNDMORE |
			    ZMQ_DONTWAIT);
			if (delim)
				zmq_send(router, "", 0, ZMQ_SNDMORE |
				    ZMQ_DONTWAIT);
			zmq_send(router, out, strlen(out), ZMQ_DONTWAIT);
			free(out);
		}
		for (i = 0; i < n; i++)
			zmq_msg_close(&frames[i]);
	}
}
