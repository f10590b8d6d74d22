/*
 * What an operator does to pools through the control socket: drain an
 * instance (or a whole pool) and take it back, and cap a pool. A cap
 * below the live instances shrinks the pool at once without stopping a
 * task: instances not ready yet and idle ones go, busy ones drain. The
 * cap is stored, so it outlives a restart.
 */

#include "config.h"

#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "daemon.h"

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
