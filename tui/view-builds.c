/*
 * The builds view: every build the daemon keeps (those not finished and
 * the 100 that finished last), one row each, newest first or sorted by
 * state or project (F4). A row's key is the build's id: Enter opens it,
 * F5 cancels it (or the tagged ones), F6 retries it, F7 approves it.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tui.h"

static const char *const builds_sorts[] = { "newest", "state", "project" };

/* Running before queued before finished, for the state sort. */
static int
builds_rank(const json_t *b)
{
	const char	*s = json_text(b, "state");

	if (s == NULL)
		return (3);
	if (strcmp(s, "running") == 0 || strcmp(s, "fetching") == 0)
		return (0);
	if (json_text(b, "approval") != NULL &&
	    strcmp(json_text(b, "approval"), "required") == 0)
		return (1);
	if (strcmp(s, "failed") == 0 || strcmp(s, "errored") == 0)
		return (2);
	return (3);
}

static int	builds_sort;

static int
builds_cmp(const void *a, const void *b)
{
	const json_t	*x = *(const json_t *const *)a;
	const json_t	*y = *(const json_t *const *)b;
	json_int_t	 ix = json_number(x, "id", 0);
	json_int_t	 iy = json_number(y, "id", 0);
	const char	*px, *py;
	int		 d = 0;

	if (builds_sort == 1)
		d = builds_rank(x) - builds_rank(y);
	else if (builds_sort == 2) {
		px = json_text(x, "project");
		py = json_text(y, "project");
		d = strcmp(px != NULL ? px : "", py != NULL ? py : "");
	}
	if (d != 0)
		return (d);
	return (ix < iy ? 1 : ix > iy ? -1 : 0);
}

const char *
view_builds_sort_name(int sort)
{
	return (builds_sorts[sort % (int)nitems(builds_sorts)]);
}

int
view_builds_sorts(void)
{
	return ((int)nitems(builds_sorts));
}

/*
 * The names of the phases of every build, "BUILD:PHASE" -> name, from the
 * tasks: one pass over them, not one per build.
 */
static json_t *
builds_phases(struct console *c)
{
	json_t		*names = json_object(), *t;
	const char	*k, *name;
	char		 key[64];

	json_object_foreach(c->model->coll[MODEL_TASKS], k, t) {
		if ((name = json_text(t, "phase_name")) == NULL)
			continue;
		snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT ":%"
		    JSON_INTEGER_FORMAT, json_number(t, "build", -1),
		    json_number(t, "phase", -1));
		json_object_set_new(names, key, json_string(name));
	}
	return (names);
}

void
view_builds_rows(struct console *c, struct rows *r, int width)
{
	json_t		**builds, *b, *phases;
	const char	*state, *phase, *reason, *approval;
	char		*ref, *age, *dur, key[32], sha[9], pk[64];
	size_t		 n, i;
	int64_t		 now = util_wall_ms();

	rows_columns(r, "%6s  %-22s %-16s %-8s %-10s %-10s %5s %7s  %s", "ID",
	    "PROJECT", "REF", "SHA", "STATE", "PHASE", "AGE", "TIME", "REASON");
	n = model_list(c->model, MODEL_BUILDS, &builds);
	phases = builds_phases(c);
	builds_sort = c->sort;
	qsort(builds, n, sizeof *builds, builds_cmp);
	for (i = 0; i < n; i++) {
		b = builds[i];
		snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT,
		    json_number(b, "id", 0));
		snprintf(sha, sizeof sha, "%s", json_text(b, "sha") != NULL ?
		    json_text(b, "sha") : "-");
		state = json_text(b, "state");
		approval = json_text(b, "approval");
		if (approval != NULL && strcmp(approval, "required") == 0)
			state = "approval?";
		snprintf(pk, sizeof pk, "%s:%" JSON_INTEGER_FORMAT, key,
		    json_number(b, "phase", -1));
		if ((phase = json_text(phases, pk)) == NULL)
			phase = "-";
		reason = json_text(b, "reason");
		ref = fmt_ref(b, "PR #");
		age = fmt_age(json_number(b, "created_at", 0), now);
		dur = fmt_duration(b, "started_at", "finished_at");
		rows_add(r, key, role_of_state(json_text(b, "state")),
		    "%6s  %-22.22s %-16.16s %-8s %-10s %-10.10s %5s %7s  %s",
		    key, json_text(b, "project") != NULL ?
		    json_text(b, "project") : "-", ref, sha,
		    state != NULL ? state : "-", phase, age, dur,
		    reason != NULL ? reason : "");
		free(ref);
		free(age);
		free(dur);
	}
	free(builds);
	json_decref(phases);
	(void)width;
}
