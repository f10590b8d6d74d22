/*
 * Prices and the cost meter: the config's prices before the defaults,
 * spot by factor or outright, and an instance's time charged per second
 * with a one-minute minimum, shared by the tasks running on it, the rest
 * to the pool, with nothing lost or made up in the sums.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "tap.h"

static void
check_prices(void)
{
	static const struct cost_price conf[] = {
		{ "c5.large", "eu-west-1", 0.096 },
		{ "x9.huge", NULL, 12.5 },
	};
	int	 guessed;

	ok(cost_price(conf, 2, "c5.large", "eu-west-1", &guessed) == 0.096 &&
	    !guessed, "the config's price for a type and region");
	ok(cost_price(conf, 2, "x9.huge", "ap-south-1", &guessed) == 12.5 &&
	    !guessed, "the config's price for a type in any region");
	ok(cost_price(conf, 2, "c5.large", "us-east-1", &guessed) == 0.085 &&
	    !guessed, "the default for us-east-1");
	ok(cost_price(NULL, 0, "m5.large", "eu-central-1", &guessed) ==
	    0.096 && guessed, "another region: us-east-1's, said to be a "
	    "guess");
	ok(cost_price(NULL, 0, "z1.unknown", "us-east-1", &guessed) == -1,
	    "an unknown type has no price");
	ok(cost_spot(0.1, 0.3, -1) > 0.0299 && cost_spot(0.1, 0.3, -1) <
	    0.0301, "spot: a factor of on-demand");
	ok(cost_spot(0.1, 0.3, 0.05) == 0.05, "spot: an explicit price");
}

static void
check_meter(void)
{
	struct cost_meter	 m;
	int64_t			 each, pool, tasks = 0, pools = 0;

	/* $0.36 an hour: 100 micro-dollars a second. */
	cost_meter_init(&m, 0.36, 1000000);
	cost_meter_advance(&m, 1010000, 2, &each, &pool);
	ok(each == 0 && pool == 1000, "10 s booting: 1000 to the pool");
	pools += pool;
	cost_meter_advance(&m, 1040000, 1, &each, &pool);
	ok(each == 1500 && pool == 0, "30 s of two tasks: 1500 each");
	tasks += 2 * each;
	pools += pool;
	cost_meter_advance(&m, 1050000, 0, &each, &pool);
	ok(each == 1000 && pool == 0, "10 s of one task: 1000 to it");
	tasks += each;
	pools += pool;
	cost_meter_end(&m, 1050000, &each, &pool);
	ok(each == 0 && pool == 1000,
	    "ended after 50 s: the minute's last 10 s go to the pool");
	pools += pool;
	ok(m.total == 6000 && tasks + pools == m.total,
	    "one minute charged in all, and every micro-dollar somewhere");

	cost_meter_init(&m, 0.36, 0);
	cost_meter_advance(&m, 3, 3, &each, &pool);
	cost_meter_advance(&m, 120000, 0, &each, &pool);
	cost_meter_end(&m, 125000, &each, &pool);
	ok(m.total == 12500, "past the minimum: per second exactly "
	    "(125 s at 100 a second)");

	/* $0.0416 an hour: 11.5555... micro-dollars a second. */
	cost_meter_init(&m, 0.0416, 0);
	for (each = 1; each <= 3600; each++)
		cost_meter_advance(&m, (uint64_t)each * 1000, 0, &tasks,
		    &pool);
	ok(m.total == 41600, "fractions of a micro-dollar carry: an hour "
	    "of t3.medium is exactly its price");
}

int
main(void)
{
	check_prices();
	check_meter();
	done_testing();
}
