/*
 * The pools' scaling decisions (daemon/scale.c), one case each, under
 * the event loop's virtual clock: launches for the queue beyond free and
 * booting slots, never past max or the cap; min kept, including with
 * nothing queued and under a lower cap; an idle instance reaped after idle_timeout, never below
 * min, never with a task or a queue; the boot deadline; the circuit
 * breaker opening after repeated failures, its doubling backoff, the one
 * probe when half-open, and closing on success.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "tap.h"

static struct scale_pool
pool(u_int min, u_int max, int cap, u_int slots, u_int live,
    u_int capacity, u_int queued)
{
	struct scale_pool	 sp;

	memset(&sp, 0, sizeof sp);
	sp.min = min;
	sp.max = max;
	sp.cap = cap;
	sp.slots = slots;
	sp.live = live;
	sp.capacity = capacity;
	sp.queued = queued;
	return (sp);
}

static void
check_launches(void)
{
	struct scale_pool	 sp;

	sp = pool(0, 5, -1, 1, 0, 0, 20);
	is_int(scale_wanted(&sp), 5, "20 queued, max 5, one slot each: 5 "
	    "launches, not 20");
	sp = pool(0, 10, -1, 4, 0, 0, 9);
	is_int(scale_wanted(&sp), 3, "9 queued on 4-slot instances: 3 "
	    "(rounded up)");
	sp = pool(0, 10, -1, 2, 2, 3, 3);
	is_int(scale_wanted(&sp), 0, "free and booting slots cover the "
	    "queue: no launch");
	sp = pool(0, 10, -1, 2, 2, 3, 4);
	is_int(scale_wanted(&sp), 1, "one task beyond them: one launch");
	sp = pool(0, 10, 3, 1, 1, 0, 8);
	is_int(scale_wanted(&sp), 2, "the cap (3) is lower than max: up to "
	    "it");
	sp = pool(0, 10, 0, 1, 0, 0, 8);
	is_int(scale_wanted(&sp), 0, "a cap of 0 stops a pool without min");
	sp = pool(0, 5, -1, 1, 5, 0, 8);
	is_int(scale_wanted(&sp), 0, "at max: none, however long the queue");
	sp = pool(0, 5, 2, 1, 4, 0, 8);
	is_int(scale_wanted(&sp), 0, "above a lowered cap: none");
	is_int(scale_limit(&sp), 2, "the limit is the lower of max and cap");
}

static void
check_min(void)
{
	struct scale_pool	 sp;

	sp = pool(2, 5, -1, 1, 0, 0, 0);
	is_int(scale_wanted(&sp), 2, "nothing queued at start: launch to "
	    "reach min");
	sp = pool(2, 5, -1, 1, 1, 1, 0);
	is_int(scale_wanted(&sp), 1, "one short of min: one");
	sp = pool(3, 5, 1, 1, 0, 0, 0);
	is_int(scale_wanted(&sp), 3, "min holds under a lower cap");
	sp = pool(1, 5, 2, 1, 2, 0, 6);
	is_int(scale_wanted(&sp), 0, "but demand stops at the cap");
	is_int(scale_keep(1, 3), 3, "but a lowered cap does not shrink below "
	    "min");
	is_int(scale_keep(4, 1), 4, "a cap above min keeps the cap");
	ok(scale_keep(-1, 1) > 1000, "no cap: nothing to shrink");
}

static void
check_idle(struct ev_loop *loop)
{
	struct scale_pool	 sp;
	uint64_t		 idle_since, at, timeout = 300000;

	idle_since = ev_now(loop);
	sp = pool(1, 5, -1, 1, 2, 2, 0);
	ok(!scale_idle_expired(&sp, 0, idle_since, timeout, ev_now(loop),
	    &at), "just idle: kept");
	is_int((long long)at, (long long)(idle_since + timeout),
	    "and it says when it would go");
	ev_advance(loop, timeout - 1);
	ok(!scale_idle_expired(&sp, 0, idle_since, timeout, ev_now(loop),
	    &at), "a millisecond before idle_timeout: kept");
	ev_advance(loop, 1);
	ok(scale_idle_expired(&sp, 0, idle_since, timeout, ev_now(loop),
	    &at), "at idle_timeout since its last task: it goes");
	ok(!scale_idle_expired(&sp, 1, idle_since, timeout, ev_now(loop),
	    &at) && at == 0, "never with a task on it");
	sp.live = 1;
	ok(!scale_idle_expired(&sp, 0, idle_since, timeout, ev_now(loop),
	    &at) && at == 0, "never below min");
	sp.live = 2;
	sp.queued = 1;
	ok(!scale_idle_expired(&sp, 0, idle_since, timeout, ev_now(loop),
	    &at), "never while tasks wait");
}

static void
check_boot(struct ev_loop *loop)
{
	uint64_t	 launched = ev_now(loop), deadline = 600000;

	ok(!scale_boot_expired(launched, deadline, ev_now(loop)),
	    "just launched: within the boot deadline");
	ev_advance(loop, deadline - 1);
	ok(!scale_boot_expired(launched, deadline, ev_now(loop)),
	    "a millisecond before it: still booting");
	ev_advance(loop, 1);
	ok(scale_boot_expired(launched, deadline, ev_now(loop)),
	    "not ready at boot_timeout: a failed launch");
	ok(!scale_boot_expired(launched, 0, ev_now(loop) + 86400000),
	    "no deadline: never");
}

static void
check_breaker(struct ev_loop *loop)
{
	struct breaker	 b;
	uint64_t	 pause;

	breaker_init(&b, 3, 60000);
	is_int(breaker_allows(&b, ev_now(loop), 4), 4, "closed: every "
	    "launch goes");
	ok(!breaker_failure(&b, ev_now(loop), &pause) &&
	    !breaker_failure(&b, ev_now(loop), &pause),
	    "two failures: still closed");
	ok(breaker_failure(&b, ev_now(loop), &pause) && pause == 60000,
	    "the third in a row opens it for the backoff");
	is_str(breaker_state_name(breaker_state(&b, ev_now(loop))), "open",
	    "it says open");
	is_int(breaker_allows(&b, ev_now(loop), 4), 0, "open: no launch");
	ok(!breaker_failure(&b, ev_now(loop), &pause),
	    "a launch from before it opened failing changes nothing");
	ev_advance(loop, 60000);
	is_str(breaker_state_name(breaker_state(&b, ev_now(loop))),
	    "half-open", "after the backoff: half-open");
	is_int(breaker_allows(&b, ev_now(loop), 4), 1, "one probe, not four");
	breaker_launched(&b, ev_now(loop));
	is_int(breaker_allows(&b, ev_now(loop), 4), 0, "none more while the "
	    "probe is out");
	ok(breaker_failure(&b, ev_now(loop), &pause) && pause == 120000,
	    "the probe fails: open again, for twice as long");
	ev_advance(loop, 120000);
	breaker_launched(&b, ev_now(loop));
	ok(breaker_failure(&b, ev_now(loop), &pause) && pause == 240000,
	    "and again: doubled again");
	ev_advance(loop, 240000);
	breaker_launched(&b, ev_now(loop));
	ok(breaker_success(&b), "the probe comes up: it closes, and says "
	    "it was open");
	is_int(breaker_allows(&b, ev_now(loop), 4), 4, "closed: all launch");
	ok(!breaker_failure(&b, ev_now(loop), &pause), "a failure after "
	    "closing counts from zero");
	ok(!breaker_success(&b), "a success while closed is no news");
	breaker_init(&b, 1, 1000);
	for (int i = 0; i < 40; i++) {
		ev_advance(loop, 3600 * 1000);
		breaker_launched(&b, ev_now(loop));
		breaker_failure(&b, ev_now(loop), &pause);
	}
	is_int((long long)pause, 3600 * 1000, "the backoff stops growing at "
	    "an hour");
}

int
main(void)
{
	struct ev_loop	*loop = ev_create();

	ev_set_virtual(loop, 1764000000000LL);
	check_launches();
	check_min();
	check_idle(loop);
	check_boot(loop);
	check_breaker(loop);
	ev_free(loop);
	done_testing();
}
