/*
 * The pools view: one row per profile with its size (min, max, the
 * operator's cap), its live instances by state, its slots busy and free,
 * the tasks waiting for a slot, what it spends an hour and its circuit
 * breaker. Spend and breaker are shown when the daemon publishes them
 * (members "spend_per_hour" and "breaker" of a pool), "-" otherwise: the
 * console shows what the bus says and invents nothing.
 * A row's key is the pool's name: F5 caps it, F6 uncaps it, F7 drains it.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tui.h"

/* A number member as money, or "-" when the daemon does not say. */
char *
fmt_money(const json_t *o, const char *member)
{
	const json_t	*v = json_object_get(o, member);
	char		*s;

	if (!json_is_number(v))
		return (xstrdup("-"));
	xasprintf(&s, "$%.2f", json_number_value(v));
	return (s);
}

void
view_pools_rows(struct console *c, struct rows *r, int width)
{
	json_t		**pools, **inst, *p;
	const char	*name, *st;
	char		*cap, *spend, *breaker, states[64];
	size_t		 n, ni, i, j;
	json_int_t	 slots, busy;
	int		 ready, booting, draining;

	rows_columns(r, "%-16s %-7s %4s %4s %5s  %-26s %5s %5s %6s %9s  %s",
	    "POOL", "DRIVER", "MIN", "MAX", "CAP", "INSTANCES", "BUSY", "FREE",
	    "QUEUED", "SPEND/H", "BREAKER");
	n = model_list(c->model, MODEL_POOLS, &pools);
	ni = model_list(c->model, MODEL_INSTANCES, &inst);
	for (i = 0; i < n; i++) {
		p = pools[i];
		name = json_text(p, "name");
		ready = booting = draining = 0;
		slots = 0;
		for (j = 0; j < ni; j++) {
			st = json_text(inst[j], "pool");
			if (name == NULL || st == NULL || strcmp(st, name) != 0)
				continue;
			st = json_text(inst[j], "state");
			if (st == NULL)
				continue;
			if (strcmp(st, "ready") == 0) {
				ready++;
				slots += json_number(inst[j], "slots", 0);
			} else if (strcmp(st, "draining") == 0 ||
			    strcmp(st, "terminating") == 0)
				draining++;
			else
				booting++;
		}
		busy = json_number(p, "busy", 0);
		snprintf(states, sizeof states, "%d ready %d booting %d drain",
		    ready, booting, draining);
		cap = fmt_value(json_object_get(p, "cap"));
		spend = fmt_money(p, "spend_per_hour");
		breaker = fmt_value(json_object_get(p, "breaker"));
		rows_add(r, name, json_is_integer(json_object_get(p, "cap")) ?
		    ROLE_QUEUED : ROLE_NORMAL,
		    "%-16.16s %-7.7s %4" JSON_INTEGER_FORMAT " %4"
		    JSON_INTEGER_FORMAT " %5s  %-26s %5" JSON_INTEGER_FORMAT
		    " %5" JSON_INTEGER_FORMAT " %6" JSON_INTEGER_FORMAT
		    " %9s  %s", name != NULL ? name : "-",
		    json_text(p, "driver") != NULL ? json_text(p, "driver") :
		    "-", json_number(p, "min", 0), json_number(p, "max", 0),
		    cap, states, busy, slots > busy ? slots - busy : 0,
		    json_number(p, "queued", 0), spend, breaker);
		free(cap);
		free(spend);
		free(breaker);
	}
	free(pools);
	free(inst);
	(void)width;
}
