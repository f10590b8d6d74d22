/*
 * The events view: what the daemon published since the console synced,
 * newest first, one line each as `beekeeper watch` prints it, with the
 * audit records (commands given, by whom, and what came of them) among
 * them, since the console started (the last MODEL_EVENTS_MAX). The
 * daemon keeps no history of events, but it does of commands: at each
 * sync the last 50 audit records not shown yet are put first (asked with
 * "audit"; their SEQ is "aID", the record's id).
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto.h"
#include "tui.h"

/* "HH:MM:SS" of a time in ms. */
static void
events_clock(json_int_t ms, char *s, size_t len)
{
	struct tm	 tm;
	time_t		 t = (time_t)(ms / 1000);

	if (ms <= 0 || localtime_r(&t, &tm) == NULL ||
	    strftime(s, len, "%H:%M:%S", &tm) == 0)
		snprintf(s, len, "-");
}

/* What a message says, in a few words. */
static char *
events_summary(const char *topic, const json_t *data)
{
	static const char	*members[] = {
		"project", "ref", "build", "slug", "pool", "state", "reason"
	};
	struct buf		 b;
	const json_t		*v;
	char			*s, *o, *d;
	size_t			 i;

	if (strcmp(topic, PROTO_TOPIC_AUDIT) == 0) {
		d = act_describe(data);
		o = act_outcome(data);
		xasprintf(&s, "%s: %s, by %s", d, o,
		    json_text(data, "who") != NULL ? json_text(data, "who") :
		    "-");
		free(d);
		free(o);
		return (s);
	}
	buf_init(&b, 0);
	for (i = 0; i < nitems(members); i++) {
		if ((v = json_object_get(data, members[i])) == NULL ||
		    json_is_null(v))
			continue;
		s = fmt_value(v);
		buf_printf(&b, "%s%s=%s", b.len > 0 ? " " : "", members[i], s);
		free(s);
	}
	if (b.len == 0)
		buf_addstr(&b, "");
	return (buf_detach(&b, NULL));
}

void
view_events_rows(struct console *c, struct rows *r, int width)
{
	json_t		*events = c->model->events, *e, *data;
	const char	*topic, *op;
	char		 key[32], clock[16], *k, *summary;
	size_t		 i;

	rows_columns(r, "%-8s %7s  %-9s %-6s %-20s %s", "TIME", "SEQ",
	    "TOPIC", "OP", "KEY", "WHAT");
	for (i = json_array_size(events); i > 0; i--) {
		e = json_array_get(events, i - 1);
		topic = json_text(e, "topic");
		op = json_text(e, "op");
		data = json_object_get(e, "data");
		if (topic == NULL)
			continue;
		/* Audit records from before the console came have no seq. */
		if (json_number(e, "seq", -1) >= 0)
			snprintf(key, sizeof key, "%" JSON_INTEGER_FORMAT,
			    json_number(e, "seq", 0));
		else
			snprintf(key, sizeof key, "a%" JSON_INTEGER_FORMAT,
			    json_number(data, "id", 0));
		events_clock(json_number(e, "time", 0), clock, sizeof clock);
		k = fmt_value(json_object_get(data,
		    strcmp(topic, PROTO_TOPIC_POOL) == 0 ? "name" :
		    strcmp(topic, PROTO_TOPIC_PROJECT) == 0 ? "repo" : "id"));
		summary = events_summary(topic, data);
		rows_add(r, key, strcmp(topic, PROTO_TOPIC_AUDIT) == 0 ?
		    (json_is_true(json_object_get(data, "ok")) ? ROLE_OK :
		    ROLE_FAILED) : role_of_state(json_text(data, "state")),
		    "%-8s %7s  %-9s %-6s %-20.20s %s", clock, key, topic,
		    op != NULL ? op : "-", k, summary);
		free(k);
		free(summary);
	}
	(void)width;
}
