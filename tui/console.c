/*
 * beekeeper console: the operator's live view of a daemon, and the keys
 * to act on it. This file owns the console's state (the view and the
 * views before it, selections, tags, filters, the message line) and its
 * one event loop: the terminal's keys, the bus (net.c), signals and
 * timers all arrive there, and one before-sleep hook draws.
 *
 * Invariants:
 * - Handlers mark the screen stale (console_dirty); only the hook draws,
 *   at most once every CONSOLE_FRAME_MS: a flood of events costs one
 *   frame per interval, and an event waits at most that long.
 * - The terminal is given back on every way out: q, SIGINT, SIGTERM,
 *   SIGHUP (through the loop), and fatal() and exit() (atexit).
 * - A request that changes the daemon's state is sent only by an admin's
 *   console; a viewer's says it is read-only instead.
 */

#include "config.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui.h"

#define CONSOLE_FRAME_MS	66	/* about 15 frames a second */
#define CONSOLE_TICK_MS		1000	/* ages and durations move */

static const struct console_view {
	const char	*name;
	void		 (*rows)(struct console *, struct rows *, int);
} console_views[VIEW_COUNT] = {
	[VIEW_BUILDS] = { "builds", view_builds_rows },
	[VIEW_BUILD] = { "build", view_build_rows },
	[VIEW_POOLS] = { "pools", view_pools_rows },
	[VIEW_INSTANCES] = { "instances", view_instances_rows },
	[VIEW_PROJECTS] = { "projects", view_projects_rows },
	[VIEW_EVENTS] = { "events", view_events_rows },
	[VIEW_HELP] = { "help", keys_help_rows },
};

const char *
view_name(enum view_id v)
{
	return (console_views[v].name);
}

void
console_dirty(struct console *c)
{
	c->dirty = 1;
}

/* Say something on the message line; ERROR in the error role. */
void
console_message(struct console *c, int error, const char *fmt, ...)
{
	va_list	 ap;

	free(c->message);
	va_start(ap, fmt);
	xvasprintf(&c->message, fmt, ap);
	va_end(ap);
	c->message[strcspn(c->message, "\r\n")] = '\0';
	c->message_error = error;
	console_dirty(c);
}

/*
 * Whether this console may act. With a NAME, a viewer is told why not:
 * "read-only: ...".
 */
int
console_admin(struct console *c, const char *name)
{
	if (strcmp(net_role(c->net), "admin") == 0)
		return (1);
	if (name != NULL && client_has_pair())
		console_message(c, 1, "read-only: %s needs an admin's key, and "
		    "the daemon's clients file makes this one a viewer's; this "
		    "console may only look", name);
	else if (name != NULL)
		console_message(c, 1, "read-only: %s needs the control key "
		    "(-k or BEEKEEPER_KEY_FILE); this console may only look",
		    name);
	return (0);
}

/* The key of the selected row, borrowed; NULL when none. */
const char *
console_selected(struct console *c)
{
	return (c->vs[c->view].selkey);
}

void
console_view(struct console *c, enum view_id v)
{
	if (v == c->view)
		return;
	if (c->nback == nitems(c->back)) {
		memmove(c->back, c->back + 1, sizeof c->back -
		    sizeof c->back[0]);
		c->nback--;
	}
	c->back[c->nback++] = c->view;
	c->view = v;
	/* Back in the build view: its log is read again from the start. */
	if (v == VIEW_BUILD)
		console_select_task(c, NULL);
	console_dirty(c);
}

void
console_back(struct console *c)
{
	if (c->nback == 0)
		return;
	c->view = c->back[--c->nback];
	if (c->view == VIEW_BUILD)
		console_select_task(c, NULL);
	console_dirty(c);
}

void
console_open_build(struct console *c, json_int_t id)
{
	struct viewstate	*vs = &c->vs[VIEW_BUILD];

	c->build = id;
	free(vs->selkey);
	vs->selkey = NULL;
	vs->sel = vs->top = 0;
	console_select_task(c, NULL);
	console_view(c, VIEW_BUILD);
}

struct console_req {
	struct console	*c;
	char		*what;
};

static void
console_sent(json_t *reply, const char *why, void *arg)
{
	struct console_req	*cr = arg;

	if (reply != NULL)
		console_message(cr->c, 0, "%s: done", cr->what);
	else
		console_message(cr->c, 1, "%s: %s", cr->what, why);
	free(cr->what);
	free(cr);
}

/* Send a command (REQ, taken) with the key; the outcome is said. */
void
console_send(struct console *c, json_t *req, const char *what)
{
	struct console_req	*cr;

	cr = xcalloc(1, sizeof *cr);
	cr->c = c;
	cr->what = what != NULL ? xstrdup(what) : prompt_describe(req);
	console_message(c, 0, "%s: sent", cr->what);
	net_request(c->net, req, 1, console_sent, cr);
}

/* Whether ROW holds the view's filter text. */
static int
console_match(const struct row *row, const char *filter)
{
	return (filter == NULL || strstr(row->text, filter) != NULL ||
	    (row->key != NULL && strcmp(row->key, filter) == 0));
}

/* Tags on rows that are gone (an instance drained away) go with them. */
static void
console_prune_tags(struct viewstate *vs, const struct rows *r)
{
	json_t		*v, *keep;
	size_t		 i;

	if (json_object_size(vs->tags) == 0)
		return;
	keep = json_object();
	for (i = 0; i < r->n; i++) {
		if (r->v[i].key != NULL &&
		    (v = json_object_get(vs->tags, r->v[i].key)) != NULL)
			json_object_set(keep, r->v[i].key, v);
	}
	json_decref(vs->tags);
	vs->tags = keep;
}

/*
 * Format the current view, filter it, and find the selection again: at
 * each frame, and before each key, so that keys typed together (3, g,
 * Space) each act on the rows the one before left.
 */
void
console_rows(struct console *c)
{
	struct viewstate	*vs = &c->vs[c->view];
	struct rows		*r = &c->rows;
	size_t			 i, j;

	rows_reset(r);
	console_views[c->view].rows(c, r, 0);
	console_prune_tags(vs, r);
	for (i = j = 0; i < r->n; i++) {
		if (c->view != VIEW_BUILD && c->view != VIEW_HELP &&
		    !console_match(&r->v[i], vs->filter)) {
			free(r->v[i].key);
			free(r->v[i].text);
			continue;
		}
		r->v[j++] = r->v[i];
	}
	r->n = j;
	for (i = 0; vs->selkey != NULL && i < r->n; i++) {
		if (r->v[i].key != NULL && strcmp(r->v[i].key,
		    vs->selkey) == 0)
			break;
	}
	if (vs->selkey == NULL || i == r->n) {
		/* The selected row went: the nearest that acts on something. */
		i = vs->sel < r->n ? vs->sel : r->n > 0 ? r->n - 1 : 0;
		while (i < r->n && r->v[i].key == NULL)
			i++;
		if (i == r->n)
			i = 0;
		free(vs->selkey);
		vs->selkey = i < r->n && r->v[i].key != NULL ?
		    xstrdup(r->v[i].key) : NULL;
	}
	vs->sel = i;
	if (c->view == VIEW_BUILD && vs->selkey != NULL)
		console_select_task(c, vs->selkey);
}

static void
console_frame(struct ev_loop *loop, void *arg)
{
	struct console	*c = arg;

	c->draw_timer = NULL;	/* the hook draws, in this same turn */
}

/* Before the loop sleeps: draw, if anything changed and it is time. */
static void
console_hook(struct ev_loop *loop, void *arg)
{
	struct console	*c = arg;
	uint64_t	 now = util_mono_ms();

	if (c->quit) {
		ev_stop(loop);
		return;
	}
	if (!c->dirty)
		return;
	if (now - c->drawn_at < CONSOLE_FRAME_MS) {
		if (c->draw_timer == NULL)
			c->draw_timer = ev_timer_add(loop, CONSOLE_FRAME_MS -
			    (now - c->drawn_at), console_frame, c);
		return;
	}
	console_rows(c);
	screen_draw(c);
	c->dirty = 0;
	c->drawn_at = now;
}

static void
console_tick(struct ev_loop *loop, void *arg)
{
	struct console	*c = arg;

	ev_timer_add(loop, CONSOLE_TICK_MS, console_tick, c);
	console_dirty(c);
}

static void
console_keys(struct ev_loop *loop, int fd, void *arg)
{
	struct console	*c = arg;
	int		 key;

	while ((key = screen_getkey()) != -1 && !c->quit)
		keys_dispatch(c, key);
}

static void
console_signal(struct ev_loop *loop, int signo, void *arg)
{
	struct console	*c = arg;

	if (signo == SIGWINCH) {
		screen_resize(c);
		return;
	}
	c->quit = 1;
	ev_stop(loop);
}

static void
console_changed(void *arg)
{
	console_dirty(arg);
}

static void
console_free(struct console *c)
{
	int	 i;

	net_free(c->net);
	model_free(c->model);
	ev_timer_del(c->log_timer);
	rows_reset(&c->rows);
	for (i = 0; i < VIEW_COUNT; i++) {
		free(c->vs[i].selkey);
		free(c->vs[i].filter);
		json_decref(c->vs[i].tags);
	}
	buf_release(&c->log);
	buf_release(&c->input);
	json_decref(c->pending);
	free(c->task);
	free(c->ask);
	free(c->message);
	free(c);
}

/* beekeeper console, or beekeeper alone on a terminal. */
int
cmd_console(int argc, char **argv)
{
	struct console	*c;
	struct ev_loop	*loop;
	int		 i;

	if (argc > 1)
		return (cmd_usage("console"));
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "beekeeper: the console needs a terminal\n");
		return (1);
	}
	if (client_key_ready() != 0)
		return (EXIT_REFUSED);
	/* Warnings would write over the screen. */
	log_set_level(LOG_LEVEL_ERROR);

	loop = ev_create();
	c = xcalloc(1, sizeof *c);
	c->loop = loop;
	c->model = model_create();
	buf_init(&c->log, 0);
	buf_init(&c->input, 0);
	for (i = 0; i < VIEW_COUNT; i++)
		c->vs[i].tags = json_object();
	if (screen_init(c) != 0) {
		console_free(c);
		ev_free(loop);
		return (1);
	}
	c->net = net_create(loop, c->model, console_changed, c);
	ev_signal_add(loop, SIGINT, console_signal, c);
	ev_signal_add(loop, SIGTERM, console_signal, c);
	ev_signal_add(loop, SIGHUP, console_signal, c);
	ev_signal_add(loop, SIGWINCH, console_signal, c);
	signal(SIGPIPE, SIG_IGN);
	ev_io_add(loop, STDIN_FILENO, EV_READ, console_keys, c);
	ev_before_sleep(loop, console_hook, c);
	ev_timer_add(loop, CONSOLE_TICK_MS, console_tick, c);
	console_dirty(c);

	ev_run(loop);

	screen_end();
	console_free(c);
	ev_free(loop);
	return (0);
}
