/*
 * GET /metrics: the daemon's state for Prometheus, in its text exposition
 * format, version 0.0.4. Each family is a row of metrics_families, with
 * its help text; beekeeperd(8) lists the same families.
 *
 * Nothing is counted here: every value is read when the page is asked for,
 * from the store (deliveries, builds, tasks, reports), the pools and the
 * bus. So the deliveries counter survives a restart, being a count of rows
 * the store keeps. A scrape costs four COUNT queries; those of builds,
 * tasks and reports read an index only, that of deliveries (no index has
 * their event) reads the table.
 *
 * Invariants of the format: a family's HELP and TYPE lines come before
 * its samples, which follow each other; a family with nothing to say (no
 * pool has a cap, GitHub has not told its rate limit yet) keeps its HELP
 * and TYPE and has no sample, rather than a made-up value; label values
 * escape backslash, double quote and newline.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "daemon.h"

#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

struct metrics {
	struct db		*db;
	struct engine		*engine;
	struct github		*github;
	struct bus		*bus;
};

/* One answer being written, and what more than one family reads. */
struct metrics_scrape {
	struct metrics		*m;
	struct buf		 out;
	const char		*name;	/* the family being written */
	json_t			*pools;
	json_t			*instances;
	int64_t			 counts[TASK_SKIPPED + 1];
};

struct metrics_family {
	const char	*name;
	const char	*type;
	const char	*help;
	const char	*key;		/* a pool's field, for metrics_pool */
	int		 (*emit)(struct metrics_scrape *,
			    const struct metrics_family *);
};

static int	metrics_up(struct metrics_scrape *,
		    const struct metrics_family *);
static int	metrics_deliveries(struct metrics_scrape *,
		    const struct metrics_family *);
static int	metrics_builds(struct metrics_scrape *,
		    const struct metrics_family *);
static int	metrics_tasks(struct metrics_scrape *,
		    const struct metrics_family *);
static int	metrics_pool(struct metrics_scrape *,
		    const struct metrics_family *);
static int	metrics_instances(struct metrics_scrape *,
		    const struct metrics_family *);
static int	metrics_backlog(struct metrics_scrape *,
		    const struct metrics_family *);
static int	metrics_ratelimit(struct metrics_scrape *,
		    const struct metrics_family *);
static int	metrics_bus_seq(struct metrics_scrape *,
		    const struct metrics_family *);
static int	metrics_bus_start(struct metrics_scrape *,
		    const struct metrics_family *);
static int	metrics_bus_subscribers(struct metrics_scrape *,
		    const struct metrics_family *);
static int	metrics_aws(struct metrics_scrape *,
		    const struct metrics_family *);

static const struct metrics_family metrics_families[] = {
	{ .name = "beekeeper_up", .type = "gauge",
	  .help = "Always 1: the daemon answered.",
	  .emit = metrics_up },
	{ .name = "beekeeper_deliveries_total", .type = "counter",
	  .help = "Webhook deliveries stored, by event and outcome "
	  "(received: not processed yet).",
	  .emit = metrics_deliveries },
	{ .name = "beekeeper_builds", .type = "gauge",
	  .help = "Builds in the store, by state.",
	  .emit = metrics_builds },
	{ .name = "beekeeper_tasks", .type = "gauge",
	  .help = "Tasks in the store, by state.",
	  .emit = metrics_tasks },
	{ .name = "beekeeper_pool_queued", .type = "gauge",
	  .help = "Tasks waiting in the pool's queue.",
	  .key = "queued", .emit = metrics_pool },
	{ .name = "beekeeper_pool_busy", .type = "gauge",
	  .help = "Slots of the pool's instances running a task.",
	  .key = "busy", .emit = metrics_pool },
	{ .name = "beekeeper_pool_cap", .type = "gauge",
	  .help = "The operator's cap on the pool's instances; no sample "
	  "when it has none.",
	  .key = "cap", .emit = metrics_pool },
	{ .name = "beekeeper_pool_cost_tasks_microdollars_total",
	  .type = "counter",
	  .help = "What the pool's instances cost while running tasks, "
	  "charged to the tasks, since the daemon started (1e-6 USD).",
	  .key = "cost_tasks_micro", .emit = metrics_pool },
	{ .name = "beekeeper_pool_cost_idle_microdollars_total",
	  .type = "counter",
	  .help = "What the pool's instances cost with no task on them "
	  "(booting, idle, draining, billing minimum), since the daemon "
	  "started (1e-6 USD).",
	  .key = "cost_idle_micro", .emit = metrics_pool },
	{ .name = "beekeeper_pool_spend_microdollars_per_hour",
	  .type = "gauge",
	  .help = "What the pool's live instances cost an hour now "
	  "(1e-6 USD).",
	  .key = "spend_per_hour_micro", .emit = metrics_pool },
	{ .name = "beekeeper_pool_launch_failures", .type = "gauge",
	  .help = "The pool's failed launches in a row; its circuit breaker "
	  "opens at the profile's breaker_failures.",
	  .key = "launch_failures", .emit = metrics_pool },
	{ .name = "beekeeper_instances", .type = "gauge",
	  .help = "Live instances of the pool, by state.",
	  .emit = metrics_instances },
	{ .name = "beekeeper_github_backlog", .type = "gauge",
	  .help = "Statuses and check runs GitHub does not have yet.",
	  .emit = metrics_backlog },
	{ .name = "beekeeper_github_ratelimit_remaining", .type = "gauge",
	  .help = "Requests left in GitHub's rate-limit window, as its last "
	  "answer said; no sample until one has.",
	  .emit = metrics_ratelimit },
	{ .name = "beekeeper_bus_seq", .type = "counter",
	  .help = "Sequence number of the last message published on the bus; "
	  "from 1 again at each start.",
	  .emit = metrics_bus_seq },
	{ .name = "beekeeper_bus_start_time_seconds", .type = "gauge",
	  .help = "When this run of the daemon began, in seconds since the "
	  "epoch.",
	  .emit = metrics_bus_start },
	{ .name = "beekeeper_bus_subscribers", .type = "gauge",
	  .help = "Connections to the bus's publish socket whose handshake "
	  "succeeded (with CURVE, whose key was accepted).",
	  .emit = metrics_bus_subscribers },
	{ .name = "beekeeper_aws_reconcile_passes_total", .type = "counter",
	  .help = "Reconcile passes of the aws pools with EC2 completed; no "
	  "sample without an aws pool.",
	  .key = "passes", .emit = metrics_aws },
	{ .name = "beekeeper_aws_reconcile_milliseconds", .type = "gauge",
	  .help = "How long the last reconcile pass took, every page of "
	  "DescribeInstances included.",
	  .key = "last_ms", .emit = metrics_aws },
	{ .name = "beekeeper_aws_instances_known", .type = "gauge",
	  .help = "EC2 instances the aws driver follows, those it is ending "
	  "included.",
	  .key = "known", .emit = metrics_aws },
	{ .name = "beekeeper_aws_retries_total", .type = "counter",
	  .help = "AWS calls sent again after throttling, a 5xx or a network "
	  "error.",
	  .key = "retries", .emit = metrics_aws },
	{ .name = "beekeeper_aws_errors_total", .type = "counter",
	  .help = "AWS calls that failed for good.",
	  .key = "errors", .emit = metrics_aws },
};

/* A label value, escaped as the format asks. */
static void
metrics_escape(struct buf *b, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '\\':
			buf_addstr(b, "\\\\");
			break;
		case '"':
			buf_addstr(b, "\\\"");
			break;
		case '\n':
			buf_addstr(b, "\\n");
			break;
		default:
			buf_add(b, s, 1);
			break;
		}
	}
}

/*
 * One sample of the current family: labels are name/value pairs, up to
 * two, NULL names ending them.
 */
static void
metrics_sample(struct metrics_scrape *s, const char *l1, const char *v1,
    const char *l2, const char *v2, int64_t value)
{
	buf_addstr(&s->out, s->name);
	if (l1 != NULL) {
		buf_printf(&s->out, "{%s=\"", l1);
		metrics_escape(&s->out, v1);
		if (l2 != NULL) {
			buf_printf(&s->out, "\",%s=\"", l2);
			metrics_escape(&s->out, v2);
		}
		buf_addstr(&s->out, "\"}");
	}
	buf_printf(&s->out, " %lld\n", (long long)value);
}

static int
metrics_up(struct metrics_scrape *s, const struct metrics_family *f)
{
	metrics_sample(s, NULL, NULL, NULL, NULL, 1);
	return (0);
}

static void
metrics_delivery_row(const char *event, const char *state, int64_t n,
    void *arg)
{
	metrics_sample(arg, "event", event, "outcome", state, n);
}

static int
metrics_deliveries(struct metrics_scrape *s, const struct metrics_family *f)
{
	return (db_deliveries_count(s->m->db, metrics_delivery_row, s));
}

static void
metrics_build_row(const char *state, const char *unused, int64_t n,
    void *arg)
{
	struct metrics_scrape	*s = arg;
	enum build_state	 bs;

	if (state != NULL && build_state_parse(state, &bs) == 0)
		s->counts[bs] += n;
}

/* Every state has a sample, zero if no build is in it. */
static int
metrics_builds(struct metrics_scrape *s, const struct metrics_family *f)
{
	enum build_state	 bs;

	memset(s->counts, 0, sizeof s->counts);
	if (db_builds_count(s->m->db, metrics_build_row, s) != 0)
		return (-1);
	for (bs = BUILD_FETCHING; bs <= BUILD_CANCELLED; bs++) {
		metrics_sample(s, "state", build_state_name(bs), NULL, NULL,
		    s->counts[bs]);
	}
	return (0);
}

static void
metrics_task_row(const char *state, const char *unused, int64_t n, void *arg)
{
	struct metrics_scrape	*s = arg;
	enum task_state		 ts;

	if (state != NULL && task_state_parse(state, &ts) == 0)
		s->counts[ts] += n;
}

static int
metrics_tasks(struct metrics_scrape *s, const struct metrics_family *f)
{
	enum task_state	 ts;

	memset(s->counts, 0, sizeof s->counts);
	if (db_tasks_count(s->m->db, metrics_task_row, s) != 0)
		return (-1);
	for (ts = TASK_WAITING; ts <= TASK_SKIPPED; ts++) {
		metrics_sample(s, "state", task_state_name(ts), NULL, NULL,
		    s->counts[ts]);
	}
	return (0);
}

/* One field of every pool, as pools_json() has it; null has no sample. */
static int
metrics_pool(struct metrics_scrape *s, const struct metrics_family *f)
{
	json_t	*p, *v;
	size_t	 i;

	json_array_foreach(s->pools, i, p) {
		v = json_object_get(p, f->key);
		if (!json_is_integer(v))
			continue;
		metrics_sample(s, "pool", json_string_value(json_object_get(p,
		    "name")), NULL, NULL, json_integer_value(v));
	}
	return (0);
}

/*
 * Live instances counted by pool and state, pool by pool in the pools'
 * order; a state no instance of the pool is in has no sample.
 */
static int
metrics_instances(struct metrics_scrape *s, const struct metrics_family *f)
{
	json_t		*p, *in, *byst;
	const char	*pool, *state;
	size_t		 i, j;

	json_array_foreach(s->pools, i, p) {
		pool = json_string_value(json_object_get(p, "name"));
		if (pool == NULL)
			continue;
		byst = json_object();
		json_array_foreach(s->instances, j, in) {
			state = json_string_value(json_object_get(in,
			    "state"));
			if (state == NULL || !json_equal(json_object_get(in,
			    "pool"), json_object_get(p, "name")))
				continue;
			json_object_set_new(byst, state, json_integer(
			    json_integer_value(json_object_get(byst, state)) +
			    1));
		}
		json_object_foreach(byst, state, in) {
			metrics_sample(s, "pool", pool, "state", state,
			    json_integer_value(in));
		}
		json_decref(byst);
	}
	return (0);
}

/* Read from the store: the reporter's own count may be a turn old. */
static int
metrics_backlog(struct metrics_scrape *s, const struct metrics_family *f)
{
	int64_t	 count, next_at;

	if (db_reports_backlog(s->m->db, &count, &next_at) != 0)
		return (-1);
	metrics_sample(s, NULL, NULL, NULL, NULL, count);
	return (0);
}

static int
metrics_ratelimit(struct metrics_scrape *s, const struct metrics_family *f)
{
	int64_t	 remaining, reset_at, held_until;

	if (s->m->github == NULL)
		return (0);
	github_limits(s->m->github, &remaining, &reset_at, &held_until);
	if (remaining >= 0)
		metrics_sample(s, NULL, NULL, NULL, NULL, remaining);
	return (0);
}

static int
metrics_bus_seq(struct metrics_scrape *s, const struct metrics_family *f)
{
	if (s->m->bus != NULL)
		metrics_sample(s, NULL, NULL, NULL, NULL,
		    (int64_t)bus_seq(s->m->bus));
	return (0);
}

static int
metrics_bus_subscribers(struct metrics_scrape *s,
    const struct metrics_family *f)
{
	if (s->m->bus != NULL)
		metrics_sample(s, NULL, NULL, NULL, NULL,
		    (int64_t)bus_subscribers(s->m->bus));
	return (0);
}

/* The aws driver's figures, when it runs. */
static int
metrics_aws(struct metrics_scrape *s, const struct metrics_family *f)
{
	struct awsd	*a = awsd_get();
	uint64_t	 passes, last_ms, retries, errors;
	size_t		 known;
	int		 quota;

	if (a == NULL)
		return (0);
	awsd_stats(a, &passes, &last_ms, &known);
	aws_stats(a->aws, &retries, &errors, &quota);
	if (strcmp(f->key, "passes") == 0)
		metrics_sample(s, NULL, NULL, NULL, NULL, (int64_t)passes);
	else if (strcmp(f->key, "last_ms") == 0)
		metrics_sample(s, NULL, NULL, NULL, NULL, (int64_t)last_ms);
	else if (strcmp(f->key, "known") == 0)
		metrics_sample(s, NULL, NULL, NULL, NULL, (int64_t)known);
	else if (strcmp(f->key, "retries") == 0)
		metrics_sample(s, NULL, NULL, NULL, NULL, (int64_t)retries);
	else
		metrics_sample(s, NULL, NULL, NULL, NULL, (int64_t)errors);
	return (0);
}

/* The bus keeps milliseconds; the format's convention is seconds. */
static int
metrics_bus_start(struct metrics_scrape *s, const struct metrics_family *f)
{
	int64_t	 ms;

	if (s->m->bus == NULL)
		return (0);
	ms = bus_start(s->m->bus);
	buf_printf(&s->out, "%s %lld.%03lld\n", s->name,
	    (long long)(ms / 1000), (long long)(ms % 1000));
	return (0);
}

/*
 * The whole page, or 503 with the reason if the store cannot be read: a
 * scrape that fails is better than one that says there are no builds.
 */
static void
metrics_end(struct httpd_req *req, void *arg)
{
	struct metrics			*m = arg;
	struct metrics_scrape		 s;
	const struct metrics_family	*f;
	struct pools			*ps;
	char				*text;
	size_t				 i;
	int				 rv = 0;

	memset(&s, 0, sizeof s);
	s.m = m;
	buf_init(&s.out, 0);
	ps = m->engine != NULL ? engine_pools(m->engine) : NULL;
	if (ps != NULL)
		s.pools = pools_json(ps, &s.instances);
	else {
		s.pools = json_array();
		s.instances = json_array();
	}
	for (i = 0; i < nitems(metrics_families) && rv == 0; i++) {
		f = &metrics_families[i];
		s.name = f->name;
		buf_printf(&s.out, "# HELP %s %s\n# TYPE %s %s\n", f->name,
		    f->help, f->name, f->type);
		rv = f->emit(&s, f);
	}
	json_decref(s.pools);
	json_decref(s.instances);
	if (rv != 0) {
		buf_release(&s.out);
		httpd_respond(req, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "503 store unavailable: %s", db_error(m->db));
		return;
	}
	text = buf_detach(&s.out, NULL);
	httpd_respond_text(req, MHD_HTTP_OK, METRICS_CONTENT_TYPE, text);
	free(text);
}

static const struct httpd_route metrics_route = {
	.path = "/metrics",
	.methods = "GET HEAD",
	.end = metrics_end,
};

struct metrics *
metrics_create(struct httpd *h, struct db *db, struct engine *e,
    struct github *gh, struct bus *bus)
{
	struct metrics	*m;

	m = xcalloc(1, sizeof *m);
	m->db = db;
	m->engine = e;
	m->github = gh;
	m->bus = bus;
	httpd_route(h, &metrics_route, m);
	return (m);
}

void
metrics_free(struct metrics *m)
{
	free(m);
}
