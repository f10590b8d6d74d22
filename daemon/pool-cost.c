/*
 * What pools cost and how they read on the bus. Each instance has a
 * meter (cost.c) priced from the profile's instance type in aws.region
 * (a spot instance at the spot price; the local driver's at nothing),
 * charged before and after every change of its tasks so each interval
 * is split among exactly the tasks that ran in it, the rest going to
 * the pool. A pool's cost_tasks + cost_idle is always what its
 * instances cost (cost_ended plus the live meters), to the
 * micro-dollar. Times go out as wall clock from one offset taken at
 * start, so a message and a snapshot agree on them.
 */

#include "config.h"

#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "daemon.h"

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

json_t *
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
void
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
double
pool_price(struct pool *p, int spot)
{
	const struct config	*conf = *p->pools->conf;
	const struct profile	*pr = pool_profile(p);
	double			 usd;
	int			 guessed;

	if (strcmp(p->driver->name, "aws") != 0 || pr == NULL ||
	    pr->instance_type == NULL)
		return (0);
	if ((usd = cost_profile(conf, pr, spot, &guessed, NULL)) < 0) {
		log_warn("pool %s: no price for %s: its instances count as "
		    "free; give one in aws.prices", p->name, pr->instance_type);
		return (0);
	}
	if (guessed)
		log_info("pool %s: %s priced as in us-east-1 (aws.prices has "
		    "no price for it in %s)", p->name, pr->instance_type,
		    conf->aws_region);
	return (usd);
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
void
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
