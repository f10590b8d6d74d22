/*
 * The instances view: every instance not terminated or lost, with its
 * pool, state, slots in use, the task it runs, and, when the daemon
 * publishes them, its uptime ("launched_at"), how long it has been idle
 * ("idle_since"), when it will be reaped ("reap_at") and what it has cost
 * ("cost"); "-" otherwise. A row's key is the instance's id: F5 drains
 * it (or the tagged ones), F6 undrains it.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tui.h"

/* The slug (and build) of a task running on instance ID, or "-". */
static char *
instances_task(struct console *c, const char *id, json_t **tasks, size_t n)
{
	const char	*st, *on;
	char		*s;
	size_t		 i;

	for (i = 0; i < n; i++) {
		st = json_text(tasks[i], "state");
		on = json_text(tasks[i], "instance");
		if (st == NULL || on == NULL || strcmp(st, "running") != 0 ||
		    strcmp(on, id) != 0)
			continue;
		xasprintf(&s, "%" JSON_INTEGER_FORMAT "/%s",
		    json_number(tasks[i], "build", 0),
		    json_text(tasks[i], "slug") != NULL ?
		    json_text(tasks[i], "slug") : "-");
		return (s);
	}
	return (xstrdup("-"));
}

/* How long until WHEN (ms) from NOW: "in 42s", "now"; "-" if unknown. */
static char *
instances_until(json_int_t when, int64_t now)
{
	char	*age, *s;

	if (when <= 0)
		return (xstrdup("-"));
	if (when <= now)
		return (xstrdup("now"));
	age = fmt_age(now, when);
	xasprintf(&s, "in %s", age);
	free(age);
	return (s);
}

void
view_instances_rows(struct console *c, struct rows *r, int width)
{
	json_t		**inst, **tasks, *in;
	const char	*id, *state, *reason;
	char		*task, *up, *idle, *reap, *cost;
	size_t		 n, nt, i;
	int64_t		 now = util_wall_ms();

	rows_columns(r, "%-30s %-10s %-11s %5s %-16s %5s %5s %7s %7s  %s", "ID",
	    "POOL", "STATE", "BUSY", "TASK", "UP", "IDLE", "REAP", "COST",
	    "REASON");
	n = model_list(c->model, MODEL_INSTANCES, &inst);
	nt = model_list(c->model, MODEL_TASKS, &tasks);
	for (i = 0; i < n; i++) {
		in = inst[i];
		if ((id = json_text(in, "id")) == NULL)
			continue;
		state = json_text(in, "state");
		reason = json_text(in, "reason");
		task = instances_task(c, id, tasks, nt);
		up = fmt_age(json_number(in, "launched_at", 0), now);
		idle = json_number(in, "busy", 0) > 0 ? xstrdup("-") :
		    fmt_age(json_number(in, "idle_since", 0), now);
		reap = instances_until(json_number(in, "reap_at", 0), now);
		cost = fmt_money(in, "cost");
		rows_add(r, id, role_of_state(state),
		    "%-30.30s %-10.10s %-11s %2" JSON_INTEGER_FORMAT "/%-2"
		    JSON_INTEGER_FORMAT " %-16.16s %5s %5s %7s %7s  %s", id,
		    json_text(in, "pool") != NULL ? json_text(in, "pool") : "-",
		    state != NULL ? state : "-", json_number(in, "busy", 0),
		    json_number(in, "slots", 0), task, up, idle, reap, cost,
		    reason != NULL ? reason : "");
		free(task);
		free(up);
		free(idle);
		free(reap);
		free(cost);
	}
	free(inst);
	free(tasks);
	(void)width;
}
