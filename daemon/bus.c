/*
 * The bus: the daemon's live state over ZeroMQ, as beekeeper-protocol(7)
 * describes it. A PUB socket publishes every change of a build, task,
 * pool, instance, project or audit record; a ROUTER socket answers
 * requests (bus-cmd.c has the commands).
 *
 * Invariants:
 * - Every published message but a heartbeat carries the next seq: seq
 *   increases by one per message, across topics. A snapshot is taken
 *   between two turns of the loop, from the store, and its seq is the last
 *   one published; changes made in the turn that are not yet published
 *   are in it and are published later with a greater seq, which a client
 *   applies again harmlessly (every message is a whole object).
 * - Changes are kept until the end of the loop's turn and published once
 *   per object, with its latest state, in the order they first changed.
 * - The set of finished builds in the state is the PROTO_RECENT_BUILDS
 *   that finished last: when one more finishes, the oldest is deleted.
 * - Publishing never blocks: a subscriber past the high-water mark loses
 *   messages and sees a gap.
 *
 * The modules that change state call bus_build(), bus_task() and the
 * others; with no bus (unit tests) they do nothing.
 */

#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "daemon.h"
#include "proto.h"

#define BUS_SNDHWM		10000

struct bus {
	struct ev_loop		*loop;
	struct db		*db;
	struct engine		*engine;
	const struct config	**conf;
	void			*ctx;
	void			*pub;
	void			*router;
	struct ev_io		*router_io;
	struct bus_auth		*auth;		/* keys, subscribers */
	int			 curve;		/* the sockets use CURVE */
	struct ev_timer		*heartbeat;
	char			*publish_at;	/* as bound */
	char			*control_at;
	uint64_t		 seq;
	int64_t			 start;		/* when this run began, ms */
	json_t			*pending;	/* "topic key" to a message */

	/* What GitHub reporting looks like, and what was published of it. */
	json_t			*(*github)(void *);
	void			*github_arg;
	json_t			*github_last;

	/* The finished builds in the state, oldest first. */
	int64_t			 recent[PROTO_RECENT_BUILDS];
	size_t			 nrecent;
};

static struct bus	*bus_the;

static void
json_set_time(json_t *o, const char *key, int64_t ms)
{
	json_object_set_new(o, key, ms != 0 ? json_integer(ms) : json_null());
}

static void
json_set_str(json_t *o, const char *key, const char *s)
{
	json_object_set_new(o, key, s != NULL ? json_string(s) : json_null());
}

json_t *
bus_build_json(const struct build *b)
{
	json_t	*o = json_object();
	int64_t	 cost = 0;
	size_t	 i;

	json_object_set_new(o, "id", json_integer(b->id));
	json_set_str(o, "project", b->project);
	json_set_str(o, "event", b->event);
	json_set_str(o, "ref", b->ref);
	json_object_set_new(o, "pr", b->pr != 0 ? json_integer(b->pr) :
	    json_null());
	json_set_str(o, "sha", b->sha);
	json_object_set_new(o, "state",
	    json_string(build_state_name(b->state)));
	json_object_set_new(o, "phase", json_integer(b->phase));
	json_set_str(o, "reason", b->reason);
	json_set_str(o, "approval", b->approval);
	json_set_str(o, "sender", b->sender);
	json_object_set_new(o, "retry_of", b->retry_of != 0 ?
	    json_integer(b->retry_of) : json_null());
	json_set_time(o, "created_at", b->created_at);
	json_set_time(o, "started_at", b->started_at);
	json_set_time(o, "finished_at", b->finished_at);
	for (i = 0; i < b->ntasks; i++)
		cost += b->tasks[i]->cost;
	json_object_set_new(o, "cost", json_real(cost / 1e6));
	json_object_set_new(o, "cost_micro", json_integer(cost));
	return (o);
}

json_t *
bus_task_json(const struct task *t)
{
	json_t	*o = json_object();

	json_object_set_new(o, "id", json_integer(t->id));
	json_object_set_new(o, "build", json_integer(t->build->id));
	json_object_set_new(o, "phase", json_integer(t->phase));
	json_set_str(o, "phase_name", t->phase_name);
	json_set_str(o, "slug", t->slug);
	json_set_str(o, "name", t->name);
	json_set_str(o, "image", t->image);
	json_set_str(o, "profile", t->profile);
	json_object_set_new(o, "critical", json_boolean(t->critical));
	json_object_set_new(o, "state", json_string(task_state_name(t->state)));
	json_object_set_new(o, "exit_status", t->exit_status >= 0 ?
	    json_integer(t->exit_status) : json_null());
	json_set_str(o, "reason", t->reason);
	json_object_set_new(o, "attempt", json_integer(t->attempt));
	json_object_set_new(o, "cost", json_real(t->cost / 1e6));
	json_object_set_new(o, "cost_micro", json_integer(t->cost));
	json_set_str(o, "instance", t->instance_id);
	json_set_time(o, "queued_at", t->queued_at);
	json_set_time(o, "started_at", t->started_at);
	json_set_time(o, "finished_at", t->finished_at);
	return (o);
}

/* Keep a change for the end of the turn; data is stolen. */
static void
bus_queue(const char *topic, const char *op, json_t *data)
{
	struct bus	*bus = bus_the;
	json_t		*k;
	char		*key;

	if (bus == NULL) {
		json_decref(data);
		return;
	}
	if ((k = json_object_get(data, "id")) == NULL &&
	    (k = json_object_get(data, "name")) == NULL)
		k = json_object_get(data, "repo");
	if (json_is_integer(k))
		xasprintf(&key, "%s %lld", topic,
		    (long long)json_integer_value(k));
	else
		xasprintf(&key, "%s %s", topic, json_is_string(k) ?
		    json_string_value(k) : "");
	/* A key changed again this turn keeps its place, with new data. */
	json_object_set_new(bus->pending, key, json_pack("{s:s, s:s, s:o}",
	    "topic", topic, "op", op, "data", data));
	free(key);
}

static void
bus_recent_add(struct bus *bus, int64_t id)
{
	size_t	 i;

	for (i = 0; i < bus->nrecent; i++) {
		if (bus->recent[i] == id)
			return;
	}
	if (bus->nrecent == PROTO_RECENT_BUILDS) {
		bus_queue(PROTO_TOPIC_BUILD, "delete", json_pack("{s:I}",
		    "id", (json_int_t)bus->recent[0]));
		memmove(bus->recent, bus->recent + 1,
		    (bus->nrecent - 1) * sizeof *bus->recent);
		bus->nrecent--;
	}
	bus->recent[bus->nrecent++] = id;
}

void
bus_build(const struct build *b)
{
	if (bus_the == NULL)
		return;
	bus_queue(PROTO_TOPIC_BUILD, "put", bus_build_json(b));
	if (build_finished(b))
		bus_recent_add(bus_the, b->id);
}

void
bus_task(const struct task *t)
{
	if (bus_the != NULL)
		bus_queue(PROTO_TOPIC_TASK, "put", bus_task_json(t));
}

void
bus_pool(json_t *pool)
{
	bus_queue(PROTO_TOPIC_POOL, "put", pool);
}

void
bus_instance(json_t *instance)
{
	bus_queue(PROTO_TOPIC_INSTANCE, "put", instance);
}

void
bus_audit(json_t *record)
{
	bus_queue(PROTO_TOPIC_AUDIT, "put", record);
}

/* A project registered or changed state: publish it as stored. */
void
bus_project(const char *repo)
{
	json_t	*o;

	if (bus_the != NULL && (o = db_project_json(bus_the->db, repo)) !=
	    NULL)
		bus_queue(PROTO_TOPIC_PROJECT, "put", o);
}

int
bus_recent(int64_t id)
{
	size_t	 i;

	if (bus_the == NULL)
		return (0);
	for (i = 0; i < bus_the->nrecent; i++) {
		if (bus_the->recent[i] == id)
			return (1);
	}
	return (0);
}

uint64_t
bus_seq(struct bus *bus)
{
	return (bus->seq);
}

/* When this run of the daemon began: seq counts from 1 again after. */
int64_t
bus_start(struct bus *bus)
{
	return (bus->start);
}

const char *
bus_publish_endpoint(struct bus *bus)
{
	return (bus->publish_at);
}

static void
bus_send(struct bus *bus, const char *topic, json_t *body)
{
	char	*text;

	text = json_dumps(body, JSON_COMPACT);
	/* PUB never blocks: at the high-water mark it drops. */
	if (zmq_send(bus->pub, topic, strlen(topic), ZMQ_SNDMORE |
	    ZMQ_DONTWAIT) == -1 || zmq_send(bus->pub, text, strlen(text),
	    ZMQ_DONTWAIT) == -1)
		log_debug("bus: publish %s: %s", topic, zmq_strerror(errno));
	free(text);
}

/*
 * GitHub reporting's state (report backlog, rate limit), as the function
 * main.c gives makes it; published when it changes (bus_github_check).
 */
void
bus_on_github(struct bus *bus, json_t *(*fn)(void *), void *arg)
{
	bus->github = fn;
	bus->github_arg = arg;
}

json_t *
bus_github(struct bus *bus)
{
	return (bus->github != NULL ? bus->github(bus->github_arg) :
	    json_null());
}

/* End of the turn: publish what changed, once each. */
static void
bus_flush(struct ev_loop *loop, void *arg)
{
	struct bus	*bus = arg;
	const char	*key;
	json_t		*m, *body;
	int64_t		 now = ev_time(loop);

	if (json_object_size(bus->pending) == 0)
		return;
	json_object_foreach(bus->pending, key, m) {
		body = json_pack("{s:I, s:I, s:O, s:O}",
		    "seq", (json_int_t)++bus->seq, "time", (json_int_t)now,
		    "op", json_object_get(m, "op"),
		    "data", json_object_get(m, "data"));
		bus_send(bus, json_string_value(json_object_get(m, "topic")),
		    body);
		json_decref(body);
	}
	json_object_clear(bus->pending);
}

/*
 * GitHub reporting's state is looked at once a second, with the
 * heartbeat, rather than on every turn of the loop: published when it
 * changed, at the end of this turn.
 */
static void
bus_github_check(struct bus *bus)
{
	json_t	*gh;

	if (bus->github == NULL)
		return;
	gh = bus->github(bus->github_arg);
	if (json_equal(gh, bus->github_last)) {
		json_decref(gh);
		return;
	}
	json_decref(bus->github_last);
	bus->github_last = json_incref(gh);
	bus_queue(PROTO_TOPIC_GITHUB, "put", gh);
}

static void
bus_heartbeat(struct ev_loop *loop, void *arg)
{
	struct bus	*bus = arg;
	json_t		*body;

	bus_github_check(bus);

	body = json_pack("{s:I, s:I, s:I}", "seq", (json_int_t)bus->seq,
	    "time", (json_int_t)ev_time(loop), "start",
	    (json_int_t)bus->start);
	bus_send(bus, PROTO_TOPIC_HEARTBEAT, body);
	json_decref(body);
	bus->heartbeat = ev_timer_add(loop, PROTO_HEARTBEAT_MS, bus_heartbeat,
	    bus);
}

static void
bus_recent_load(int64_t id, void *arg)
{
	struct bus	*bus = arg;

	/* Newest first from the store; the ring is oldest first. */
	memmove(bus->recent + 1, bus->recent, bus->nrecent *
	    sizeof *bus->recent);
	bus->recent[0] = id;
	bus->nrecent++;
}

/* The builds a snapshot holds: open ones and the recent finished. */
void
bus_snapshot_builds(struct bus *bus, void (*cb)(int64_t, void *),
    void *arg)
{
	size_t	 i;

	db_builds_open(bus->db, cb, arg);
	for (i = 0; i < bus->nrecent; i++)
		cb(bus->recent[i], arg);
}

/* Does a request carry the control key (bus-auth.c)? */
int
bus_is_admin(struct bus *bus, const char *key)
{
	return (bus_auth_is_admin(bus->auth, key));
}

/*
 * Bind; *bound is the endpoint as configured, with the port bound in
 * place of a '*' (ZMQ_LAST_ENDPOINT would name 127.0.0.1 as
 * [::ffff:127.0.0.1] once IPv6 is on).
 */
static int
bus_bind(void *sock, const char *endpoint, char **bound, char **cause)
{
	char		 last[256];
	const char	*port;
	size_t		 len = sizeof last;

	if (zmq_bind(sock, endpoint) != 0) {
		xasprintf(cause, "bus: cannot bind %s: %s", endpoint,
		    zmq_strerror(errno));
		return (-1);
	}
	len = strlen(endpoint);
	if (len < 2 || strcmp(endpoint + len - 2, ":*") != 0 ||
	    zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, last,
	    &(size_t){ sizeof last }) != 0 ||
	    (port = strrchr(last, ':')) == NULL) {
		*bound = xstrdup(endpoint);
		return (0);
	}
	xasprintf(bound, "%.*s%s", (int)(len - 2), endpoint, port);
	return (0);
}

/*
 * With bus.curve_secret_key_file, both sockets are CURVE servers with
 * the daemon's key pair, read as it was at start (a reload that names
 * another file is only warned about: clients hold the public key).
 */
static int
bus_curve_start(struct bus *bus, char **cause)
{
	const struct config	*c = *bus->conf;
	struct curvekey		 k;
	char			*err = NULL;
	int			 rv;

	if (c->bus_curve_key_file == NULL)
		return (0);
	if (curvekey_parse(c->bus_curve_key, c->bus_curve_key_file, 0, &k,
	    &err) != 0) {
		xasprintf(cause, "bus.curve_secret_key_file: %s", err);
		free(err);
		return (-1);
	}
	rv = bus_auth_server(bus->pub, k.secret, cause) != 0 ||
	    bus_auth_server(bus->router, k.secret, cause) != 0 ? -1 : 0;
	if (rv == 0)
		log_info("bus: CURVE keys required (server key %s, clients "
		    "in %s)", k.public, c->bus_clients_file);
	curvekey_clear(&k);
	bus->curve = rv == 0;
	return (rv);
}

struct bus *
bus_create(struct ev_loop *loop, struct db *db, struct engine *e,
    const struct config **conf, char **cause)
{
	struct bus	*bus;
	int		 hwm = BUS_SNDHWM, zero = 0, one = 1;
	size_t		 i;

	bus = xcalloc(1, sizeof *bus);
	bus->loop = loop;
	bus->db = db;
	bus->engine = e;
	bus->conf = conf;
	bus->pending = json_object();
	bus->start = ev_time(loop);
	if ((bus->ctx = zmq_ctx_new()) == NULL ||
	    (bus->pub = zmq_socket(bus->ctx, ZMQ_PUB)) == NULL ||
	    (bus->router = zmq_socket(bus->ctx, ZMQ_ROUTER)) == NULL) {
		xasprintf(cause, "bus: %s", zmq_strerror(errno));
		bus_free(bus);
		return (NULL);
	}
	zmq_setsockopt(bus->pub, ZMQ_SNDHWM, &hwm, sizeof hwm);
	for (i = 0; i < 2; i++) {
		/* IPv6 too, for tcp://[::1]:PORT. */
		zmq_setsockopt(i == 0 ? bus->pub : bus->router, ZMQ_IPV6,
		    &one, sizeof one);
		zmq_setsockopt(i == 0 ? bus->pub : bus->router, ZMQ_LINGER,
		    &zero, sizeof zero);
	}
	/* A reply to a client gone is dropped, not an error. */
	zmq_setsockopt(bus->router, ZMQ_ROUTER_MANDATORY, &zero, sizeof zero);
	if (bus_curve_start(bus, cause) != 0 ||
	    (bus->auth = bus_auth_create(loop, bus->ctx, bus->pub, conf,
	    cause)) == NULL) {
		bus_free(bus);
		return (NULL);
	}
	if (bus_bind(bus->pub, (*conf)->bus_publish, &bus->publish_at,
	    cause) != 0 || bus_bind(bus->router, (*conf)->bus_control,
	    &bus->control_at, cause) != 0) {
		bus_free(bus);
		return (NULL);
	}
	db_builds_recent(db, PROTO_RECENT_BUILDS, bus_recent_load, bus);
	bus->router_io = ev_zmq_add(loop, bus->router, EV_READ,
	    bus_cmd_readable, bus);
	bus->heartbeat = ev_timer_add(loop, PROTO_HEARTBEAT_MS, bus_heartbeat,
	    bus);
	ev_before_sleep(loop, bus_flush, bus);
	bus_the = bus;
	log_info("bus: publishing on %s, control on %s", bus->publish_at,
	    bus->control_at);
	return (bus);
}

void
bus_free(struct bus *bus)
{
	if (bus == NULL)
		return;
	if (bus_the == bus)
		bus_the = NULL;
	ev_io_del(bus->router_io);
	ev_timer_del(bus->heartbeat);
	bus_auth_free(bus->auth);
	if (bus->pub != NULL)
		zmq_socket_monitor(bus->pub, NULL, 0);
	if (bus->pub != NULL)
		zmq_close(bus->pub);
	if (bus->router != NULL)
		zmq_close(bus->router);
	if (bus->ctx != NULL)
		zmq_ctx_term(bus->ctx);
	json_decref(bus->pending);
	json_decref(bus->github_last);
	free(bus->publish_at);
	free(bus->control_at);
	free(bus);
}

/* For bus-cmd.c. */
struct db *
bus_db(struct bus *bus)
{
	return (bus->db);
}

struct engine *
bus_engine(struct bus *bus)
{
	return (bus->engine);
}

const struct config *
bus_config(struct bus *bus)
{
	return (*bus->conf);
}

struct ev_loop *
bus_loop(struct bus *bus)
{
	return (bus->loop);
}

void *
bus_router(struct bus *bus)
{
	return (bus->router);
}

/* Do the sockets authenticate with CURVE (as started)? */
int
bus_curve(struct bus *bus)
{
	return (bus->curve);
}

size_t
bus_subscribers(struct bus *bus)
{
	return (bus_auth_subscribers(bus->auth));
}
