/*
 * The console's prompt line: ":" commands named like the control
 * commands (and the views), "/" filters, the number cap asks for, and
 * the y/n that every destructive action waits for. The commands are a
 * table, pcmd_table, which also writes the help screen's list;
 * prompt_parse is pure, for the unit tests.
 *
 * Invariants:
 * - Nothing is sent before it is understood: a command with the wrong
 *   number of arguments, or a number that is not one, is refused here
 *   with a sentence, and the daemon refuses the rest in its own words.
 * - A destructive request (pcmd_entry.confirm) is held in c->pending
 *   until y is typed; any other key drops it.
 */

#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

const struct pcmd_entry pcmd_table[] = {
	{ .name = "cap", .min = 2, .max = 2, .usage = "POOL N",
	  .help = "launch at most N instances in POOL", .view = -1,
	  .what = { "pool", "n" }, .number = { 0, 1 } },
	{ .name = "uncap", .min = 1, .max = 1, .usage = "POOL",
	  .help = "remove POOL's cap", .view = -1, .what = { "pool" } },
	{ .name = "drain", .min = 1, .max = 1, .usage = "INSTANCE",
	  .help = "give INSTANCE no new task; it goes once idle",
	  .confirm = 1, .view = -1, .what = { "instance" } },
	{ .name = "undrain", .min = 1, .max = 1, .usage = "INSTANCE",
	  .help = "let a draining INSTANCE take tasks again", .view = -1,
	  .what = { "instance" } },
	{ .name = "drain-pool", .min = 1, .max = 1, .usage = "POOL",
	  .help = "drain every live instance of POOL", .confirm = 1,
	  .view = -1, .what = { "pool" } },
	{ .name = "cancel", .min = 1, .max = 1, .usage = "BUILD",
	  .help = "stop a build that has not finished", .confirm = 1,
	  .view = -1, .what = { "build" }, .number = { 1 } },
	{ .name = "retry", .min = 1, .max = 2, .usage = "BUILD [TASK]",
	  .help = "run a build, or one of its tasks, again", .confirm = 1,
	  .view = -1, .what = { "build", "task" }, .number = { 1, 0 } },
	{ .name = "approve", .min = 1, .max = 1, .usage = "PROJECT|BUILD",
	  .help = "approve a project, or a build waiting for approval",
	  .view = -1, .what = { "project" } },
	{ .name = "reject", .min = 1, .max = 1, .usage = "PROJECT",
	  .help = "never build PROJECT", .confirm = 1, .view = -1,
	  .what = { "project" } },
	{ .name = "builds", .usage = "", .help = "show the builds",
	  .view = VIEW_BUILDS },
	{ .name = "build", .min = 1, .max = 1, .usage = "BUILD",
	  .help = "show a build's tasks and logs", .view = VIEW_BUILD,
	  .number = { 1 } },
	{ .name = "pools", .usage = "", .help = "show the pools",
	  .view = VIEW_POOLS },
	{ .name = "instances", .usage = "", .help = "show the instances",
	  .view = VIEW_INSTANCES },
	{ .name = "projects", .usage = "", .help = "show the projects",
	  .view = VIEW_PROJECTS },
	{ .name = "events", .usage = "", .help = "show what the daemon "
	  "published, and the audit", .view = VIEW_EVENTS },
	{ .name = "help", .usage = "", .help = "show the keys and commands",
	  .view = VIEW_HELP },
	{ .name = "quit", .usage = "", .help = "leave the console",
	  .view = VIEW_COUNT },
	{ .name = NULL }
};

/* A decimal number that fits: 0, or -1. */
static int
prompt_number(const char *s, long long *n)
{
	char	*end;

	if (*s < '0' || *s > '9')
		return (-1);
	errno = 0;
	*n = strtoll(s, &end, 10);
	return (errno != 0 || *end != '\0' ? -1 : 0);
}

void
prompt_release(struct pcmd *pc)
{
	int	 i;

	for (i = 0; i < pc->argc; i++)
		free(pc->argv[i]);
	memset(pc, 0, sizeof *pc);
}

/*
 * Parse LINE, a ":" command without its colon, into *PC: 0, or -1 with a
 * sentence in *CAUSE (the caller's).
 */
int
prompt_parse(const char *line, struct pcmd *pc, char **cause)
{
	const struct pcmd_entry	*ce;
	const char		*p = line, *w;
	char			*words[4];
	long long		 n;
	int			 nw = 0, i;

	memset(pc, 0, sizeof *pc);
	*cause = NULL;
	while (*p != '\0') {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		w = p;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
		if (nw == nitems(words)) {
			nw++;
			break;
		}
		words[nw++] = xstrndup(w, p - w);
	}
	if (nw == 0) {
		*cause = xstrdup("no command: type one, or :help");
		return (-1);
	}
	for (ce = pcmd_table; ce->name != NULL; ce++) {
		if (strcmp(ce->name, words[0]) == 0 ||
		    (ce->view == VIEW_COUNT && strcmp(words[0], "q") == 0))
			break;
	}
	if (ce->name == NULL)
		xasprintf(cause, "unknown command: %s (:help lists them)",
		    words[0]);
	else if (nw - 1 < ce->min || nw - 1 > ce->max)
		xasprintf(cause, "usage: :%s%s%s", ce->name,
		    *ce->usage != '\0' ? " " : "", ce->usage);
	for (i = 1; *cause == NULL && i < nw; i++) {
		if (ce->number[i - 1] && prompt_number(words[i], &n) != 0)
			xasprintf(cause, "%s: %s is not a number: %s", ce->name,
			    ce->what[i - 1] != NULL ? ce->what[i - 1] : "BUILD",
			    words[i]);
	}
	if (*cause == NULL) {
		pc->ce = ce;
		for (i = 1; i < nw; i++)
			pc->argv[pc->argc++] = words[i];
		free(words[0]);
		return (0);
	}
	for (i = 0; i < nw && i < (int)nitems(words); i++)
		free(words[i]);
	return (-1);
}

/* The control request for a parsed command (not a view's), the caller's. */
json_t *
prompt_request(const struct pcmd *pc)
{
	const struct pcmd_entry	*ce = pc->ce;
	const char		*what;
	json_t			*req;
	int			 i;

	req = json_pack("{s:s}", "cmd", ce->name);
	for (i = 0; i < pc->argc; i++) {
		what = ce->what[i];
		/* approve takes a project or, as a number, a build. */
		if (strcmp(ce->name, "approve") == 0 &&
		    strspn(pc->argv[i], "0123456789") == strlen(pc->argv[i]))
			what = "build";
		json_object_set_new(req, what, client_number(pc->argv[i]));
	}
	return (req);
}

/* A request as the person would type it: "cap default 2". */
char *
prompt_describe(const json_t *req)
{
	struct buf	 b;
	const char	*k;
	json_t		*v;
	char		*s;

	buf_init(&b, 0);
	buf_addstr(&b, json_text(req, "cmd") != NULL ? json_text(req, "cmd") :
	    "?");
	json_object_foreach((json_t *)req, k, v) {
		if (strcmp(k, "cmd") == 0 || strcmp(k, "id") == 0)
			continue;
		s = fmt_value(v);
		buf_printf(&b, " %s", s);
		free(s);
	}
	return (buf_detach(&b, NULL));
}

/* Start reading a line: ":" command, "/" filter or the number for ASK. */
void
prompt_open(struct console *c, enum prompt_mode mode, const char *ask)
{
	c->prompt = mode;
	buf_reset(&c->input);
	free(c->ask);
	c->ask = xstrdup(ask);
	if (mode == PROMPT_FILTER && c->vs[c->view].filter != NULL)
		buf_addstr(&c->input, c->vs[c->view].filter);
	console_dirty(c);
}

/* Ask QUESTION (y/n) before sending the requests of PENDING (taken). */
void
prompt_confirm(struct console *c, json_t *pending, const char *question)
{
	json_decref(c->pending);
	c->pending = pending;
	prompt_open(c, PROMPT_CONFIRM, question);
}

static void
prompt_close(struct console *c)
{
	c->prompt = PROMPT_NONE;
	free(c->ask);
	c->ask = NULL;
	console_dirty(c);
}

/* Run a ":" command line. */
void
prompt_run(struct console *c, const char *line)
{
	struct pcmd	 pc;
	json_t		*req;
	char		*cause, *what;

	if (prompt_parse(line, &pc, &cause) != 0) {
		console_message(c, 1, "%s", cause);
		free(cause);
		return;
	}
	if (pc.ce->view == VIEW_COUNT)
		c->quit = 1;
	else if (pc.ce->view == VIEW_BUILD)
		console_open_build(c, strtoll(pc.argv[0], NULL, 10));
	else if (pc.ce->view >= 0)
		console_view(c, pc.ce->view);
	else if (console_admin(c, pc.ce->name)) {
		req = prompt_request(&pc);
		if (pc.ce->confirm) {
			what = prompt_describe(req);
			xasprintf(&cause, "%s? (y/n)", what);
			prompt_confirm(c, json_pack("[o]", req), cause);
			free(cause);
			free(what);
		} else
			console_send(c, req, NULL);
	}
	prompt_release(&pc);
}

/* The number cap asked for: send every pending request with it as "n". */
static void
prompt_number_done(struct console *c, const char *text)
{
	json_t		*pending = c->pending, *req;
	long long	 n;
	size_t		 i;

	c->pending = NULL;
	if (prompt_number(text, &n) != 0) {
		console_message(c, 1, "cap: not a number: %s", text);
		json_decref(pending);
		return;
	}
	json_array_foreach(pending, i, req) {
		json_object_set_new(req, "n", json_integer(n));
		console_send(c, json_incref(req), NULL);
	}
	json_decref(pending);
}

/* A key typed while the prompt line is open. */
void
prompt_key(struct console *c, int key)
{
	json_t		*pending, *req;
	enum prompt_mode mode = c->prompt;
	char		*text;
	size_t		 i;

	if (mode == PROMPT_CONFIRM) {
		pending = c->pending;
		c->pending = NULL;
		prompt_close(c);
		if (key == 'y' || key == 'Y') {
			json_array_foreach(pending, i, req)
				console_send(c, json_incref(req), NULL);
		} else
			console_message(c, 0, "not done");
		json_decref(pending);
		return;
	}
	switch (key) {
	case 27:	/* Esc */
		prompt_close(c);
		json_decref(c->pending);
		c->pending = NULL;
		return;
	case '\n':
	case '\r':
	case 0x157:	/* KEY_ENTER */
		text = xstrdup(c->input.data != NULL ? c->input.data : "");
		prompt_close(c);
		if (mode == PROMPT_COMMAND)
			prompt_run(c, text);
		else if (mode == PROMPT_NUMBER)
			prompt_number_done(c, text);
		else {
			free(c->vs[c->view].filter);
			c->vs[c->view].filter = *text != '\0' ?
			    xstrdup(text) : NULL;
		}
		free(text);
		return;
	case 8:
	case 127:
	case 0x107:	/* KEY_BACKSPACE */
		if (c->input.len > 0)
			c->input.data[--c->input.len] = '\0';
		else if (mode != PROMPT_NUMBER)
			prompt_close(c);
		break;
	case 21:	/* Ctrl-U */
		buf_reset(&c->input);
		break;
	default:
		if (key >= ' ' && key < 127 && c->input.len < 200) {
			text = (char []){ (char)key, '\0' };
			buf_addstr(&c->input, text);
		}
		break;
	}
	console_dirty(c);
}
