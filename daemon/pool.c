/*
 * Pools: one per profile, each with its instances and its queue of tasks.
 * A pool with queued work and no free slot launches an instance at once,
 * within its max and the operator's cap; an instance idle past the idle
 * timeout is terminated unless that would take the pool below its min. A
 * draining instance takes no new task. Capacity counts only slots of
 * instances that can take work (ready, not draining).
 *
 * The pool does not know how instances come to be: a driver launches,
 * terminates and runs tasks on them, asynchronously, and reports back
 * through pool_instance_ready() and engine_task_started/done(). So a
 * driver whose machines take minutes to boot plugs in without a change
 * here.
 *
 * Which queued task goes next (written in beekeeperd(8)): tasks of a
 * build that has already started a phase go before any build's first
 * phase, so started builds finish first; then projects take turns, the
 * one served longest ago first, so fifty queued tasks of one project do
 * not starve another's one; then first queued, first served.
 */

#include "config.h"

#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "daemon.h"

#define POOL_TICK_MS		1000
#define POOL_PROJECTS_MAX	256

enum instance_state {
	INSTANCE_REQUESTED,
	INSTANCE_BOOTING,
	INSTANCE_READY,
	INSTANCE_DRAINING,
	INSTANCE_TERMINATING,
	INSTANCE_TERMINATED,
	INSTANCE_LOST
};

static const char *instance_state_names[] = {
	[INSTANCE_REQUESTED] = "requested",
	[INSTANCE_BOOTING] = "booting",
	[INSTANCE_READY] = "ready",
	[INSTANCE_DRAINING] = "draining",
	[INSTANCE_TERMINATING] = "terminating",
	[INSTANCE_TERMINATED] = "terminated",
	[INSTANCE_LOST] = "lost",
};

struct instance {
	char			*id;
	char			*cloud_id;	/* the driver's name, or NULL */
	struct pool		*pool;
	enum instance_state	 state;
	u_int			 slots;
	u_int			 used;
	struct task		**tasks;	/* slots of them, NULL: free */
	int			 preemptible;	/* spot */
	int			 on_demand;	/* launched for a retried task */
	uint64_t		 launched;	/* loop ms */
	int64_t			 launched_at;	/* wall ms */
	uint64_t		 idle_since;	/* loop ms */
	uint64_t		 reap_at;	/* loop ms; 0: not due */
	struct cost_meter	 meter;
	int			 metered;
	char			*reason;	/* of its last change */
	void			*driver_state;
	TAILQ_ENTRY(instance)	 entry;
};

struct pool {
	struct pools		*pools;
	char			*name;
	const struct driver	*driver;
	int			 cap;		/* -1: none */
	u_int			 launched;	/* for instance ids */
	TAILQ_HEAD(, instance)	 instances;
	TAILQ_HEAD(, task)	 queue;
	u_int			 nqueued;
	struct {
		char		*project;
		uint64_t	 served;
	}			 projects[POOL_PROJECTS_MAX];
	u_int			 nprojects;
	uint64_t		 serves;
	int			 dirty;		/* to publish */
	struct breaker		 breaker;
	char			*breaker_reason;	/* the last failure */
	/* Micro-dollars since the daemon started: cost_tasks + cost_idle
	 * is what every instance cost, ended ones included. */
	int64_t			 cost_tasks;
	int64_t			 cost_idle;
	int64_t			 cost_ended;	/* meters of ended instances */
	int64_t			 spend_today;	/* since midnight UTC */
	int64_t			 spend_day;	/* that midnight, s */
};

struct pools {
	struct engine		*engine;
	struct ev_loop		*loop;
	struct db		*db;
	const struct config	**conf;
	struct pool		**list;
	size_t			 n;
	struct ev_timer		*tick;
	int64_t			 wall0;		/* wall ms at loop ms 0 */
};

static const struct driver *pool_drivers[] = { &driver_local, &driver_aws };

const char *
instance_id(struct instance *in)
{
	return (in->id);
}

struct pool *
instance_pool(struct instance *in)
{
	return (in->pool);
}

void *
instance_driver_state(struct instance *in)
{
	return (in->driver_state);
}

void
instance_set_driver_state(struct instance *in, void *state)
{
	in->driver_state = state;
}

struct pools *
pool_pools(struct pool *p)
{
	return (p->pools);
}

struct engine *
pools_engine(struct pools *ps)
{
	return (ps->engine);
}

struct ev_loop *
pools_loop(struct pools *ps)
{
	return (ps->loop);
}

const struct config *
pools_config(struct pools *ps)
{
	return (*ps->conf);
}

const char *
pool_name(struct pool *p)
{
	return (p->name);
}

const struct profile *
pool_profile(struct pool *p)
{
	return (config_profile(*p->pools->conf, p->name));
}

const char *
pool_driver_name(struct pool *p)
{
	return (p->driver->name);
}

size_t
pools_count(struct pools *ps)
{
	return (ps->n);
}

struct pool *
pools_at(struct pools *ps, size_t i)
{
	return (i < ps->n ? ps->list[i] : NULL);
}

/* The pool's instances in launch order, ended ones not yet swept too. */
struct instance *
pool_instances(struct pool *p)
{
	return (TAILQ_FIRST(&p->instances));
}

struct instance *
instance_next(struct instance *in)
{
	return (TAILQ_NEXT(in, entry));
}

/* Requested, booting, ready or draining: it exists or soon will. */
int
instance_live(struct instance *in)
{
	return (in->state < INSTANCE_TERMINATING);
}

int
instance_is_ready(struct instance *in)
{
	return (in->state == INSTANCE_READY || in->state ==
	    INSTANCE_DRAINING);
}

/* Launched for a task that must not run on spot. */
int
instance_on_demand(struct instance *in)
{
	return (in->on_demand);
}

const char *
instance_cloud_id(struct instance *in)
{
	return (in->cloud_id);
}

u_int
instance_ntasks(struct instance *in)
{
	return (in->slots);
}

/* Slot i's task, or NULL. */
struct task *
instance_task(struct instance *in, u_int i)
{
	return (i < in->slots ? in->tasks[i] : NULL);
}

/*
 * The one place an instance changes state: the transition is checked,
 * written to the store and logged.
 */
/*
 * A loop time as wall time, for the bus (0 stays 0), from one offset
 * taken at start: the same instant reads the same in every message.
 */
static int64_t
pool_wall(struct pools *ps, uint64_t mono)
{
	if (mono == 0)
		return (0);
	return (ps->wall0 + (int64_t)mono);
}

static json_t *
instance_json(struct instance *in)
{
	struct pools	*ps = in->pool->pools;
	json_t		*j;

	j = json_pack("{s:s, s:s, s:s, s:i, s:i, s:s?, s:s?, s:b, s:I, s:f, "
	    "s:f, s:I}", "id", in->id, "pool", in->pool->name,
	    "state", instance_state_names[in->state], "slots", in->slots,
	    "busy", in->used, "reason", in->reason, "cloud_id", in->cloud_id,
	    "spot", in->preemptible, "launched_at", (json_int_t)in->launched_at,
	    "cost", in->meter.total / 1e6,
	    "price_per_hour", in->meter.micro_per_hour / 1e6,
	    "cost_micro", (json_int_t)in->meter.total);
	json_object_set_new(j, "idle_since", in->used == 0 &&
	    in->state == INSTANCE_READY ? json_integer(pool_wall(ps,
	    in->idle_since)) : json_null());
	json_object_set_new(j, "reap_at", in->reap_at != 0 ?
	    json_integer(pool_wall(ps, in->reap_at)) : json_null());
	return (j);
}

static u_int	pool_live(struct pool *);

static json_t *
pool_json(struct pool *p)
{
	const struct profile	*pr = config_profile(*p->pools->conf,
				    p->name);
	struct instance		*in;
	u_int			 busy = 0;
	uint64_t		 now = ev_now(p->pools->loop);
	enum breaker_state	 bs = breaker_state(&p->breaker, now);
	int64_t			 hour = 0;
	json_t			*j;
	int64_t			 metered = p->cost_ended;

	TAILQ_FOREACH(in, &p->instances, entry) {
		busy += in->used;
		if (in->state < INSTANCE_TERMINATED && in->metered) {
			hour += in->meter.micro_per_hour;
			metered += in->meter.total;
		}
	}
	j = json_pack("{s:s, s:s, s:i, s:i, s:i, s:o, s:i, s:i, s:i, s:s, "
	    "s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:I}",
	    "name", p->name, "driver", p->driver->name,
	    "slots", pr != NULL ? pr->slots : 1, "min", pr != NULL ? pr->min :
	    0, "max", pr != NULL ? pr->max : 1,
	    "cap", p->cap >= 0 ? json_integer(p->cap) : json_null(),
	    "instances", pool_live(p), "busy", busy, "queued", p->nqueued,
	    "breaker", breaker_state_name(bs),
	    "spend_per_hour", hour / 1e6, "spend_today", p->spend_today / 1e6,
	    "cost_tasks", p->cost_tasks / 1e6, "cost_idle", p->cost_idle / 1e6,
	    "cost", (p->cost_tasks + p->cost_idle) / 1e6,
	    "cost_tasks_micro", (json_int_t)p->cost_tasks,
	    "cost_idle_micro", (json_int_t)p->cost_idle,
	    "spend_per_hour_micro", (json_int_t)hour,
	    "cost_instances_micro", (json_int_t)metered);
	if (bs != BREAKER_CLOSED) {
		json_object_set_new(j, "breaker_until", json_integer(
		    pool_wall(p->pools, p->breaker.until)));
		json_object_set_new(j, "breaker_reason",
		    json_string(p->breaker_reason != NULL ?
		    p->breaker_reason : ""));
	}
	json_object_set_new(j, "launch_failures",
	    json_integer(p->breaker.failures));
	return (j);
}

/* An instance changed: publish it now (it may be freed before the end of
 * the turn), and its pool at the end of the turn. */
static void
instance_changed(struct instance *in)
{
	bus_instance(instance_json(in));
	in->pool->dirty = 1;
}

/*
 * Every pool and live instance, as the bus's snapshot has them;
 * *instances gets the instances.
 */
json_t *
pools_json(struct pools *ps, json_t **instances)
{
	struct instance	*in;
	json_t		*pools = json_array();
	size_t		 i;

	*instances = json_array();
	for (i = 0; i < ps->n; i++) {
		json_array_append_new(pools, pool_json(ps->list[i]));
		TAILQ_FOREACH(in, &ps->list[i]->instances, entry) {
			if (in->state < INSTANCE_TERMINATED)
				json_array_append_new(*instances,
				    instance_json(in));
		}
	}
	return (pools);
}

/*
 * What one of p's instances costs an hour, in USD: the price table for
 * the profile's instance type in aws.region, at the spot price for a
 * spot instance; 0 for a driver that runs on the daemon's own machine.
 */
static double
pool_price(struct pool *p, int spot)
{
	const struct config	*conf = *p->pools->conf;
	const struct profile	*pr = pool_profile(p);
	struct cost_price	*table;
	const char		*region;
	double			 od, sp = -1;
	size_t			 i;
	int			 guessed;

	if (strcmp(p->driver->name, "aws") != 0 || pr == NULL ||
	    pr->instance_type == NULL)
		return (0);
	region = conf->aws_region != NULL ? conf->aws_region : "us-east-1";
	table = xcalloc(conf->naws_prices + 1, sizeof *table);
	for (i = 0; i < conf->naws_prices; i++) {
		table[i].type = conf->aws_prices[i].type;
		table[i].usd_hour = conf->aws_prices[i].usd_hour;
	}
	od = cost_price(table, conf->naws_prices, pr->instance_type, region,
	    &guessed);
	free(table);
	if (od < 0) {
		log_warn("pool %s: no price for %s: its instances count as "
		    "free; give one in aws.prices", p->name, pr->instance_type);
		return (0);
	}
	if (guessed)
		log_info("pool %s: %s priced as in us-east-1 (aws.prices has "
		    "no price for it in %s)", p->name, pr->instance_type,
		    region);
	if (!spot)
		return (od);
	for (i = 0; i < conf->naws_spot_prices; i++) {
		if (strcmp(conf->aws_spot_prices[i].type,
		    pr->instance_type) == 0)
			sp = conf->aws_spot_prices[i].usd_hour;
	}
	return (cost_spot(od, conf->aws_spot_factor, sp));
}

/* Spend since midnight UTC: a new day starts from nothing. */
static void
pool_spent(struct pool *p, int64_t micro)
{
	int64_t	 day = ev_time(p->pools->loop) / 1000 / 86400 * 86400;

	if (day != p->spend_day) {
		p->spend_day = day;
		p->spend_today = 0;
	}
	p->spend_today += micro;
}

/*
 * Charge in's time since it was last charged: shared among the tasks on
 * it then, or to the pool when none ran. Called before and after every
 * change of its tasks (and at its end), so each interval is split among
 * exactly the tasks that ran in it.
 */
static void
instance_charge(struct instance *in, int end)
{
	struct pool	*p = in->pool;
	int64_t		 each, rest;
	u_int		 i, running = 0;

	if (!in->metered)
		return;
	for (i = 0; i < in->slots; i++) {
		if (in->tasks[i] != NULL)
			running++;
	}
	if (end) {
		cost_meter_end(&in->meter, ev_now(p->pools->loop), &each,
		    &rest);
		p->cost_ended += in->meter.total;
	}
	else
		cost_meter_advance(&in->meter, ev_now(p->pools->loop), running,
		    &each, &rest);
	for (i = 0; i < in->slots && each != 0; i++) {
		if (in->tasks[i] != NULL) {
			in->tasks[i]->cost += each;
			p->cost_tasks += each;
			pool_spent(p, each);
		}
	}
	p->cost_idle += rest;
	pool_spent(p, rest);
}

/* A launch that gave no instance: the breaker counts it. */
static void
pool_launch_failed(struct pool *p, const char *cause)
{
	uint64_t	 pause;

	free(p->breaker_reason);
	p->breaker_reason = xstrdup(cause);
	p->dirty = 1;
	if (breaker_failure(&p->breaker, ev_now(p->pools->loop), &pause))
		log_warn("pool %s: circuit breaker open for %llus after %u "
		    "failed launches in a row, the last: %s", p->name,
		    (unsigned long long)pause / 1000, p->breaker.failures,
		    cause);
}

static void
instance_set_state(struct instance *in, enum instance_state state,
    const char *reason)
{
	struct pools	*ps = in->pool->pools;
	enum instance_state old = in->state;

	if (old == state)
		return;
	if (old == INSTANCE_TERMINATED || old == INSTANCE_LOST)
		fatalx("instance %s: %s -> %s", in->id,
		    instance_state_names[old], instance_state_names[state]);
	if (state >= INSTANCE_TERMINATED)
		instance_charge(in, 1);
	in->state = state;
	free(in->reason);
	in->reason = reason != NULL ? xstrdup(reason) : NULL;
	if ((state == INSTANCE_BOOTING || state == INSTANCE_READY) &&
	    !in->metered) {
		cost_meter_init(&in->meter, pool_price(in->pool,
		    in->preemptible), ev_now(ps->loop));
		in->metered = 1;
	}
	if (state == INSTANCE_READY && old < INSTANCE_READY) {
		in->idle_since = ev_now(ps->loop);
		if (breaker_success(&in->pool->breaker))
			log_info("pool %s: circuit breaker closed: %s is up",
			    in->pool->name, in->id);
	}
	instance_changed(in);
	db_instance_save(ps->db, in->id, in->pool->name,
	    in->pool->driver->name, instance_state_names[state], in->slots,
	    reason, ev_time(ps->loop));
	log_info("pool %s: instance %s %s%s%s", in->pool->name, in->id,
	    instance_state_names[state], reason != NULL ? ": " : "",
	    reason != NULL ? reason : "");
}

static u_int
pool_live(struct pool *p)
{
	struct instance	*in;
	u_int		 n = 0;

	TAILQ_FOREACH(in, &p->instances, entry) {
		if (in->state <= INSTANCE_READY)
			n++;
	}
	return (n);
}

/* Slots that are free now or will be once booting instances are up. */
static u_int
pool_capacity(struct pool *p, int coming)
{
	struct instance	*in;
	u_int		 n = 0;

	TAILQ_FOREACH(in, &p->instances, entry) {
		if (in->state == INSTANCE_READY)
			n += in->slots - in->used;
		else if (coming && in->state < INSTANCE_READY)
			n += in->slots;
	}
	return (n);
}

static struct instance *
instance_new(struct pool *p)
{
	const struct profile	*pr = pool_profile(p);
	struct instance		*in;

	in = xcalloc(1, sizeof *in);
	in->pool = p;
	in->slots = pr != NULL ? pr->slots : 1;
	in->tasks = xcalloc(in->slots, sizeof *in->tasks);
	in->launched = ev_now(p->pools->loop);
	in->launched_at = ev_time(p->pools->loop);
	return (in);
}

static void
instance_free(struct instance *in)
{
	free(in->id);
	free(in->cloud_id);
	free(in->tasks);
	free(in->reason);
	free(in);
}

/*
 * Launch one instance: it counts against max and the cap from here, before
 * the driver calls its cloud, so demand arriving meanwhile cannot launch
 * past them. on_demand: it is for a task that must not be interrupted.
 */
static void
pool_launch(struct pool *p, const char *why, int on_demand)
{
	struct instance		*in;
	char			*cause = NULL;

	in = instance_new(p);
	in->on_demand = on_demand;
	in->state = INSTANCE_REQUESTED;
	breaker_launched(&p->breaker, ev_now(p->pools->loop));
	xasprintf(&in->id, "%s-%s-%u-%lld", p->driver->name, p->name,
	    ++p->launched, (long long)ev_time(p->pools->loop));
	TAILQ_INSERT_TAIL(&p->instances, in, entry);
	in->reason = xstrdup(why);
	instance_changed(in);
	db_instance_save(p->pools->db, in->id, p->name, p->driver->name,
	    "requested", in->slots, why, ev_time(p->pools->loop));
	log_info("pool %s: launching %s: %s", p->name, in->id, why);
	if (p->driver->launch(p, in, &cause) != 0) {
		pool_instance_failed(in, cause);
		free(cause);
	}
}

/* Drivers call this when a launched instance can take tasks. */
void
pool_instance_ready(struct instance *in)
{
	instance_set_state(in, INSTANCE_READY, NULL);
}

/* The cloud took the launch: the instance has its name and boots. */
void
pool_instance_booting(struct instance *in, const char *cloud_id, int spot)
{
	free(in->cloud_id);
	in->cloud_id = xstrdup(cloud_id);
	in->preemptible = spot;
	instance_set_state(in, INSTANCE_BOOTING, NULL);
}

/*
 * A launch failed before the instance could take a task (the cloud said
 * no, or it missed its boot deadline and the driver was told to end it):
 * it ends, and the pool's breaker counts the failure.
 */
void
pool_instance_failed(struct instance *in, const char *cause)
{
	if (in->state >= INSTANCE_TERMINATED)
		return;
	pool_launch_failed(in->pool, cause);
	instance_set_state(in, INSTANCE_TERMINATED, cause);
}

/*
 * The cloud lost an instance we had (a spot interruption, terminated by
 * someone else, gone from EC2): its tasks run again elsewhere as
 * infrastructure retries. The driver has let go of their runs first.
 */
void
pool_instance_lost(struct instance *in, const char *why)
{
	const struct profile	*pr = pool_profile(in->pool);
	struct engine		*e = in->pool->pools->engine;
	struct task		*t;
	u_int			 i;

	if (in->state >= INSTANCE_TERMINATED)
		return;
	if (in->state < INSTANCE_READY)
		pool_launch_failed(in->pool, why);
	for (i = 0; i < in->slots; i++) {
		if ((t = in->tasks[i]) == NULL)
			continue;
		/* Spot went once: the profile may want on-demand now. */
		if (in->preemptible && pr != NULL && pr->spot_fallback)
			t->on_demand = 1;
		engine_task_retry(e, t, why);
	}
	instance_set_state(in, INSTANCE_LOST, why);
}

/*
 * An instance of ours the daemon did not know (it was launched before a
 * restart, and its lease is valid): the pool takes it as it is.
 */
struct instance *
pool_instance_adopt(struct pool *p, const char *cloud_id, int spot,
    int64_t launched_at)
{
	struct instance	*in;
	int64_t		 age;

	in = instance_new(p);
	in->id = xstrdup(cloud_id);
	in->cloud_id = xstrdup(cloud_id);
	in->preemptible = spot;
	in->state = INSTANCE_REQUESTED;
	if (launched_at > 0) {
		in->launched_at = launched_at;
		age = ev_time(p->pools->loop) - launched_at;
		if (age > 0 && (uint64_t)age < in->launched)
			in->launched -= age;
	}
	TAILQ_INSERT_TAIL(&p->instances, in, entry);
	db_instance_save(p->pools->db, in->id, p->name, p->driver->name,
	    "requested", in->slots, "adopted", ev_time(p->pools->loop));
	instance_set_state(in, INSTANCE_BOOTING, "adopted after a restart");
	return (in);
}

static void
pool_terminate(struct instance *in, const char *why)
{
	instance_set_state(in, INSTANCE_TERMINATING, why);
	in->pool->driver->terminate(in->pool, in);
	instance_set_state(in, INSTANCE_TERMINATED, why);
}

static int
pool_project_turn(struct pool *p, const char *project, uint64_t *served)
{
	u_int	 i;

	for (i = 0; i < p->nprojects; i++) {
		if (strcmp(p->projects[i].project, project) == 0) {
			*served = p->projects[i].served;
			return (i);
		}
	}
	*served = 0;
	return (-1);
}

static void
pool_project_served(struct pool *p, const char *project)
{
	uint64_t	 served;
	int		 i;

	if ((i = pool_project_turn(p, project, &served)) == -1) {
		if (p->nprojects == POOL_PROJECTS_MAX) {
			free(p->projects[0].project);
			memmove(&p->projects[0], &p->projects[1],
			    (POOL_PROJECTS_MAX - 1) * sizeof p->projects[0]);
			p->nprojects--;
		}
		i = p->nprojects++;
		p->projects[i].project = xstrdup(project);
	}
	p->projects[i].served = ++p->serves;
}

static struct instance *
pool_free_instance(struct pool *p, int on_demand)
{
	struct instance	*in, *best = NULL;

	/* The busiest instance with room, so idle ones can go. */
	TAILQ_FOREACH(in, &p->instances, entry) {
		if (in->state != INSTANCE_READY || in->used >= in->slots ||
		    (on_demand && in->preemptible))
			continue;
		if (best == NULL || in->used > best->used)
			best = in;
	}
	return (best);
}

/*
 * The next task by the policy above (see the comment at the top) among
 * those a free slot can take now, and the instance it goes to: a task
 * retried after a spot interruption waits for an on-demand one.
 */
static struct task *
pool_pick(struct pool *p, struct instance **inp)
{
	struct instance	*any, *od, *in;
	struct task	*t, *best = NULL;
	uint64_t	 served, best_served = 0;
	int		 started, best_started = 0;

	any = pool_free_instance(p, 0);
	od = any != NULL && !any->preemptible ? any :
	    pool_free_instance(p, 1);
	*inp = NULL;
	TAILQ_FOREACH(t, &p->queue, qentry) {
		if ((in = t->on_demand ? od : any) == NULL)
			continue;
		started = t->phase > 0;
		pool_project_turn(p, t->build->project, &served);
		if (best == NULL || started > best_started ||
		    (started == best_started && served < best_served)) {
			best = t;
			*inp = in;
			best_started = started;
			best_served = served;
		}
	}
	return (best);
}

/* Put t on a free slot of in and have the driver run it. */
static void
pool_assign(struct pool *p, struct instance *in, struct task *t)
{
	char	*cause = NULL;
	u_int	 i;

	TAILQ_REMOVE(&p->queue, t, qentry);
	p->nqueued--;
	t->in_queue = 0;
	pool_project_served(p, t->build->project);
	instance_charge(in, 0);
	for (i = 0; i < in->slots && in->tasks[i] != NULL; i++)
		;
	in->tasks[i] = t;
	in->used++;
	in->reap_at = 0;
	instance_charge(in, 0);
	instance_changed(in);
	t->instance = in;
	if (p->driver->run(in, t, &cause) != 0) {
		engine_task_done(p->pools->engine, t, TASK_ERRORED, -1, cause);
		free(cause);
	}
}

/* Free slots a task that must not be interrupted can use, booting too. */
static u_int
pool_capacity_on_demand(struct pool *p, u_int *queued)
{
	struct instance	*in;
	struct task	*t;
	u_int		 n = 0;

	*queued = 0;
	TAILQ_FOREACH(t, &p->queue, qentry)
		*queued += t->on_demand;
	TAILQ_FOREACH(in, &p->instances, entry) {
		if (in->preemptible)
			continue;
		if (in->state == INSTANCE_READY)
			n += in->slots - in->used;
		else if (in->state < INSTANCE_READY && (in->on_demand ||
		    in->state > INSTANCE_REQUESTED))
			n += in->slots;
	}
	return (n);
}

/*
 * Queued tasks go to free slots; then the pool launches what scale.c
 * says it wants and the breaker allows, the first of them on-demand if
 * tasks retried after a spot interruption wait for such a slot.
 */
static void
pool_schedule(struct pool *p)
{
	const struct profile	*pr = pool_profile(p);
	struct instance		*in;
	struct task		*t;
	struct scale_pool	 sp;
	u_int			 want, n, i, odq, odcap, limit, nod = 0;

	while (p->nqueued > 0 && (t = pool_pick(p, &in)) != NULL)
		pool_assign(p, in, t);

	if (p->driver->can_launch != NULL && !p->driver->can_launch(p))
		return;
	memset(&sp, 0, sizeof sp);
	sp.min = pr != NULL ? pr->min : 0;
	sp.max = pr != NULL ? pr->max : 1;
	sp.cap = p->cap;
	sp.slots = pr != NULL ? pr->slots : 1;
	sp.live = pool_live(p);
	sp.capacity = pool_capacity(p, 1);
	sp.queued = p->nqueued;
	want = scale_wanted(&sp);
	odcap = pool_capacity_on_demand(p, &odq);
	if (odq > odcap) {
		/* Spot slots are no use to them: they may need launches. */
		nod = (odq - odcap + sp.slots - 1) / sp.slots;
		limit = scale_limit(&sp);
		if (nod > want)
			want = sp.live + nod <= limit ? nod : limit > sp.live ?
			    limit - sp.live : 0;
		if (nod > want)
			nod = want;
	}
	n = breaker_allows(&p->breaker, ev_now(p->pools->loop), want);
	for (i = 0; i < n; i++) {
		pool_launch(p, p->nqueued > pool_capacity(p, 1) ?
		    "tasks are waiting and no slot is free" :
		    "keeping the pool's minimum", i < nod);
	}
}

struct pool *
pools_find(struct pools *ps, const char *name)
{
	size_t	 i;

	for (i = 0; i < ps->n; i++) {
		if (strcmp(ps->list[i]->name, name) == 0)
			return (ps->list[i]);
	}
	return (NULL);
}

static struct pool *
pool_add(struct pools *ps, const struct profile *pr)
{
	struct pool	*p;
	size_t		 i;

	p = xcalloc(1, sizeof *p);
	p->pools = ps;
	p->name = xstrdup(pr->name);
	p->cap = db_pool_cap(ps->db, pr->name);
	breaker_init(&p->breaker, pr->breaker_failures,
	    pr->breaker_backoff_ms);
	if (p->cap >= 0)
		log_info("pool %s: capped at %d instances", p->name, p->cap);
	for (i = 0; i < nitems(pool_drivers); i++) {
		if (strcmp(pool_drivers[i]->name, pr->driver) == 0)
			p->driver = pool_drivers[i];
	}
	if (p->driver == NULL)
		fatalx("pool %s: no driver %s", pr->name, pr->driver);
	TAILQ_INIT(&p->instances);
	TAILQ_INIT(&p->queue);
	ps->list = xreallocarray(ps->list, ps->n + 1, sizeof *ps->list);
	ps->list[ps->n++] = p;
	return (p);
}

/* Put a task in its profile's queue; an unknown profile is its error. */
int
pools_enqueue(struct pools *ps, struct task *t, char **cause)
{
	const struct profile	*pr;
	struct pool		*p;

	if ((p = pools_find(ps, t->profile)) == NULL) {
		if ((pr = config_profile(*ps->conf, t->profile)) == NULL) {
			xasprintf(cause, "no profile '%s' in beekeeperd.yml "
			    "(profiles: ...)", t->profile);
			return (-1);
		}
		p = pool_add(ps, pr);
	}
	TAILQ_INSERT_TAIL(&p->queue, t, qentry);
	p->nqueued++;
	p->dirty = 1;
	t->in_queue = 1;
	return (0);
}

void
pools_dequeue(struct pools *ps, struct task *t)
{
	struct pool	*p;

	if (!t->in_queue || (p = pools_find(ps, t->profile)) == NULL)
		return;
	TAILQ_REMOVE(&p->queue, t, qentry);
	p->nqueued--;
	p->dirty = 1;
	t->in_queue = 0;
}

/* Ask the driver to stop a running task; it reports the end as usual. */
void
pools_cancel(struct pools *ps, struct task *t)
{
	if (t->instance != NULL)
		t->instance->pool->driver->cancel(t->instance, t);
}

/* The daemon stops with the task running: it dies with it. */
void
pools_abandon(struct pools *ps, struct task *t)
{
	if (t->instance != NULL)
		t->instance->pool->driver->abandon(t->instance, t);
}

/* A task's slot is free again. */
void
pools_task_ended(struct pools *ps, struct task *t)
{
	struct instance	*in = t->instance;

	u_int		 i;

	if (in == NULL)
		return;
	t->instance = NULL;
	instance_charge(in, 0);
	for (i = 0; i < in->slots; i++) {
		if (in->tasks[i] == t)
			in->tasks[i] = NULL;
	}
	if (in->used > 0)
		in->used--;
	instance_charge(in, 0);
	instance_changed(in);
	if (in->used == 0)
		in->idle_since = ev_now(ps->loop);
	if (in->used == 0 && in->state == INSTANCE_DRAINING)
		pool_terminate(in, "drained");
}

/* Schedule every pool, then publish those that changed. */
void
pools_schedule(struct pools *ps)
{
	size_t	 i;

	for (i = 0; i < ps->n; i++)
		pool_schedule(ps->list[i]);
	for (i = 0; i < ps->n; i++) {
		if (ps->list[i]->dirty) {
			ps->list[i]->dirty = 0;
			bus_pool(pool_json(ps->list[i]));
		}
	}
}

static struct instance *
pools_find_instance(struct pools *ps, const char *id)
{
	struct instance	*in;
	size_t		 i;

	for (i = 0; i < ps->n; i++) {
		TAILQ_FOREACH(in, &ps->list[i]->instances, entry) {
			if ((strcmp(in->id, id) == 0 || (in->cloud_id != NULL &&
			    strcmp(in->cloud_id, id) == 0)) &&
			    in->state < INSTANCE_TERMINATING)
				return (in);
		}
	}
	return (NULL);
}

/* No new task goes to in; the driver tells its cloud (ECS: DRAINING). */
static void
instance_set_draining(struct instance *in, const char *why)
{
	instance_set_state(in, INSTANCE_DRAINING, why);
	if (in->pool->driver->drain != NULL)
		in->pool->driver->drain(in, 1);
}

/* Drain one instance: no new task; it goes once its tasks have ended. */
static void
instance_drain(struct instance *in, const char *who)
{
	char	*why;

	xasprintf(&why, "drained by %s", who);
	if (in->state != INSTANCE_READY && in->state != INSTANCE_DRAINING)
		pool_terminate(in, why);	/* not up yet */
	else if (in->used == 0)
		pool_terminate(in, why);
	else if (in->state != INSTANCE_DRAINING)
		instance_set_draining(in, why);
	free(why);
}

/*
 * An operator drains an instance (op "drain") or takes it back
 * ("undrain"), or drains every live instance of a pool ("drain-pool").
 * Returns -1 with *cause when there is nothing to do it to.
 */
int
pools_drain(struct pools *ps, const char *op, const char *name,
    const char *who, char **cause)
{
	struct instance	*in, *next;
	struct pool	*p;
	char		*why;
	u_int		 n = 0;

	if (strcmp(op, "drain-pool") == 0) {
		if ((p = pools_find(ps, name)) == NULL) {
			xasprintf(cause, "no pool '%s': pools are the profiles "
			    "of beekeeperd.yml", name);
			return (-1);
		}
		for (in = TAILQ_FIRST(&p->instances); in != NULL; in = next) {
			next = TAILQ_NEXT(in, entry);
			if (in->state <= INSTANCE_READY) {
				instance_drain(in, who);
				n++;
			}
		}
		log_info("pool %s: %u instances drained by %s", name, n, who);
		return (0);
	}
	if ((in = pools_find_instance(ps, name)) == NULL) {
		xasprintf(cause, "no live instance '%s'", name);
		return (-1);
	}
	if (strcmp(op, "drain") == 0) {
		instance_drain(in, who);
		return (0);
	}
	if (in->state != INSTANCE_DRAINING) {
		xasprintf(cause, "instance %s is %s, not draining", name,
		    instance_state_names[in->state]);
		return (-1);
	}
	xasprintf(&why, "undrained by %s", who);
	instance_set_state(in, INSTANCE_READY, why);
	if (in->pool->driver->drain != NULL)
		in->pool->driver->drain(in, 0);
	free(why);
	return (0);
}

/*
 * The live instance to let go first when a pool shrinks: one that has
 * not started yet, then an idle one, then the one running fewest tasks.
 */
static struct instance *
pool_shrink_pick(struct pool *p)
{
	struct instance	*in, *best = NULL;
	int		 rank, best_rank = 0;

	TAILQ_FOREACH(in, &p->instances, entry) {
		if (in->state > INSTANCE_READY)
			continue;
		rank = in->state < INSTANCE_READY ? 0 : 1 + (int)in->used;
		if (best == NULL || rank < best_rank) {
			best = in;
			best_rank = rank;
		}
	}
	return (best);
}

/*
 * A cap below the pool's live instances: the extra ones (down to the
 * cap, or the profile's min if that is more) go at once if no task runs
 * on them, and are drained otherwise, so no task is ever killed for it.
 */
static void
pool_shrink(struct pool *p, int cap)
{
	const struct profile	*pr = config_profile(*p->pools->conf, p->name);
	struct instance		*in;
	u_int			 keep;
	char			*why;

	keep = scale_keep(cap, pr != NULL ? pr->min : 0);
	xasprintf(&why, "the pool's cap is now %d", cap);
	while (pool_live(p) > keep && (in = pool_shrink_pick(p)) != NULL) {
		if (in->state == INSTANCE_READY && in->used > 0)
			instance_set_draining(in, why);
		else
			pool_terminate(in, why);
	}
	free(why);
}

/*
 * The operator's cap on a pool's instances (-1: none), stored so it
 * outlives a restart. A pool above a new cap shrinks to it
 * (pool_shrink); no busy instance is stopped for it. Returns -1 with
 * *cause for a pool that does not exist.
 */
int
pools_set_cap(struct pools *ps, const char *name, int cap, char **cause)
{
	const struct profile	*pr;
	struct pool		*p;

	if ((p = pools_find(ps, name)) == NULL) {
		if ((pr = config_profile(*ps->conf, name)) == NULL) {
			xasprintf(cause, "no pool '%s': pools are the profiles "
			    "of beekeeperd.yml", name);
			return (-1);
		}
		p = pool_add(ps, pr);
	}
	if (db_pool_set_cap(ps->db, name, cap) != 0) {
		xasprintf(cause, "the store failed: %s", db_error(ps->db));
		return (-1);
	}
	p->cap = cap;
	p->dirty = 1;
	if (cap >= 0)
		log_info("pool %s: capped at %d instances", name, cap);
	else
		log_info("pool %s: cap removed", name);
	if (cap >= 0)
		pool_shrink(p, cap);
	return (0);
}

/*
 * One instance's second: swept once ended; failed if it missed its boot
 * deadline; charged; reaped once idle past idle_timeout (scale.c).
 */
static void
pool_tick_instance(struct pool *p, const struct profile *pr,
    struct instance *in, const struct scale_pool *sp)
{
	uint64_t	 now = ev_now(p->pools->loop), reap_at;
	char		*why;

	if (in->state == INSTANCE_TERMINATED || in->state == INSTANCE_LOST) {
		TAILQ_REMOVE(&p->instances, in, entry);
		instance_free(in);
		return;
	}
	if (in->state < INSTANCE_READY && pr != NULL &&
	    scale_boot_expired(in->launched, pr->boot_timeout_ms, now)) {
		xasprintf(&why, "not ready within %llus (boot_timeout)",
		    (unsigned long long)pr->boot_timeout_ms / 1000);
		pool_launch_failed(p, why);
		pool_terminate(in, why);
		free(why);
		return;
	}
	instance_charge(in, 0);
	if (in->state != INSTANCE_READY || pr == NULL)
		return;
	if (scale_idle_expired(sp, in->used, in->idle_since,
	    pr->idle_timeout_ms, now, &reap_at)) {
		pool_terminate(in, "idle past idle_timeout");
		return;
	}
	if (reap_at != in->reap_at) {
		in->reap_at = reap_at;
		instance_changed(in);
	}
}

/*
 * Once a second, every instance of every pool (pool_tick_instance), then
 * scheduling, which keeps min and retries launches the breaker held back;
 * a pool whose machines cost money is published for its spend.
 */
static void
pools_tick(struct ev_loop *loop, void *arg)
{
	struct pools		*ps = arg;
	const struct profile	*pr;
	struct instance		*in, *next;
	struct scale_pool	 sp;
	struct pool		*p;
	size_t			 i;

	ps->tick = ev_timer_add(loop, POOL_TICK_MS, pools_tick, ps);
	for (i = 0; i < ps->n; i++) {
		p = ps->list[i];
		pr = pool_profile(p);
		memset(&sp, 0, sizeof sp);
		sp.min = pr != NULL ? pr->min : 0;
		sp.queued = p->nqueued;
		for (in = TAILQ_FIRST(&p->instances); in != NULL; in = next) {
			next = TAILQ_NEXT(in, entry);
			sp.live = pool_live(p);
			if (in->metered && in->meter.micro_per_hour > 0 &&
			    in->state < INSTANCE_TERMINATED)
				p->dirty = 1;
			pool_tick_instance(p, pr, in, &sp);
		}
		if (breaker_state(&p->breaker, ev_now(loop)) != BREAKER_CLOSED)
			p->dirty = 1;
	}
	pools_schedule(ps);
}

struct pools *
pools_create(struct engine *e, struct ev_loop *loop, struct db *db,
    const struct config **conf)
{
	struct pools	*ps;
	size_t		 i;

	ps = xcalloc(1, sizeof *ps);
	ps->engine = e;
	ps->loop = loop;
	ps->db = db;
	ps->conf = conf;
	ps->wall0 = ev_time(loop) - (int64_t)ev_now(loop);
	/* Cloud instances that outlived us come back through a reconcile. */
	for (i = 0; i < nitems(pool_drivers); i++)
		db_instances_end_all(db, pool_drivers[i]->name, ev_time(loop));
	for (i = 0; i < (*conf)->nprofiles; i++)
		pool_add(ps, &(*conf)->profiles[i]);
	for (i = 0; i < nitems(pool_drivers); i++) {
		if (pool_drivers[i]->start != NULL)
			pool_drivers[i]->start(ps);
	}
	ps->tick = ev_timer_add(loop, POOL_TICK_MS, pools_tick, ps);
	return (ps);
}

void
pools_free(struct pools *ps)
{
	struct instance	*in;
	struct pool	*p;
	size_t		 i;
	u_int		 j;

	if (ps == NULL)
		return;
	ev_timer_del(ps->tick);
	/*
	 * Machines of this host end with the daemon; a cloud's keep running
	 * under their lease, for the next start to adopt (or the reaper).
	 */
	for (i = 0; i < nitems(pool_drivers); i++) {
		if (pool_drivers[i]->stop != NULL)
			pool_drivers[i]->stop(ps);
	}
	for (i = 0; i < ps->n; i++) {
		p = ps->list[i];
		while ((in = TAILQ_FIRST(&p->instances)) != NULL) {
			TAILQ_REMOVE(&p->instances, in, entry);
			if (in->state < INSTANCE_TERMINATED &&
			    !p->driver->outlives_daemon)
				pool_terminate(in, "the daemon stopped");
			instance_free(in);
		}
		for (j = 0; j < p->nprojects; j++)
			free(p->projects[j].project);
		free(p->breaker_reason);
		free(p->name);
		free(p);
	}
	free(ps->list);
	free(ps);
}
