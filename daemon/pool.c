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
 * through pool_instance_ready() (booting, failed, lost, adopted) and
 * engine_task_started/done/retry(). So a driver whose machines take
 * minutes to boot plugs in without a change here. How many to launch,
 * when one is idle or late, and the circuit breaker are scale.c's
 * decisions; what instances cost and how pools read on the bus are in
 * pool-cost.c, and the operator's drain and cap in pool-admin.c.
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

const char *instance_state_names[] = {
	[INSTANCE_REQUESTED] = "requested",
	[INSTANCE_BOOTING] = "booting",
	[INSTANCE_READY] = "ready",
	[INSTANCE_DRAINING] = "draining",
	[INSTANCE_TERMINATING] = "terminating",
	[INSTANCE_TERMINATED] = "terminated",
	[INSTANCE_LOST] = "lost",
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

/*
 * One transaction around many instance changes (a reconcile adopting a
 * thousand instances): one sync of the store instead of two each.
 * Nothing inside may start a transaction of its own.
 */
int
pools_begin(struct pools *ps)
{
	return (db_begin(ps->db));
}

void
pools_commit(struct pools *ps)
{
	if (db_commit(ps->db) != 0)
		db_rollback(ps->db);
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

/* A launch that gave no instance: the breaker counts it. */
void
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

/*
 * The one place an instance changes state: the transition is checked,
 * written to the store and logged.
 */
void
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

u_int
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
u_int
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

void
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

struct pool *
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

/*
 * One instance's second: swept once ended; failed if it missed its boot
 * deadline; charged; reaped once idle past idle_timeout (scale.c).
 */
static void
pool_tick_instance(struct pool *p, const struct profile *pr,
    struct instance *in, struct scale_pool *sp)
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
		sp->live--;
		free(why);
		return;
	}
	instance_charge(in, 0);
	if (in->state != INSTANCE_READY || pr == NULL)
		return;
	if (scale_idle_expired(sp, in->used, in->idle_since,
	    pr->idle_timeout_ms, now, &reap_at)) {
		pool_terminate(in, "idle past idle_timeout");
		sp->live--;
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
		/* Counted once, kept as instances go: 1000 stay linear. */
		sp.live = pool_live(p);
		for (in = TAILQ_FIRST(&p->instances); in != NULL; in = next) {
			next = TAILQ_NEXT(in, entry);
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
