/*
 * Text for people: aligned tables and the cells that go in them, made
 * from the daemon's JSON objects. A table is a header row and rows of
 * cells, printed with each column as wide as its widest cell and two
 * spaces between columns; the last column is not padded, so a long
 * reason never pushes the others around.
 *
 * Every cell is a string the table owns. A missing or null value is "-",
 * so a column is never blank and a script splitting on spaces still sees
 * every column.
 */

#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tui.h"

struct table {
	size_t	  ncols;
	char	**cells;	/* row by row, ncols each; row 0 the header */
	size_t	  ncells;
	size_t	  size;		/* allocated */
};

static void
table_add(struct table *t, char *cell)
{
	if (t->ncells == t->size) {
		t->size = t->size == 0 ? 64 : t->size * 2;
		t->cells = xreallocarray(t->cells, t->size, sizeof *t->cells);
	}
	t->cells[t->ncells++] = cell;
}

/* A table of NCOLS columns; its first row of cells is the header. */
struct table *
table_create(size_t ncols)
{
	struct table	*t;

	t = xcalloc(1, sizeof *t);
	t->ncols = ncols;
	return (t);
}

/* Start a row: pad the one before, if it is short, with "-". */
void
table_row(struct table *t)
{
	while (t->ncells % t->ncols != 0)
		table_add(t, xstrdup("-"));
}

void
table_cell(struct table *t, const char *fmt, ...)
{
	va_list	 ap;
	char	*cell;

	va_start(ap, fmt);
	xvasprintf(&cell, fmt, ap);
	va_end(ap);
	/* One line per row: a newline or tab in a reason would break it. */
	cell[strcspn(cell, "\n\r")] = '\0';
	if (*cell == '\0') {
		free(cell);
		cell = xstrdup("-");
	}
	table_add(t, cell);
}

/* The cell of member KEY of OBJ, as fmt_value writes it. */
void
table_value(struct table *t, const json_t *obj, const char *key)
{
	char	*s;

	s = fmt_value(json_object_get(obj, key));
	table_cell(t, "%s", s);
	free(s);
}

/* Columns on a terminal: UTF-8 continuation bytes take none. */
static size_t
table_width(const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	}
	return (n);
}

void
table_print(const struct table *t, FILE *f)
{
	size_t	*width, i, col, w;

	width = xcalloc(t->ncols, sizeof *width);
	for (i = 0; i < t->ncells; i++) {
		w = table_width(t->cells[i]);
		if (w > width[i % t->ncols])
			width[i % t->ncols] = w;
	}
	for (i = 0; i < t->ncells; i++) {
		col = i % t->ncols;
		fputs(t->cells[i], f);
		if (col == t->ncols - 1 || i == t->ncells - 1)
			fputc('\n', f);
		else
			fprintf(f, "%*s", (int)(width[col] + 2 -
			    table_width(t->cells[i])), "");
	}
	free(width);
	fflush(f);
}

void
table_free(struct table *t)
{
	size_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/* Member KEY of OBJ if it is a string, else NULL; borrowed. */
const char *
json_text(const json_t *obj, const char *key)
{
	return (json_string_value(json_object_get(obj, key)));
}

/* Member KEY of OBJ if it is an integer, else DEF. */
json_int_t
json_number(const json_t *obj, const char *key, json_int_t def)
{
	const json_t	*v = json_object_get(obj, key);

	return (json_is_integer(v) ? json_integer_value(v) : def);
}

/* Any value as a cell: strings as they are, null as "-". */
char *
fmt_value(const json_t *v)
{
	char	*s;

	if (v == NULL)
		return (xstrdup("-"));
	switch (json_typeof(v)) {
	case JSON_STRING:
		return (xstrdup(json_string_value(v)));
	case JSON_INTEGER:
		xasprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return (s);
	case JSON_REAL:
		xasprintf(&s, "%g", json_real_value(v));
		return (s);
	case JSON_TRUE:
		return (xstrdup("yes"));
	case JSON_FALSE:
		return (xstrdup("no"));
	case JSON_OBJECT:
	case JSON_ARRAY:
		if ((s = json_dumps(v, JSON_COMPACT)) == NULL)
			fatalx("cannot encode a value");
		return (s);
	default:
		break;
	}
	return (xstrdup("-"));
}

/* A time in milliseconds as local "YYYY-MM-DD HH:MM:SS", or "-". */
char *
fmt_time(const json_t *v)
{
	struct tm	 tm;
	time_t		 t;
	char		 s[32];

	if (!json_is_integer(v))
		return (xstrdup("-"));
	t = (time_t)(json_integer_value(v) / 1000);
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(s, sizeof s, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		return (xstrdup("-"));
	return (xstrdup(s));
}

/*
 * How long OBJ ran, from member FROM to member TO (or until now while TO
 * is null): "850ms", "42s", "3m05s", "2h07m". "-" before it started.
 */
char *
fmt_duration(const json_t *obj, const char *from, const char *to)
{
	json_int_t	 start, end, ms;
	char		*s;

	if ((start = json_number(obj, from, -1)) < 0)
		return (xstrdup("-"));
	if ((end = json_number(obj, to, -1)) < 0)
		end = util_wall_ms();
	ms = end > start ? end - start : 0;
	if (ms < 1000)
		xasprintf(&s, "%dms", (int)ms);
	else if (ms < 60 * 1000)
		xasprintf(&s, "%ds", (int)(ms / 1000));
	else if (ms < 3600 * 1000)
		xasprintf(&s, "%dm%02ds", (int)(ms / 60000),
		    (int)(ms / 1000 % 60));
	else
		xasprintf(&s, "%dh%02dm", (int)(ms / 3600000),
		    (int)(ms / 60000 % 60));
	return (s);
}

/*
 * A build's ref as people say it: prefix and the number of a pull
 * request ("#12"), else the branch or tag without refs/heads/ or
 * refs/tags/; "-" when there is none.
 */
char *
fmt_ref(const json_t *b, const char *prefix)
{
	const char	*ref = json_text(b, "ref");
	char		*s;

	if (json_is_integer(json_object_get(b, "pr"))) {
		xasprintf(&s, "%s%" JSON_INTEGER_FORMAT, prefix,
		    json_number(b, "pr", 0));
		return (s);
	}
	if (ref == NULL)
		return (xstrdup("-"));
	if (strncmp(ref, "refs/heads/", 11) == 0)
		ref += 11;
	else if (strncmp(ref, "refs/tags/", 10) == 0)
		ref += 10;
	return (xstrdup(ref));
}
