/*
 * The pools' scaling decisions, as functions of what a pool holds and of
 * the time, with no state of their own but a pool's circuit breaker, so
 * that tests/unit/t_scale.c checks each one under a virtual clock and
 * pool.c only applies them:
 *
 * - how many instances to launch now: enough for the queued tasks that
 *   free and booting slots will not take, then enough to reach min, all
 *   within the pool's limit (max, lowered by the operator's cap);
 * - whether an idle instance goes: idle for idle_timeout since its last
 *   task ended, nothing queued, and the pool above min;
 * - whether a booting instance missed its boot deadline;
 * - the circuit breaker: after breaker_failures failed launches in a
 *   row the pool launches nothing for a backoff that doubles each time
 *   it opens again (to SCALE_BREAKER_MAX_MS), then lets one launch
 *   through as a probe; a ready instance closes it.
 */

#include "config.h"

#include <string.h>

#include "daemon.h"

#define SCALE_BREAKER_MAX_MS	(60 * 60 * 1000)

/* The most live instances the pool may have: max, or the cap if lower. */
u_int
scale_limit(const struct scale_pool *sp)
{
	if (sp->cap >= 0 && (u_int)sp->cap < sp->max)
		return (sp->cap);
	return (sp->max);
}

/*
 * Launches wanted now, before the breaker has its say. Each launch
 * brings slots, so queued tasks beyond capacity need their number
 * divided by slots, rounded up, within the limit; min is kept regardless
 * of the queue and of a lower cap (max is at least min).
 */
u_int
scale_wanted(const struct scale_pool *sp)
{
	u_int	 limit = scale_limit(sp), want = 0, slots;

	slots = sp->slots > 0 ? sp->slots : 1;
	if (sp->queued > sp->capacity)
		want = (sp->queued - sp->capacity + slots - 1) / slots;
	if (sp->live >= limit)
		want = 0;
	else if (want > limit - sp->live)
		want = limit - sp->live;
	/* min holds even under a lower cap, as pool_shrink keeps it. */
	if (sp->live + want < sp->min)
		want = sp->min - sp->live;
	return (want);
}

/* How many live instances a cap keeps: the cap, or min if that is more. */
u_int
scale_keep(int cap, u_int min)
{
	if (cap < 0)
		return (UINT32_MAX);
	return ((u_int)cap > min ? (u_int)cap : min);
}

/*
 * An idle instance goes when nothing runs on it, nothing waits in its
 * pool, the pool stays at or above min without it, and it has been idle
 * for idle_timeout. The time it would go is *at (0: never, as things
 * stand), for the console's "reap" column.
 */
int
scale_idle_expired(const struct scale_pool *sp, u_int used,
    uint64_t idle_since, uint64_t idle_timeout, uint64_t now, uint64_t *at)
{
	*at = 0;
	if (used != 0 || sp->queued != 0 || sp->live <= sp->min)
		return (0);
	*at = idle_since + idle_timeout;
	return (now >= *at);
}

/* A launch not ready by launched + boot_timeout (0: none) has failed. */
int
scale_boot_expired(uint64_t launched, uint64_t boot_timeout, uint64_t now)
{
	return (boot_timeout != 0 && now >= launched + boot_timeout);
}

void
breaker_init(struct breaker *b, u_int threshold, uint64_t backoff)
{
	memset(b, 0, sizeof *b);
	b->threshold = threshold > 0 ? threshold : 1;
	b->backoff = backoff > 0 ? backoff : 1000;
}

enum breaker_state
breaker_state(const struct breaker *b, uint64_t now)
{
	if (b->opens == 0)
		return (BREAKER_CLOSED);
	if (now < b->until)
		return (BREAKER_OPEN);
	return (BREAKER_HALF_OPEN);
}

const char *
breaker_state_name(enum breaker_state s)
{
	switch (s) {
	case BREAKER_CLOSED:
		return ("closed");
	case BREAKER_OPEN:
		return ("open");
	case BREAKER_HALF_OPEN:
		return ("half-open");
	}
	return ("closed");
}

/*
 * How many of n wanted launches the breaker lets through: all when
 * closed, none when open, one probe at a time when half-open.
 */
u_int
breaker_allows(const struct breaker *b, uint64_t now, u_int n)
{
	switch (breaker_state(b, now)) {
	case BREAKER_CLOSED:
		return (n);
	case BREAKER_OPEN:
		return (0);
	case BREAKER_HALF_OPEN:
		return (b->probing ? 0 : (n > 0 ? 1 : 0));
	}
	return (0);
}

/* A launch went out; in half-open it is the probe. */
void
breaker_launched(struct breaker *b, uint64_t now)
{
	if (breaker_state(b, now) == BREAKER_HALF_OPEN)
		b->probing = 1;
}

/*
 * A launch failed (an error, or no instance by the boot deadline).
 * Returns 1 if that opened the breaker (again), with *pause_ms the time
 * it stays open.
 */
int
breaker_failure(struct breaker *b, uint64_t now, uint64_t *pause_ms)
{
	uint64_t	 pause;
	u_int		 i;

	b->failures++;
	*pause_ms = 0;
	if (b->opens == 0 && b->failures < b->threshold)
		return (0);
	if (b->opens > 0 && breaker_state(b, now) == BREAKER_OPEN)
		return (0);	/* a launch from before it opened */
	pause = b->backoff;
	for (i = 0; i < b->opens && pause < SCALE_BREAKER_MAX_MS; i++)
		pause *= 2;
	if (pause > SCALE_BREAKER_MAX_MS)
		pause = SCALE_BREAKER_MAX_MS;
	b->opens++;
	b->probing = 0;
	b->until = now + pause;
	*pause_ms = pause;
	return (1);
}

/* An instance came up: the pool is healthy. Returns 1 if it was not. */
int
breaker_success(struct breaker *b)
{
	int	 was = b->opens > 0;

	b->failures = 0;
	b->opens = 0;
	b->probing = 0;
	b->until = 0;
	return (was);
}
