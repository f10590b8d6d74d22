/*
 * The rows every view of the console is made of, and what is common to
 * moving through them: a view formats the model into rows (a key to act
 * on, a line of text, a colour role), and the selection follows the
 * selected row's key, not its position, so that a row that moves as the
 * state changes stays selected.
 *
 * Also the small formatters the views share: the role of a state, and
 * an age as "42s", "3m", "2h", "5d".
 */

#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

void
rows_reset(struct rows *r)
{
	size_t	 i;

	for (i = 0; i < r->n; i++) {
		free(r->v[i].key);
		free(r->v[i].text);
	}
	free(r->v);
	free(r->columns);
	memset(r, 0, sizeof *r);
}

void
rows_columns(struct rows *r, const char *fmt, ...)
{
	va_list	 ap;

	free(r->columns);
	va_start(ap, fmt);
	xvasprintf(&r->columns, fmt, ap);
	va_end(ap);
}

/* Add a row acting on KEY (copied; NULL for none). */
void
rows_add(struct rows *r, const char *key, enum role role, const char *fmt,
    ...)
{
	struct row	*row;
	va_list		 ap;

	if (r->n == r->size) {
		r->size = r->size == 0 ? 64 : r->size * 2;
		r->v = xreallocarray(r->v, r->size, sizeof *r->v);
	}
	row = &r->v[r->n++];
	row->key = key != NULL ? xstrdup(key) : NULL;
	row->role = role;
	va_start(ap, fmt);
	xvasprintf(&row->text, fmt, ap);
	va_end(ap);
}

/* The colour role of a build's, task's, instance's or project's state. */
enum role
role_of_state(const char *state)
{
	static const struct {
		const char	*state;
		enum role	 role;
	} map[] = {
		{ "passed", ROLE_OK },
		{ "approved", ROLE_OK },
		{ "ready", ROLE_OK },
		{ "failed", ROLE_FAILED },
		{ "errored", ROLE_FAILED },
		{ "rejected", ROLE_FAILED },
		{ "lost", ROLE_FAILED },
		{ "running", ROLE_RUNNING },
		{ "fetching", ROLE_RUNNING },
		{ "booting", ROLE_RUNNING },
		{ "queued", ROLE_QUEUED },
		{ "waiting", ROLE_QUEUED },
		{ "pending", ROLE_QUEUED },
		{ "requested", ROLE_QUEUED },
		{ "draining", ROLE_QUEUED },
		{ "cancelled", ROLE_MUTED },
		{ "skipped", ROLE_MUTED },
		{ "terminating", ROLE_MUTED },
	};
	size_t	 i;

	for (i = 0; state != NULL && i < nitems(map); i++) {
		if (strcmp(map[i].state, state) == 0)
			return (map[i].role);
	}
	return (ROLE_NORMAL);
}

/* How long ago WHEN (ms) was at NOW: "42s", "3m", "2h", "5d"; "-". */
char *
fmt_age(json_int_t when, int64_t now)
{
	int64_t	 s;
	char	*out;

	if (when <= 0)
		return (xstrdup("-"));
	s = now > when ? (now - when) / 1000 : 0;
	if (s < 60)
		xasprintf(&out, "%ds", (int)s);
	else if (s < 3600)
		xasprintf(&out, "%dm", (int)(s / 60));
	else if (s < 86400)
		xasprintf(&out, "%dh", (int)(s / 3600));
	else
		xasprintf(&out, "%dd", (int)(s / 86400));
	return (out);
}

/* Move the selection of the current view by DELTA rows, within bounds. */
void
list_move(struct console *c, long delta)
{
	struct viewstate	*vs = &c->vs[c->view];
	struct rows		*r = &c->rows;
	long			 sel = (long)vs->sel + delta;
	size_t			 i;

	if (r->n == 0)
		return;
	if (sel < 0)
		sel = 0;
	if (sel >= (long)r->n)
		sel = (long)r->n - 1;
	/* Skip rows that act on nothing (the build view's phases). */
	i = (size_t)sel;
	while (r->v[i].key == NULL && i + 1 < r->n && delta >= 0)
		i++;
	while (r->v[i].key == NULL && i > 0 && delta < 0)
		i--;
	vs->sel = i;
	free(vs->selkey);
	vs->selkey = r->v[i].key != NULL ? xstrdup(r->v[i].key) : NULL;
	if (c->view == VIEW_BUILD && vs->selkey != NULL)
		console_select_task(c, vs->selkey);
	console_dirty(c);
}
