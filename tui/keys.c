/*
 * The console's keys: one table, key_table, of every binding with its
 * letter alias, its name, a line of help, the views it works in and
 * whether it acts on the daemon (an admin's only). The same table feeds
 * dispatch, the F-key bar, the help screen and the KEYS section of
 * beekeeper(1) (checked by the unit tests: no key twice in a view, help
 * on every entry).
 *
 * Handlers never draw: they change the console's state, send requests
 * or open the prompt, and mark the screen stale.
 */

#include "config.h"

#include <curses.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

#define CTRL_L		12
#define KEY_ESC		27
#define KEY_TAB		9

static void
key_help(struct console *c)
{
	console_view(c, VIEW_HELP);
}

static void
key_filter(struct console *c)
{
	prompt_open(c, PROMPT_FILTER, "/");
}

static void
key_command(struct console *c)
{
	prompt_open(c, PROMPT_COMMAND, ":");
}

static void
key_quit(struct console *c)
{
	c->quit = 1;
}

static void
key_back(struct console *c)
{
	console_back(c);
}

static void
key_redraw(struct console *c)
{
	c->clear = 1;
	console_dirty(c);
}

static void
key_up(struct console *c)
{
	list_move(c, -1);
}

static void
key_down(struct console *c)
{
	list_move(c, 1);
}

static void
key_pgup(struct console *c)
{
	list_move(c, -(long)(LINES > 12 ? LINES - 10 : 1));
}

static void
key_pgdn(struct console *c)
{
	list_move(c, LINES > 12 ? LINES - 10 : 1);
}

static void
key_home(struct console *c)
{
	list_move(c, -(long)c->rows.n);
}

static void
key_end(struct console *c)
{
	list_move(c, (long)c->rows.n);
}

static void
key_builds(struct console *c)
{
	console_view(c, VIEW_BUILDS);
}

static void
key_pools(struct console *c)
{
	console_view(c, VIEW_POOLS);
}

static void
key_instances(struct console *c)
{
	console_view(c, VIEW_INSTANCES);
}

static void
key_projects(struct console *c)
{
	console_view(c, VIEW_PROJECTS);
}

static void
key_events(struct console *c)
{
	console_view(c, VIEW_EVENTS);
}

static void
key_next(struct console *c)
{
	static const enum view_id	 order[] = {
		VIEW_BUILDS, VIEW_POOLS, VIEW_INSTANCES, VIEW_PROJECTS,
		VIEW_EVENTS
	};
	size_t				 i;

	for (i = 0; i < nitems(order); i++) {
		if (order[i] == c->view)
			break;
	}
	console_view(c, order[(i + 1) % nitems(order)]);
}

/* Enter: drill into the selected row. */
static void
key_enter(struct console *c)
{
	const char	*sel = console_selected(c);
	struct viewstate *vs;

	if (sel == NULL)
		return;
	switch (c->view) {
	case VIEW_BUILDS:
		console_open_build(c, strtoll(sel, NULL, 10));
		break;
	case VIEW_POOLS:
	case VIEW_PROJECTS:
		/* Its instances, or its builds: the list, filtered. */
		console_view(c, c->view == VIEW_POOLS ? VIEW_INSTANCES :
		    VIEW_BUILDS);
		vs = &c->vs[c->view];
		free(vs->filter);
		vs->filter = xstrdup(sel);
		break;
	default:
		break;
	}
}

static void
key_tag(struct console *c)
{
	const char		*sel = console_selected(c);
	struct viewstate	*vs = &c->vs[c->view];

	if (sel == NULL)
		return;
	if (json_object_get(vs->tags, sel) != NULL)
		json_object_del(vs->tags, sel);
	else
		json_object_set_new(vs->tags, sel, json_true());
	list_move(c, 1);
}

static void
key_sort(struct console *c)
{
	c->sort = (c->sort + 1) % view_builds_sorts();
	console_message(c, 0, "builds sorted by %s",
	    view_builds_sort_name(c->sort));
}

/*
 * The requests of CMD, one per tagged row of the view or else for the
 * selected row, its key as member WHAT; NULL when there is no row.
 */
static json_t *
key_targets(struct console *c, const char *cmd, const char *what,
    int number)
{
	struct viewstate	*vs = &c->vs[c->view];
	const char		*sel = console_selected(c), *k;
	json_t			*reqs, *v;

	reqs = json_array();
	json_object_foreach(vs->tags, k, v) {
		json_array_append_new(reqs, json_pack("{s:s, s:o}", "cmd", cmd,
		    what, number ? client_number(k) : json_string(k)));
	}
	if (json_array_size(reqs) == 0 && sel != NULL)
		json_array_append_new(reqs, json_pack("{s:s, s:o}", "cmd", cmd,
		    what, number ? client_number(sel) : json_string(sel)));
	if (json_array_size(reqs) == 0) {
		json_decref(reqs);
		console_message(c, 1, "%s: nothing selected", cmd);
		return (NULL);
	}
	return (reqs);
}

/* Ask before sending REQS (taken): "cancel build 12?" or "cancel 3?". */
static void
key_confirm(struct console *c, json_t *reqs, const char *noun)
{
	char	*q, *d;

	if (json_array_size(reqs) == 1) {
		d = prompt_describe(json_array_get(reqs, 0));
		xasprintf(&q, "%s? (y/n)", d);
		free(d);
	} else
		xasprintf(&q, "%s %zu %s? (y/n)",
		    json_text(json_array_get(reqs, 0), "cmd"),
		    json_array_size(reqs), noun);
	prompt_confirm(c, reqs, q);
	free(q);
}

static void
key_cancel(struct console *c)
{
	json_t	*reqs;

	if (c->view == VIEW_BUILD)
		reqs = json_pack("[{s:s, s:I}]", "cmd", "cancel", "build",
		    c->build);
	else if ((reqs = key_targets(c, "cancel", "build", 1)) == NULL)
		return;
	key_confirm(c, reqs, "builds");
}

static void
key_retry(struct console *c)
{
	json_t	*reqs;

	if (c->view == VIEW_BUILD) {
		reqs = json_pack("[{s:s, s:I}]", "cmd", "retry", "build",
		    c->build);
		if (c->task != NULL)
			json_object_set_new(json_array_get(reqs, 0), "task",
			    json_string(c->task));
	} else if ((reqs = key_targets(c, "retry", "build", 1)) == NULL)
		return;
	key_confirm(c, reqs, "builds");
}

static void
key_approve(struct console *c)
{
	json_t	*reqs, *req;
	size_t	 i;

	if (c->view == VIEW_BUILD)
		reqs = json_pack("[{s:s, s:I}]", "cmd", "approve", "build",
		    c->build);
	else if ((reqs = key_targets(c, "approve", c->view == VIEW_PROJECTS ?
	    "project" : "build", c->view != VIEW_PROJECTS)) == NULL)
		return;
	json_array_foreach(reqs, i, req)
		console_send(c, json_incref(req), NULL);
	json_decref(reqs);
}

static void
key_reject(struct console *c)
{
	json_t	*reqs;

	if ((reqs = key_targets(c, "reject", "project", 0)) != NULL)
		key_confirm(c, reqs, "projects");
}

static void
key_cap(struct console *c)
{
	json_t	*reqs;
	char	*q;

	if ((reqs = key_targets(c, "cap", "pool", 0)) == NULL)
		return;
	json_decref(c->pending);
	c->pending = reqs;
	xasprintf(&q, "cap %s at how many instances? ",
	    json_array_size(reqs) == 1 ? json_text(json_array_get(reqs, 0),
	    "pool") : "the tagged pools");
	prompt_open(c, PROMPT_NUMBER, q);
	free(q);
}

static void
key_uncap(struct console *c)
{
	json_t	*reqs, *req;
	size_t	 i;

	if ((reqs = key_targets(c, "uncap", "pool", 0)) == NULL)
		return;
	json_array_foreach(reqs, i, req)
		console_send(c, json_incref(req), NULL);
	json_decref(reqs);
}

static void
key_drain_pool(struct console *c)
{
	json_t	*reqs;

	if ((reqs = key_targets(c, "drain-pool", "pool", 0)) != NULL)
		key_confirm(c, reqs, "pools");
}

static void
key_drain(struct console *c)
{
	json_t	*reqs;

	if ((reqs = key_targets(c, "drain", "instance", 0)) != NULL)
		key_confirm(c, reqs, "instances");
}

static void
key_undrain(struct console *c)
{
	json_t	*reqs, *req;
	size_t	 i;

	if ((reqs = key_targets(c, "undrain", "instance", 0)) == NULL)
		return;
	json_array_foreach(reqs, i, req)
		console_send(c, json_incref(req), NULL);
	json_decref(reqs);
}

#define V(x)		VIEW_BIT(VIEW_ ## x)
#define VIEWS_NAV	(VIEW_LISTS | V(BUILD) | V(HELP))

const struct key_entry key_table[] = {
	{ KEY_F(1), '?', "Help", "show the keys and commands", VIEW_ALL, 0,
	  key_help },
	{ KEY_F(2), '/', "Filter", "show only the rows holding a text",
	  VIEW_LISTS, 0, key_filter },
	{ KEY_F(3), ':', "Cmd", "type a command, as :cap default 2",
	  VIEW_ALL, 0, key_command },
	{ KEY_F(4), 's', "Sort", "sort the builds by age, state or project",
	  V(BUILDS), 0, key_sort },
	{ KEY_F(5), 'x', "Cancel", "cancel the selected or tagged builds",
	  V(BUILDS) | V(BUILD), 1, key_cancel },
	{ KEY_F(6), 'r', "Retry", "run the build, or the selected task, "
	  "again", V(BUILDS) | V(BUILD), 1, key_retry },
	{ KEY_F(7), 'a', "Approve", "approve the build or the project",
	  V(BUILDS) | V(BUILD) | V(PROJECTS), 1, key_approve },
	{ KEY_F(8), 'R', "Reject", "never build the selected project",
	  V(PROJECTS), 1, key_reject },
	{ KEY_F(5), 'c', "Cap", "cap the pool's instances (asks how many)",
	  V(POOLS), 1, key_cap },
	{ KEY_F(6), 'u', "Uncap", "remove the pool's cap", V(POOLS), 1,
	  key_uncap },
	{ KEY_F(7), 'D', "DrainPool", "drain every instance of the pool",
	  V(POOLS), 1, key_drain_pool },
	{ KEY_F(5), 'd', "Drain", "drain the selected or tagged instances",
	  V(INSTANCES), 1, key_drain },
	{ KEY_F(6), 'u', "Undrain", "let the instance take tasks again",
	  V(INSTANCES), 1, key_undrain },
	{ KEY_F(10), 'q', "Quit", "leave the console", VIEW_ALL, 0,
	  key_quit },
	{ '\n', KEY_ENTER, "Enter", "open the build; a pool's instances; "
	  "a project's builds", V(BUILDS) | V(POOLS) | V(PROJECTS), 0,
	  key_enter },
	{ KEY_ESC, KEY_BACKSPACE, "Back", "go back to the view before",
	  VIEW_ALL, 0, key_back },
	{ ' ', 0, "Tag", "tag the row, for a bulk cancel or drain",
	  V(BUILDS) | V(INSTANCES) | V(POOLS), 0, key_tag },
	{ KEY_UP, 'k', "Up", "select the row above", VIEWS_NAV, 0, key_up },
	{ KEY_DOWN, 'j', "Down", "select the row below", VIEWS_NAV, 0,
	  key_down },
	{ KEY_PPAGE, 0, "PgUp", "a page up", VIEWS_NAV, 0, key_pgup },
	{ KEY_NPAGE, 0, "PgDn", "a page down", VIEWS_NAV, 0, key_pgdn },
	{ KEY_HOME, 'g', "Home", "the first row", VIEWS_NAV, 0, key_home },
	{ KEY_END, 'G', "End", "the last row", VIEWS_NAV, 0, key_end },
	{ KEY_TAB, 0, "Tab", "the next view", VIEW_ALL, 0, key_next },
	{ '1', 'b', "Builds", "the builds view", VIEW_ALL, 0, key_builds },
	{ '2', 'p', "Pools", "the pools view", VIEW_ALL, 0, key_pools },
	{ '3', 'i', "Instances", "the instances view", VIEW_ALL, 0,
	  key_instances },
	{ '4', 'o', "Projects", "the projects view", VIEW_ALL, 0,
	  key_projects },
	{ '5', 'e', "Events", "the events and audit view", VIEW_ALL, 0,
	  key_events },
	{ CTRL_L, 0, "Redraw", "redraw the whole screen", VIEW_ALL, 0,
	  key_redraw },
};
const size_t key_count = nitems(key_table);

/* The binding of KEY in VIEW, or NULL. */
const struct key_entry *
keys_find(enum view_id view, int key)
{
	size_t	 i;

	for (i = 0; i < key_count; i++) {
		if ((key_table[i].views & VIEW_BIT(view)) == 0)
			continue;
		if (key_table[i].key == key ||
		    (key_table[i].alias != 0 && key_table[i].alias == key))
			return (&key_table[i]);
	}
	return (NULL);
}

/* A key as help shows it: "F5", "Esc", "Up", "x", "Space". */
static char *
keys_name(int key)
{
	char	*s;

	if (key >= KEY_F(1) && key <= KEY_F(12))
		xasprintf(&s, "F%d", key - KEY_F(0));
	else if (key == KEY_ESC)
		s = xstrdup("Esc");
	else if (key == '\n')
		s = xstrdup("Enter");
	else if (key == ' ')
		s = xstrdup("Space");
	else if (key == KEY_TAB)
		s = xstrdup("Tab");
	else if (key == CTRL_L)
		s = xstrdup("Ctrl-L");
	else if (key == KEY_ENTER)
		s = xstrdup("KP-Enter");
	else if (key == KEY_BACKSPACE)
		s = xstrdup("Backspace");
	else if (key == KEY_UP)
		s = xstrdup("Up");
	else if (key == KEY_DOWN)
		s = xstrdup("Down");
	else if (key == KEY_PPAGE)
		s = xstrdup("PgUp");
	else if (key == KEY_NPAGE)
		s = xstrdup("PgDn");
	else if (key == KEY_HOME)
		s = xstrdup("Home");
	else if (key == KEY_END)
		s = xstrdup("End");
	else if (key >= ' ' && key < 127)
		xasprintf(&s, "%c", key);
	else
		s = xstrdup(keyname(key) != NULL ? keyname(key) : "?");
	return (s);
}

/* "F5 x" or "Up k": the entry's keys as help and the man page list them. */
char *
keys_label(const struct key_entry *ke)
{
	char	*k, *a, *s;

	k = keys_name(ke->key);
	if (ke->alias == 0)
		return (k);
	a = keys_name(ke->alias);
	xasprintf(&s, "%s, %s", k, a);
	free(k);
	free(a);
	return (s);
}

/* A key typed: to the prompt when it is open, else to its binding. */
void
keys_dispatch(struct console *c, int key)
{
	const struct key_entry	*ke;

	/* The terminal is in nonl mode: Return is '\r'. */
	if (key == '\r')
		key = '\n';
	if (c->prompt != PROMPT_NONE) {
		prompt_key(c, key == KEY_ENTER ? '\n' : key);
		return;
	}
	/* screen_resize (on SIGWINCH) has laid out already. */
	if (key == KEY_RESIZE) {
		console_dirty(c);
		return;
	}
	if ((ke = keys_find(c->view, key)) == NULL)
		return;
	console_rows(c);
	if (ke->admin && !console_admin(c, ke->name))
		return;
	ke->fn(c);
}

/* The help view: the keys of the view before it, then the commands. */
void
keys_help_rows(struct console *c, struct rows *r, int width)
{
	const struct pcmd_entry	*ce;
	enum view_id		 v = c->nback > 0 ? c->back[c->nback - 1] :
				    VIEW_BUILDS;
	char			*label, *cmd;
	size_t			 i;
	int			 admin = console_admin(c, NULL);

	rows_columns(r, "keys of the %s view, then the : commands",
	    view_name(v));
	for (i = 0; i < key_count; i++) {
		if ((key_table[i].views & VIEW_BIT(v)) == 0 ||
		    (key_table[i].admin && !admin))
			continue;
		label = keys_label(&key_table[i]);
		rows_add(r, key_table[i].name, ROLE_NORMAL, "  %-16s %-10s %s",
		    label, key_table[i].name, key_table[i].help);
		free(label);
	}
	rows_add(r, NULL, ROLE_TITLE, "commands");
	for (ce = pcmd_table; ce->name != NULL; ce++) {
		if (ce->view < 0 && !admin)
			continue;
		xasprintf(&cmd, ":%s %s", ce->name, ce->usage);
		rows_add(r, ce->name, ROLE_NORMAL, "  %-28s %s%s", cmd,
		    ce->help, ce->confirm ? " (asks first)" : "");
		free(cmd);
	}
	if (!admin)
		rows_add(r, NULL, ROLE_MUTED, "read-only: this console has no "
		    "control key, so it may look but not act");
	(void)width;
}
