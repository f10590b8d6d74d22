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
	struct pool		*pool;
	enum instance_state	 state;
	u_int			 slots;
	u_int			 used;
	uint64_t		 idle_since;
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
};

struct pools {
	struct engine		*engine;
	struct ev_loop		*loop;
	struct db		*db;
	const struct config	**conf;
	struct pool		**list;
	size_t			 n;
	struct ev_timer		*tick;
};

static const struct driver *pool_drivers[] = { &driver_local };

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

/*
 * The one place an instance changes state: the transition is checked,
 * written to the store and logged.
 */
static json_t *
instance_json(struct instance *in)
{
	return (json_pack("{s:s, s:s, s:s, s:i, s:i, s:s?}",
	    "id", in->id, "pool", in->pool->name,
	    "state", instance_state_names[in->state], "slots", in->slots,
	    "busy", in->used, "reason", in->reason));
}

static u_int	pool_live(struct pool *);

static json_t *
pool_json(struct pool *p)
{
	const struct profile	*pr = config_profile(*p->pools->conf,
				    p->name);
	struct instance		*in;
	u_int			 busy = 0;

	TAILQ_FOREACH(in, &p->instances, entry)
		busy += in->used;
	return (json_pack("{s:s, s:s, s:i, s:i, s:i, s:o, s:i, s:i, s:i}",
	    "name", p->name, "driver", p->driver->name,
	    "slots", pr != NULL ? pr->slots : 1, "min", pr != NULL ? pr->min :
	    0, "max", pr != NULL ? pr->max : 1,
	    "cap", p->cap >= 0 ? json_integer(p->cap) : json_null(),
	    "instances", pool_live(p), "busy", busy, "queued", p->nqueued));
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
	in->state = state;
	free(in->reason);
	in->reason = reason != NULL ? xstrdup(reason) : NULL;
	if (state == INSTANCE_READY)
		in->idle_since = ev_now(ps->loop);
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

static void
pool_launch(struct pool *p, const char *why)
{
	const struct profile	*pr;
	struct instance		*in;
	char			*cause = NULL;

	pr = config_profile(*p->pools->conf, p->name);
	in = xcalloc(1, sizeof *in);
	in->pool = p;
	in->slots = pr != NULL ? pr->slots : 1;
	in->state = INSTANCE_REQUESTED;
	xasprintf(&in->id, "%s-%s-%u-%lld", p->driver->name, p->name,
	    ++p->launched, (long long)ev_time(p->pools->loop));
	TAILQ_INSERT_TAIL(&p->instances, in, entry);
	in->reason = xstrdup(why);
	instance_changed(in);
	db_instance_save(p->pools->db, in->id, p->name, p->driver->name,
	    "requested", in->slots, why, ev_time(p->pools->loop));
	log_info("pool %s: launching %s: %s", p->name, in->id, why);
	if (p->driver->launch(p, in, &cause) != 0) {
		instance_set_state(in, INSTANCE_LOST, cause);
		free(cause);
	}
}

/* Drivers call this when a launched instance can take tasks. */
void
pool_instance_ready(struct instance *in)
{
	instance_set_state(in, INSTANCE_READY, NULL);
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

/* The next task by the policy above; see the comment at the top. */
static struct task *
pool_pick(struct pool *p)
{
	struct task	*t, *best = NULL;
	uint64_t	 served, best_served = 0;
	int		 started, best_started = 0;

	TAILQ_FOREACH(t, &p->queue, qentry) {
		started = t->phase > 0;
		pool_project_turn(p, t->build->project, &served);
		if (best == NULL || started > best_started ||
		    (started == best_started && served < best_served)) {
			best = t;
			best_started = started;
			best_served = served;
		}
	}
	return (best);
}

static struct instance *
pool_free_instance(struct pool *p)
{
	struct instance	*in, *best = NULL;

	/* The busiest instance with room, so idle ones can go. */
	TAILQ_FOREACH(in, &p->instances, entry) {
		if (in->state != INSTANCE_READY || in->used >= in->slots)
			continue;
		if (best == NULL || in->used > best->used)
			best = in;
	}
	return (best);
}

static void
pool_schedule(struct pool *p)
{
	const struct profile	*pr = config_profile(*p->pools->conf, p->name);
	struct instance		*in;
	struct task		*t;
	char			*cause = NULL;
	u_int			 limit;

	while (p->nqueued > 0 && (in = pool_free_instance(p)) != NULL) {
		t = pool_pick(p);
		TAILQ_REMOVE(&p->queue, t, qentry);
		p->nqueued--;
		t->in_queue = 0;
		pool_project_served(p, t->build->project);
		in->used++;
		instance_changed(in);
		t->instance = in;
		if (p->driver->run(in, t, &cause) != 0) {
			in->used--;
			t->instance = NULL;
			engine_task_done(p->pools->engine, t, TASK_ERRORED, -1,
			    cause);
			free(cause);
			cause = NULL;
		}
	}

	limit = pr != NULL ? pr->max : 1;
	if (p->cap >= 0 && (u_int)p->cap < limit)
		limit = p->cap;
	while (p->nqueued > pool_capacity(p, 1) && pool_live(p) < limit)
		pool_launch(p, "tasks are waiting and no slot is free");
	while (pr != NULL && pool_live(p) < pr->min)
		pool_launch(p, "keeping the pool's minimum");
}

static struct pool *
pool_find(struct pools *ps, const char *name)
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

	if ((p = pool_find(ps, t->profile)) == NULL) {
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

	if (!t->in_queue || (p = pool_find(ps, t->profile)) == NULL)
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

	if (in == NULL)
		return;
	t->instance = NULL;
	if (in->used > 0)
		in->used--;
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
			if (strcmp(in->id, id) == 0 &&
			    in->state < INSTANCE_TERMINATING)
				return (in);
		}
	}
	return (NULL);
}

/* Drain one instance: no new task; it goes once its tasks have ended. */
static void
instance_drain(struct instance *in, const char *who)
{
	char	*why;

	xasprintf(&why, "drained by %s", who);
	if (in->state == INSTANCE_READY && in->used == 0)
		pool_terminate(in, why);
	else if (in->state != INSTANCE_DRAINING)
		instance_set_state(in, INSTANCE_DRAINING, why);
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
		if ((p = pool_find(ps, name)) == NULL) {
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
	u_int			 keep = cap;
	char			*why;

	if (pr != NULL && pr->min > keep)
		keep = pr->min;
	xasprintf(&why, "the pool's cap is now %d", cap);
	while (pool_live(p) > keep && (in = pool_shrink_pick(p)) != NULL) {
		if (in->state == INSTANCE_READY && in->used > 0)
			instance_set_state(in, INSTANCE_DRAINING, why);
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

	if ((p = pool_find(ps, name)) == NULL) {
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

/* Once a second: idle instances above the pool's minimum go. */
static void
pools_tick(struct ev_loop *loop, void *arg)
{
	struct pools		*ps = arg;
	const struct profile	*pr;
	struct instance		*in, *next;
	struct pool		*p;
	size_t			 i;

	ps->tick = ev_timer_add(loop, POOL_TICK_MS, pools_tick, ps);
	for (i = 0; i < ps->n; i++) {
		p = ps->list[i];
		pr = config_profile(*ps->conf, p->name);
		for (in = TAILQ_FIRST(&p->instances); in != NULL; in = next) {
			next = TAILQ_NEXT(in, entry);
			if (in->state == INSTANCE_TERMINATED ||
			    in->state == INSTANCE_LOST) {
				TAILQ_REMOVE(&p->instances, in, entry);
				free(in->id);
				free(in->reason);
				free(in);
				continue;
			}
			if (in->state != INSTANCE_READY || in->used != 0 ||
			    p->nqueued != 0 || pr == NULL ||
			    pool_live(p) <= pr->min ||
			    ev_now(loop) - in->idle_since < pr->idle_timeout_ms)
				continue;
			pool_terminate(in, "idle past idle_timeout");
		}
	}
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
	db_instances_end_all(db, "local", ev_time(loop));
	for (i = 0; i < (*conf)->nprofiles; i++)
		pool_add(ps, &(*conf)->profiles[i]);
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
	for (i = 0; i < ps->n; i++) {
		p = ps->list[i];
		while ((in = TAILQ_FIRST(&p->instances)) != NULL) {
			TAILQ_REMOVE(&p->instances, in, entry);
			if (in->state < INSTANCE_TERMINATED)
				pool_terminate(in, "the daemon stopped");
			free(in->id);
			free(in->reason);
			free(in);
		}
		for (j = 0; j < p->nprojects; j++)
			free(p->projects[j].project);
		free(p->name);
		free(p);
	}
	free(ps->list);
	free(ps);
}
