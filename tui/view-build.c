/*
 * The build view: one build's phases and tasks as a tree, and under it
 * the selected task's log, following it while it grows. The log is
 * asked for with the "log" request from the offset the last reply gave,
 * every VIEW_LOG_POLL_MS while the task runs (the protocol has no push
 * for log bytes), never with two requests out at once; the console keeps
 * the last VIEW_LOG_KEEP bytes of it.
 *
 * A reply for a task no longer selected is recognised by its generation
 * (log_gen, bumped on every change of task) and dropped.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tui.h"

#define VIEW_LOG_POLL_MS	300
#define VIEW_LOG_KEEP		(256 * 1024)

static void	view_log_ask(struct console *);

static void
view_log_tick(struct ev_loop *loop, void *arg)
{
	struct console	*c = arg;

	c->log_timer = NULL;
	view_log_ask(c);
}

static void
view_log_later(struct console *c)
{
	if (c->log_timer == NULL && !c->log_finished)
		c->log_timer = ev_timer_add(c->loop, VIEW_LOG_POLL_MS,
		    view_log_tick, c);
}

struct view_log_req {
	struct console	*c;
	u_int		 gen;
};

static void
view_log_done(json_t *reply, const char *why, void *arg)
{
	struct view_log_req	*lr = arg;
	struct console		*c = lr->c;
	const json_t		*data;
	json_int_t		 next;
	size_t			 cut;

	if (lr->gen != c->log_gen) {
		free(lr);
		return;
	}
	free(lr);
	c->log_busy = 0;
	if (reply == NULL) {
		/* No log yet (a task waiting), or no daemon: try later. */
		view_log_later(c);
		return;
	}
	data = json_object_get(reply, "data");
	if (json_is_string(data) && json_string_length(data) > 0) {
		buf_add(&c->log, json_string_value(data),
		    json_string_length(data));
		if (c->log.len > VIEW_LOG_KEEP) {
			cut = c->log.len - VIEW_LOG_KEEP / 2;
			memmove(c->log.data, c->log.data + cut,
			    c->log.len - cut + 1);
			c->log.len -= cut;
		}
		console_dirty(c);
	}
	next = json_number(reply, "next", c->log_next);
	c->log_finished = json_is_true(json_object_get(reply, "finished"));
	/*
	 * More is there already: ask at once, but only if the offset moved
	 * on, so that a daemon that gives none back is not asked in a loop.
	 */
	if (next > c->log_next && json_number(reply, "size", 0) > next) {
		c->log_next = next;
		view_log_ask(c);
		return;
	}
	if (next > c->log_next)
		c->log_next = next;
	view_log_later(c);
}

/* Ask for what is new in the selected task's log. */
static void
view_log_ask(struct console *c)
{
	struct view_log_req	*lr;

	if (c->log_busy || c->task == NULL || c->view != VIEW_BUILD)
		return;
	ev_timer_del(c->log_timer);
	c->log_timer = NULL;
	lr = xcalloc(1, sizeof *lr);
	lr->c = c;
	lr->gen = c->log_gen;
	c->log_busy = 1;
	net_request(c->net, json_pack("{s:s, s:I, s:s, s:I}", "cmd", "log",
	    "build", c->build, "task", c->task, "offset", c->log_next), 0,
	    view_log_done, lr);
}

/* Follow SLUG's log from its start (NULL: none). */
void
console_select_task(struct console *c, const char *slug)
{
	if (slug != NULL && c->task != NULL && strcmp(slug, c->task) == 0)
		return;
	free(c->task);
	c->task = slug != NULL ? xstrdup(slug) : NULL;
	c->log_gen++;
	c->log_busy = 0;
	c->log_next = 0;
	c->log_finished = 0;
	ev_timer_del(c->log_timer);
	c->log_timer = NULL;
	buf_reset(&c->log);
	view_log_ask(c);
	console_dirty(c);
}

const char *
view_build_log(struct console *c)
{
	return (c->log.data != NULL ? c->log.data : "");
}

static int
view_task_cmp(const void *a, const void *b)
{
	const json_t	*x = *(const json_t *const *)a;
	const json_t	*y = *(const json_t *const *)b;
	json_int_t	 px = json_number(x, "phase", 0);
	json_int_t	 py = json_number(y, "phase", 0);
	json_int_t	 ix = json_number(x, "id", 0);
	json_int_t	 iy = json_number(y, "id", 0);

	if (px != py)
		return (px < py ? -1 : 1);
	return (ix < iy ? -1 : ix > iy);
}

void
view_build_rows(struct console *c, struct rows *r, int width)
{
	json_t		**all, **tasks, *b, *t;
	const char	*state, *reason, *slug;
	char		 key[32], *dur, *ex;
	size_t		 n, nt = 0, i;
	json_int_t	 phase = -1;
	int		 last;

	snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT, c->build);
	b = model_get(c->model, MODEL_BUILDS, key);
	if (b == NULL) {
		rows_columns(r, "build %s: not among the builds the daemon "
		    "keeps", key);
		return;
	}
	dur = fmt_duration(b, "started_at", "finished_at");
	rows_columns(r, "build %s  %s  %s  %.8s  %s  %s%s%s", key,
	    json_text(b, "project") != NULL ? json_text(b, "project") : "-",
	    json_text(b, "ref") != NULL ? json_text(b, "ref") : "-",
	    json_text(b, "sha") != NULL ? json_text(b, "sha") : "-",
	    json_text(b, "state") != NULL ? json_text(b, "state") : "-", dur,
	    json_text(b, "reason") != NULL ? "  " : "",
	    json_text(b, "reason") != NULL ? json_text(b, "reason") : "");
	free(dur);

	n = model_list(c->model, MODEL_TASKS, &all);
	tasks = xcalloc(n + 1, sizeof *tasks);
	for (i = 0; i < n; i++) {
		if (json_number(all[i], "build", -1) == c->build)
			tasks[nt++] = all[i];
	}
	free(all);
	qsort(tasks, nt, sizeof *tasks, view_task_cmp);
	for (i = 0; i < nt; i++) {
		t = tasks[i];
		if (json_number(t, "phase", 0) != phase) {
			phase = json_number(t, "phase", 0);
			rows_add(r, NULL, ROLE_TITLE, "phase %d: %s",
			    (int)phase + 1, json_text(t, "phase_name") != NULL ?
			    json_text(t, "phase_name") : "-");
		}
		last = i + 1 == nt || json_number(tasks[i + 1], "phase", 0) !=
		    phase;
		slug = json_text(t, "slug");
		state = json_text(t, "state");
		reason = json_text(t, "reason");
		dur = fmt_duration(t, "started_at", "finished_at");
		ex = fmt_value(json_object_get(t, "exit_status"));
		rows_add(r, slug, role_of_state(state),
		    "  %s %-28.28s %-10s %7s  exit %-4s %s%s",
		    c->utf8 ? (last ? "\342\224\224\342\224\200" :
		    "\342\224\234\342\224\200") : (last ? "`-" : "|-"),
		    slug != NULL ? slug : "-", state != NULL ? state : "-", dur,
		    ex, json_is_false(json_object_get(t, "critical")) ?
		    "(not critical) " : "", reason != NULL ? reason : "");
		free(dur);
		free(ex);
	}
	free(tasks);
	(void)width;
}
