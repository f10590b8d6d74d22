/*
 * What machines cost: a price table (instance type and region to the
 * on-demand price per hour, with defaults for common types, overridden
 * by the config), spot prices as a factor of on-demand or given outright,
 * and a meter per instance that charges its time as it passes.
 *
 * How an instance's time is charged (beekeeperd(8), COST):
 * - per second, with a minimum of COST_MIN_SECONDS, as EC2 bills Linux;
 * - while tasks run on it, each second is shared among them equally and
 *   charged to each task (and so to its build and pull request);
 * - while none runs (booting, idle, draining), it is charged to the pool;
 * - what the minimum adds when an instance ends early goes to the pool.
 *
 * Money is kept in micro-dollars (1e-6 USD) as integers, so sums over a
 * sprint do not drift.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "daemon.h"

#define COST_MIN_SECONDS	60

/*
 * On-demand Linux prices in us-east-1, USD per hour, as AWS listed them
 * in 2026. Other regions are priced from these by the config's
 * aws.prices, or from this table when it says nothing (and -n says so).
 */
static const struct cost_price cost_defaults[] = {
	{ "t3.medium", "us-east-1", 0.0416 },
	{ "t3.large", "us-east-1", 0.0832 },
	{ "t3.xlarge", "us-east-1", 0.1664 },
	{ "t3.2xlarge", "us-east-1", 0.3328 },
	{ "m5.large", "us-east-1", 0.096 },
	{ "m5.xlarge", "us-east-1", 0.192 },
	{ "m5.2xlarge", "us-east-1", 0.384 },
	{ "m6i.large", "us-east-1", 0.096 },
	{ "m6i.xlarge", "us-east-1", 0.192 },
	{ "m6i.2xlarge", "us-east-1", 0.384 },
	{ "c5.large", "us-east-1", 0.085 },
	{ "c5.xlarge", "us-east-1", 0.17 },
	{ "c5.2xlarge", "us-east-1", 0.34 },
	{ "c5.4xlarge", "us-east-1", 0.68 },
	{ "c6i.large", "us-east-1", 0.085 },
	{ "c6i.xlarge", "us-east-1", 0.17 },
	{ "c6i.2xlarge", "us-east-1", 0.34 },
	{ "c6i.4xlarge", "us-east-1", 0.68 },
	{ "c6g.large", "us-east-1", 0.068 },
	{ "c6g.xlarge", "us-east-1", 0.136 },
	{ "c7g.large", "us-east-1", 0.0725 },
	{ "c7g.xlarge", "us-east-1", 0.145 },
};

/*
 * The on-demand price per hour of type in region: the config's table
 * first, then the defaults for the region, then the defaults for
 * us-east-1 (*guessed set). -1 if nothing knows the type.
 */
double
cost_price(const struct cost_price *table, size_t n, const char *type,
    const char *region, int *guessed)
{
	size_t	 i;

	*guessed = 0;
	for (i = 0; i < n; i++) {
		if (strcmp(table[i].type, type) == 0 && (table[i].region ==
		    NULL || strcmp(table[i].region, region) == 0))
			return (table[i].usd_hour);
	}
	for (i = 0; i < nitems(cost_defaults); i++) {
		if (strcmp(cost_defaults[i].type, type) == 0 &&
		    strcmp(cost_defaults[i].region, region) == 0)
			return (cost_defaults[i].usd_hour);
	}
	for (i = 0; i < nitems(cost_defaults); i++) {
		if (strcmp(cost_defaults[i].type, type) == 0) {
			*guessed = 1;
			return (cost_defaults[i].usd_hour);
		}
	}
	return (-1);
}

/*
 * What one instance of an aws profile costs an hour, in USD, in
 * aws.region: aws.prices, else the defaults (*guessed when only
 * us-east-1's are); spot: aws.spot_prices (*explicit_spot set), else
 * on-demand times aws.spot_factor. -1 if nothing knows the type.
 */
double
cost_profile(const struct config *conf, const struct profile *pr, int spot,
    int *guessed, int *explicit_spot)
{
	struct cost_price	*table;
	double			 od, sp = -1;
	size_t			 i;

	*guessed = 0;
	if (explicit_spot != NULL)
		*explicit_spot = 0;
	table = xcalloc(conf->naws_prices + 1, sizeof *table);
	for (i = 0; i < conf->naws_prices; i++) {
		table[i].type = conf->aws_prices[i].type;
		table[i].usd_hour = conf->aws_prices[i].usd_hour;
	}
	od = cost_price(table, conf->naws_prices, pr->instance_type,
	    conf->aws_region != NULL ? conf->aws_region : "us-east-1",
	    guessed);
	free(table);
	if (od < 0 || !spot)
		return (od);
	for (i = 0; i < conf->naws_spot_prices; i++) {
		if (strcmp(conf->aws_spot_prices[i].type,
		    pr->instance_type) == 0)
			sp = conf->aws_spot_prices[i].usd_hour;
	}
	if (explicit_spot != NULL)
		*explicit_spot = sp >= 0;
	return (cost_spot(od, conf->aws_spot_factor, sp));
}

/* A spot price: explicit if given (>= 0), else on-demand times factor. */
double
cost_spot(double on_demand, double factor, double explicit_price)
{
	if (explicit_price >= 0)
		return (explicit_price);
	return (on_demand * factor);
}

void
cost_meter_init(struct cost_meter *m, double usd_hour, uint64_t now_ms)
{
	memset(m, 0, sizeof *m);
	m->micro_per_hour = (int64_t)(usd_hour * 1e6 + 0.5);
	m->started = m->last = now_ms;
}

/* The cost of ms milliseconds, in micro-dollars, with the carry kept. */
static int64_t
cost_of(struct cost_meter *m, uint64_t ms)
{
	/* micro-dollars per hour * ms / 3,600,000, remainder carried */
	int64_t	 num = m->micro_per_hour * (int64_t)ms + m->carry;

	m->carry = num % 3600000;
	return (num / 3600000);
}

/*
 * Charge the time since the last change, then note how many tasks run
 * from now on. *each (per running task until now) and *pool get what
 * this interval costs.
 */
void
cost_meter_advance(struct cost_meter *m, uint64_t now_ms, u_int running,
    int64_t *each, int64_t *pool)
{
	int64_t	 c;

	*each = *pool = 0;
	if (now_ms > m->last) {
		c = cost_of(m, now_ms - m->last);
		if (m->running > 0) {
			*each = c / m->running;
			*pool = c - *each * m->running;	/* the remainder */
		} else
			*pool = c;
		m->total += c;
	}
	m->last = now_ms > m->last ? now_ms : m->last;
	m->running = running;
}

/*
 * The instance ends: charge the last interval as cost_meter_advance
 * does, and the rest of the billing minimum to the pool.
 */
void
cost_meter_end(struct cost_meter *m, uint64_t now_ms, int64_t *each,
    int64_t *pool)
{
	uint64_t	 min_end = m->started + COST_MIN_SECONDS * 1000;

	cost_meter_advance(m, now_ms, 0, each, pool);
	if (now_ms < min_end) {
		int64_t	 c = cost_of(m, min_end - now_ms);

		*pool += c;
		m->total += c;
	}
}
