/*
 * The console's terminal: ncurses set up and given back, the colour
 * roles, the layout, and the one drawing pass a loop turn may make.
 *
 * Layout, top to bottom: two header lines (the daemon and the fleet),
 * the view's tabs, its column line, its rows (the build view splits them
 * with the selected task's log), the message or prompt line, and the
 * F-key bar. Below SCREEN_MIN_COLS x SCREEN_MIN_LINES one line says the
 * terminal is too small.
 *
 * Invariants:
 * - Only this file calls ncurses, and only screen_draw draws: every
 *   window is drawn with wnoutrefresh and the terminal is written once,
 *   by one doupdate. clear() happens only for Ctrl-L.
 * - Colours come from role_table alone; without colours, or with
 *   NO_COLOR set and not empty, each role has a monochrome attribute.
 * - screen_end gives the terminal back, and may be called any number
 *   of times, from any exit path (atexit included).
 */

#include "config.h"

#include <sys/ioctl.h>

#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tui.h"

#define SCREEN_MIN_COLS		60
#define SCREEN_MIN_LINES	12
#define SCREEN_TOP		4	/* header, header, tabs, columns */
#define SCREEN_BOTTOM		2	/* message, F-keys */

static const struct role_entry {
	enum role	 role;
	short		 fg, bg;
	attr_t		 attr;		/* with colours */
	attr_t		 mono;		/* without */
} role_table[] = {
	{ ROLE_NORMAL, -1, -1, A_NORMAL, A_NORMAL },
	{ ROLE_HEADER, COLOR_WHITE, COLOR_BLUE, A_BOLD, A_REVERSE },
	{ ROLE_TITLE, COLOR_CYAN, -1, A_BOLD, A_BOLD },
	{ ROLE_COLUMNS, COLOR_BLACK, COLOR_GREEN, A_NORMAL, A_UNDERLINE },
	{ ROLE_OK, COLOR_GREEN, -1, A_NORMAL, A_NORMAL },
	{ ROLE_FAILED, COLOR_RED, -1, A_BOLD, A_BOLD },
	{ ROLE_RUNNING, COLOR_CYAN, -1, A_BOLD, A_BOLD },
	{ ROLE_QUEUED, COLOR_YELLOW, -1, A_NORMAL, A_NORMAL },
	{ ROLE_MUTED, COLOR_BLUE, -1, A_DIM, A_DIM },
	{ ROLE_SELECTED, COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE },
	{ ROLE_TAGGED, COLOR_YELLOW, -1, A_BOLD, A_BOLD | A_UNDERLINE },
	{ ROLE_FKEY, COLOR_WHITE, -1, A_BOLD, A_BOLD },
	{ ROLE_FKEY_LABEL, COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE },
	{ ROLE_MESSAGE, -1, -1, A_BOLD, A_BOLD },
	{ ROLE_ERROR, COLOR_RED, -1, A_BOLD, A_BOLD | A_REVERSE },
	{ ROLE_DISCONNECTED, COLOR_WHITE, COLOR_RED, A_BOLD, A_BLINK |
	  A_REVERSE },
};

static int	screen_on;
static int	screen_colour;

static attr_t
screen_attr(enum role role)
{
	const struct role_entry	*re = &role_table[role];

	if (!screen_colour)
		return (re->mono);
	return (re->attr | COLOR_PAIR(role + 1));
}

/* Give the terminal back: safe to call again, and from atexit. */
void
screen_end(void)
{
	if (!screen_on)
		return;
	screen_on = 0;
	endwin();
}

/* Take the terminal; 0, or -1 said on stderr. */
int
screen_init(struct console *c)
{
	const char	*nc = getenv("NO_COLOR");
	size_t		 i;

	setlocale(LC_ALL, "");
	c->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	/* Not initscr(), which exits on a terminal it does not know. */
	if (newterm(NULL, stdout, stdin) == NULL) {
		fprintf(stderr, "beekeeper: cannot use the terminal: TERM=%s "
		    "is not in the terminfo database\n",
		    getenv("TERM") != NULL ? getenv("TERM") : "");
		return (-1);
	}
	screen_on = 1;
	atexit(screen_end);
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	screen_colour = has_colors() && (nc == NULL || *nc == '\0');
	if (screen_colour) {
		start_color();
		use_default_colors();
		for (i = 0; i < nitems(role_table); i++)
			init_pair(role_table[i].role + 1, role_table[i].fg,
			    role_table[i].bg);
	}
	return (0);
}

/* The terminal changed size (SIGWINCH or KEY_RESIZE): lay out again. */
void
screen_resize(struct console *c)
{
	struct winsize	 ws;

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 &&
	    ws.ws_col > 0)
		resizeterm(ws.ws_row, ws.ws_col);
	console_dirty(c);
}

/* The next key typed, or ERR. */
int
screen_getkey(void)
{
	return (getch());
}

/* TEXT at (Y, 0) in ROLE, cut or padded to the width. */
static void
screen_line(int y, enum role role, const char *text)
{
	attr_t	 a = screen_attr(role);

	attrset(a);
	mvaddnstr(y, 0, text, COLS);
	clrtoeol();
	if (role != ROLE_NORMAL) {
		/* The role's background across the whole line. */
		mvchgat(y, 0, -1, a, screen_colour ? role + 1 : 0, NULL);
	}
	attrset(A_NORMAL);
}

static void
screen_header(struct console *c)
{
	struct model	*m = c->model;
	json_t		**v;
	const char	*st;
	char		*s, when[16];
	size_t		 n, i;
	json_int_t	 queued = 0, running = 0, busy = 0, idle = 0,
			 booting = 0;
	double		 hour = 0, today = 0;
	struct tm	 tm;
	time_t		 t = (time_t)(m->last_time / 1000);
	enum net_state	 ns = net_state(c->net);

	n = model_list(m, MODEL_POOLS, &v);
	for (i = 0; i < n; i++) {
		queued += json_number(v[i], "queued", 0);
		running += json_number(v[i], "busy", 0);
		if (json_is_number(json_object_get(v[i], "spend_per_hour")))
			hour += json_number_value(json_object_get(v[i],
			    "spend_per_hour"));
		if (json_is_number(json_object_get(v[i], "spend_today")))
			today += json_number_value(json_object_get(v[i],
			    "spend_today"));
	}
	free(v);
	n = model_list(m, MODEL_INSTANCES, &v);
	for (i = 0; i < n; i++) {
		if ((st = json_text(v[i], "state")) == NULL)
			continue;
		if (strcmp(st, "ready") == 0 &&
		    json_number(v[i], "busy", 0) > 0)
			busy++;
		else if (strcmp(st, "ready") == 0)
			idle++;
		else if (strcmp(st, "booting") == 0 ||
		    strcmp(st, "requested") == 0)
			booting++;
	}
	free(v);
	if (m->last_time <= 0 || localtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof when, "%H:%M:%S", &tm) == 0)
		snprintf(when, sizeof when, "-");

	xasprintf(&s, " beekeeper  %s  %s  protocol %d  %s  last event %s",
	    client_endpoint(), net_state_text(c->net), net_protocol(c->net),
	    net_role(c->net), when);
	screen_line(0, ns == NET_SYNCED ? ROLE_HEADER : ROLE_DISCONNECTED, s);
	free(s);
	xasprintf(&s, " queue %" JSON_INTEGER_FORMAT "  running %"
	    JSON_INTEGER_FORMAT "  instances %" JSON_INTEGER_FORMAT " busy %"
	    JSON_INTEGER_FORMAT " idle %" JSON_INTEGER_FORMAT " booting  "
	    "spend $%.2f/h $%.2f today", queued, running, busy, idle, booting,
	    hour, today);
	screen_line(1, ROLE_HEADER, s);
	free(s);
}

static void
screen_tabs(struct console *c)
{
	static const enum view_id	 tabs[] = {
		VIEW_BUILDS, VIEW_POOLS, VIEW_INSTANCES, VIEW_PROJECTS,
		VIEW_EVENTS
	};
	const char			*f = c->vs[c->view].filter;
	size_t				 i;
	char				 num[8];

	move(2, 0);
	clrtoeol();
	for (i = 0; i < nitems(tabs); i++) {
		attrset(tabs[i] == c->view ? screen_attr(ROLE_SELECTED) :
		    A_NORMAL);
		snprintf(num, sizeof num, " %zu ", i + 1);
		addstr(num);
		addstr(view_name(tabs[i]));
		addstr(" ");
		attrset(A_NORMAL);
		addstr(" ");
	}
	if (c->view == VIEW_BUILD || c->view == VIEW_HELP) {
		attrset(screen_attr(ROLE_SELECTED));
		addstr(" ");
		addstr(view_name(c->view));
		addstr(" ");
		attrset(A_NORMAL);
	}
	if (f != NULL) {
		addstr("  filter: ");
		addnstr(f, 40);
	}
}

/* Rows [top, top + h) of the current view at line Y. */
static void
screen_rows(struct console *c, int y, int h)
{
	struct viewstate	*vs = &c->vs[c->view];
	struct rows		*r = &c->rows;
	struct row		*row;
	enum role		 role;
	size_t			 i;
	char			*s;
	int			 tagged;

	if (vs->sel < vs->top)
		vs->top = vs->sel;
	if (h > 0 && vs->sel >= vs->top + (size_t)h)
		vs->top = vs->sel - h + 1;
	for (i = 0; i < (size_t)h; i++) {
		if (vs->top + i >= r->n) {
			move(y + i, 0);
			clrtoeol();
			continue;
		}
		row = &r->v[vs->top + i];
		tagged = row->key != NULL &&
		    json_object_get(vs->tags, row->key) != NULL;
		role = row->role;
		if (vs->top + i == vs->sel && row->key != NULL)
			role = ROLE_SELECTED;
		else if (tagged)
			role = ROLE_TAGGED;
		xasprintf(&s, "%s%s", tagged ? "*" : " ", row->text);
		screen_line(y + i, role, s);
		free(s);
	}
	if (r->n == 0 && h > 0)
		screen_line(y, ROLE_MUTED, net_state(c->net) == NET_SYNCED ?
		    "  (nothing here)" : "  (waiting for the daemon's state)");
}

/* The last lines of the selected task's log, from line Y, H lines. */
static void
screen_log(struct console *c, int y, int h)
{
	const char	*log = view_build_log(c), *p, *e;
	char		*title;
	int		 i, n;

	xasprintf(&title, " log of %s%s", c->task != NULL ? c->task :
	    "(no task selected)", c->log_finished ? " (finished)" :
	    c->task != NULL ? " (following)" : "");
	screen_line(y, ROLE_COLUMNS, title);
	free(title);
	/* Back from the end to the start of the last h - 1 lines. */
	p = log + strlen(log);
	if (p > log && p[-1] == '\n')
		p--;
	for (n = 0; p > log && n < h - 1; p--) {
		if (p[-1] == '\n' && ++n == h - 1)
			break;
	}
	for (i = 1; i < h; i++) {
		move(y + i, 0);
		clrtoeol();
		if (*p == '\0')
			continue;
		e = p + strcspn(p, "\n");
		addnstr(p, (int)(e - p) < COLS ? (int)(e - p) : COLS);
		p = *e == '\n' ? e + 1 : e;
	}
}

static void
screen_bottom(struct console *c)
{
	const struct key_entry	*ke;
	char			*s;
	size_t			 i;
	int			 y = LINES - 2, admin = console_admin(c, NULL);

	move(y, 0);
	clrtoeol();
	if (c->prompt != PROMPT_NONE) {
		xasprintf(&s, "%s%s", c->ask != NULL ? c->ask : "",
		    c->input.data != NULL ? c->input.data : "");
		screen_line(y, ROLE_MESSAGE, s);
		free(s);
		curs_set(1);
	} else {
		curs_set(0);
		if (c->message != NULL)
			screen_line(y, c->message_error ? ROLE_ERROR :
			    ROLE_MESSAGE, c->message);
	}

	move(LINES - 1, 0);
	attrset(A_NORMAL);
	clrtoeol();
	for (i = 0; i < key_count; i++) {
		ke = &key_table[i];
		if (ke->key < KEY_F(1) || ke->key > KEY_F(12) ||
		    (ke->views & VIEW_BIT(c->view)) == 0 ||
		    (ke->admin && !admin))
			continue;
		if (getcurx(stdscr) + 3 + (int)strlen(ke->name) >= COLS)
			break;
		attrset(screen_attr(ROLE_FKEY));
		printw("F%d", ke->key - KEY_F(0));
		attrset(screen_attr(ROLE_FKEY_LABEL));
		printw("%-*s", (int)strlen(ke->name) + 1, ke->name);
	}
	attrset(A_NORMAL);
	if (c->prompt != PROMPT_NONE) {
		xasprintf(&s, "%s%s", c->ask != NULL ? c->ask : "",
		    c->input.data != NULL ? c->input.data : "");
		move(y, (int)strlen(s) < COLS ? (int)strlen(s) : COLS - 1);
		free(s);
	}
}

/* The one drawing pass: the whole screen, one doupdate. */
void
screen_draw(struct console *c)
{
	char	*s;
	int	 body, tree;

	if (c->clear) {
		clearok(curscr, TRUE);
		c->clear = 0;
	}
	if (COLS < SCREEN_MIN_COLS || LINES < SCREEN_MIN_LINES) {
		erase();
		xasprintf(&s, "terminal too small: %dx%d, the console needs "
		    "%dx%d", COLS, LINES, SCREEN_MIN_COLS, SCREEN_MIN_LINES);
		mvaddnstr(0, 0, s, COLS);
		free(s);
		wnoutrefresh(stdscr);
		doupdate();
		return;
	}
	screen_header(c);
	screen_tabs(c);
	screen_line(3, ROLE_COLUMNS, c->rows.columns != NULL ?
	    c->rows.columns : "");
	body = LINES - SCREEN_TOP - SCREEN_BOTTOM;
	if (c->view == VIEW_BUILD) {
		tree = (int)c->rows.n + 1 < body / 2 ? (int)c->rows.n + 1 :
		    body / 2;
		screen_rows(c, SCREEN_TOP, tree);
		screen_log(c, SCREEN_TOP + tree, body - tree);
	} else
		screen_rows(c, SCREEN_TOP, body);
	screen_bottom(c);
	wnoutrefresh(stdscr);
	doupdate();
}
