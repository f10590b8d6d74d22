/*
 * The console's pure parts: the model (puts and deletes, the order of
 * sequence numbers, gaps, restarts, a snapshot replacing the state and
 * the held messages after it), the key table (no key twice in a view,
 * help on every entry) and the ":" commands (good and bad lines, with
 * the sentences that say why).
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "tui.h"
#include "tap.h"

/* main.c's globals, which the library's client.c reads. */
int		 json_output;
const char	*control_endpoint;
const char	*control_key_file;
const char	*server_key_file;

static json_t *
msg(json_int_t seq, const char *op, const char *data)
{
	json_t	*d = json_loads(data, 0, NULL);

	if (d == NULL)
		fatalx("bad test data: %s", data);
	return (json_pack("{s:I, s:I, s:s, s:o}", "seq", seq, "time",
	    (json_int_t)1795680000000 + seq, "op", op, "data", d));
}

/* Apply and free. */
static enum model_result
apply(struct model *m, const char *topic, json_t *mj)
{
	enum model_result	 r = model_apply(m, topic, mj);

	json_decref(mj);
	return (r);
}

static const char *
state_of(struct model *m, enum model_coll coll, const char *key)
{
	return (json_text(model_get(m, coll, key), "state"));
}

static void
test_model(void)
{
	struct model	*m = model_create();
	json_t		*snap, *hb, **list;
	size_t		 n;

	/* Before the snapshot, messages are held. */
	is_int(apply(m, "build", msg(5, "put",
	    "{\"id\": 1, \"state\": \"running\"}")), MODEL_HELD,
	    "a message before the snapshot is held");
	is_int(apply(m, "build", msg(6, "put",
	    "{\"id\": 2, \"state\": \"running\"}")), MODEL_HELD,
	    "and the next");
	hb = json_pack("{s:I, s:I}", "seq", (json_int_t)6, "start",
	    (json_int_t)100);
	is_int(model_heartbeat(m, hb), MODEL_HELD,
	    "a heartbeat before the snapshot changes nothing");
	json_decref(hb);

	snap = json_loads("{\"ok\": true, \"seq\": 5, \"start\": 100,"
	    "\"builds\": [{\"id\": 1, \"state\": \"fetching\"},"
	    " {\"id\": 9, \"state\": \"passed\"}],"
	    "\"tasks\": [{\"id\": 10, \"build\": 9, \"slug\": \"lint\"},"
	    " {\"id\": 11, \"build\": 1, \"slug\": \"lint\"}],"
	    "\"pools\": [{\"name\": \"default\", \"cap\": null}],"
	    "\"instances\": [{\"id\": \"i-1\", \"state\": \"ready\"},"
	    " {\"id\": \"i-0\", \"state\": \"terminated\"}],"
	    "\"projects\": [{\"repo\": \"acme/widget\","
	    " \"state\": \"pending\"}],"
	    "\"github\": {\"name\": \"github\", \"backlog\": 0}}", 0, NULL);
	is_int(model_snapshot(m, snap), MODEL_APPLIED, "the snapshot applies");
	ok(m->synced, "synced after it");
	is_int(m->seq, 6, "the held message after it was applied (seq 6)");
	is_str(state_of(m, MODEL_BUILDS, "1"), "fetching",
	    "a held message the snapshot covers is dropped (seq 5)");
	is_str(state_of(m, MODEL_BUILDS, "2"), "running",
	    "the held message past it is applied");
	ok(model_get(m, MODEL_INSTANCES, "i-0") == NULL,
	    "a terminated instance in a snapshot is not kept");
	ok(model_get(m, MODEL_GITHUB, "github") != NULL,
	    "the github object is kept");
	n = model_list(m, MODEL_BUILDS, &list);
	is_int(n, 3, "three builds");
	ok(n == 3 && json_number(list[0], "id", 0) == 1 &&
	    json_number(list[2], "id", 0) == 9, "listed by id, as numbers");
	free(list);

	/* In order. */
	is_int(apply(m, "build", msg(7, "put",
	    "{\"id\": 1, \"state\": \"running\"}")), MODEL_APPLIED,
	    "the next seq applies");
	is_str(state_of(m, MODEL_BUILDS, "1"), "running", "a put replaces");
	is_int(apply(m, "build", msg(7, "put",
	    "{\"id\": 1, \"state\": \"failed\"}")), MODEL_OLD,
	    "the same seq again is ignored");
	is_int(apply(m, "build", msg(3, "put",
	    "{\"id\": 1, \"state\": \"failed\"}")), MODEL_OLD,
	    "an older seq is ignored");
	is_str(state_of(m, MODEL_BUILDS, "1"), "running",
	    "and changes nothing");
	is_int(apply(m, "audit", msg(8, "put",
	    "{\"id\": 1, \"cmd\": \"cap\", \"ok\": true}")), MODEL_APPLIED,
	    "an audit record counts in the order");
	is_int(json_array_size(m->events), 3,
	    "and is among the events, after seq 6 and 7");
	is_int(apply(m, "build", msg(9, "delete", "{\"id\": 9}")),
	    MODEL_APPLIED, "a delete applies");
	ok(model_get(m, MODEL_BUILDS, "9") == NULL, "the build is gone");
	ok(model_get(m, MODEL_TASKS, "10") == NULL, "with its tasks");
	ok(model_get(m, MODEL_TASKS, "11") != NULL, "not another's");
	is_int(apply(m, "instance", msg(10, "put",
	    "{\"id\": \"i-1\", \"state\": \"lost\"}")), MODEL_APPLIED,
	    "an instance lost applies");
	ok(model_get(m, MODEL_INSTANCES, "i-1") == NULL,
	    "and the instance leaves the state");
	is_int(apply(m, "pool", msg(11, "put", "{\"cap\": 2}")), MODEL_BAD,
	    "a put without its key is refused");
	is_int(apply(m, "pool", msg(11, "frob", "{\"name\": \"x\"}")),
	    MODEL_BAD, "so is an unknown op");

	/* Heartbeats. */
	hb = json_pack("{s:I, s:I}", "seq", (json_int_t)10, "start",
	    (json_int_t)100);
	is_int(model_heartbeat(m, hb), MODEL_OLD,
	    "a heartbeat at the last seq: all is well");
	json_decref(hb);

	/* A gap. */
	is_int(apply(m, "build", msg(13, "put",
	    "{\"id\": 1, \"state\": \"passed\"}")), MODEL_GAP,
	    "a seq past the next is a gap");
	ok(!m->synced, "and the model waits for a snapshot");
	is_int(apply(m, "build", msg(14, "put",
	    "{\"id\": 3, \"state\": \"running\"}")), MODEL_HELD,
	    "what comes meanwhile is held");
	json_object_set_new(snap, "seq", json_integer(12));
	is_int(model_snapshot(m, snap), MODEL_APPLIED,
	    "the new snapshot applies");
	is_str(state_of(m, MODEL_BUILDS, "1"), "passed",
	    "the message that showed the gap is applied after it");
	ok(model_get(m, MODEL_BUILDS, "2") == NULL,
	    "the resync replaced the state: what it lacks is gone");
	is_int(m->seq, 14, "up to the last held");

	/* A snapshot older than the held messages: a gap again. */
	model_unsync(m);
	is_int(apply(m, "build", msg(30, "put", "{\"id\": 4}")), MODEL_HELD,
	    "held");
	json_object_set_new(snap, "seq", json_integer(20));
	is_int(model_snapshot(m, snap), MODEL_GAP,
	    "held messages that do not follow the snapshot: a gap");
	ok(!m->synced, "not synced");
	json_object_set_new(snap, "seq", json_integer(30));
	is_int(model_snapshot(m, snap), MODEL_APPLIED, "a later one applies");

	/* Heartbeats that say the copy is stale. */
	hb = json_pack("{s:I, s:I}", "seq", (json_int_t)31, "start",
	    (json_int_t)100);
	is_int(model_heartbeat(m, hb), MODEL_GAP,
	    "a heartbeat past the last seq: a gap");
	json_decref(hb);
	json_object_set_new(snap, "seq", json_integer(31));
	model_snapshot(m, snap);
	hb = json_pack("{s:I, s:I}", "seq", (json_int_t)2, "start",
	    (json_int_t)200);
	is_int(model_heartbeat(m, hb), MODEL_RESTART,
	    "a heartbeat of another start: a restart");
	json_decref(hb);
	ok(!m->synced, "which needs a snapshot");
	json_decref(snap);

	/* The audit's history goes before the events, once. */
	n = json_array_size(m->events);
	snap = json_loads("{\"audit\": [{\"id\": 1, \"cmd\": \"cap\"},"
	    " {\"id\": 0, \"cmd\": \"uncap\"}]}", 0, NULL);
	model_audit(m, snap);
	is_int(json_array_size(m->events), n + 1,
	    "audit history: only the record not among the events is added");
	is_str(json_text(json_object_get(json_array_get(m->events, 0), "data"),
	    "cmd"), "uncap", "before the events");
	json_decref(snap);
	model_free(m);
}

static void
test_keys(void)
{
	const struct key_entry	*ke, *other;
	size_t			 i, j;
	int			 v, dup = 0, nohelp = 0, fkeys;
	char			*label;

	for (i = 0; i < key_count; i++) {
		ke = &key_table[i];
		if (ke->help == NULL || *ke->help == '\0' ||
		    ke->name == NULL || ke->fn == NULL || ke->views == 0)
			nohelp++;
		for (j = i + 1; j < key_count; j++) {
			other = &key_table[j];
			if ((ke->views & other->views) == 0)
				continue;
			if (ke->key == other->key ||
			    (ke->alias != 0 && (ke->alias == other->key ||
			    ke->alias == other->alias)) ||
			    (other->alias != 0 && other->alias == ke->key)) {
				printf("# %s and %s share a key in a view\n",
				    ke->name, other->name);
				dup++;
			}
		}
	}
	is_int(dup, 0, "no key is bound twice in a view");
	is_int(nohelp, 0, "every binding has a name, help, views and a "
	    "function");
	for (v = 0; v < VIEW_COUNT; v++) {
		ok(keys_find(v, 'q') != NULL && keys_find(v, 27) != NULL,
		    "q and Esc work in every view");
		for (fkeys = 0, i = 0; i < key_count; i++)
			fkeys += (key_table[i].views & VIEW_BIT(v)) != 0;
		ok(fkeys > 5, "each view has its keys");
	}
	ke = keys_find(VIEW_POOLS, 'c');
	ok(ke != NULL && ke->admin && strcmp(ke->name, "Cap") == 0,
	    "c caps, in the pools view, and needs an admin");
	ok(keys_find(VIEW_BUILDS, 'c') == NULL, "not in the builds view");
	label = keys_label(keys_find(VIEW_INSTANCES, 'd'));
	is_str(label, "F5, d", "a binding's label: its key and alias");
	free(label);
}

/*
 * The KEYS section of beekeeper(1) lists every binding as ".It Ic KEY ,
 * ALIAS" then "Name: help", as the table has them.
 */
static void
test_man(void)
{
	const char	*top = getenv("top_srcdir");
	char		*path, *text, *cause = NULL, *keys, *end, *want;
	char		*label, *p;
	size_t		 len, i;
	int		 missing = 0;

	if (top == NULL)
		top = "../..";
	xasprintf(&path, "%s/man/beekeeper.1", top);
	if ((text = util_read_file(path, 1 << 20, &len, &cause)) == NULL) {
		ok(0, "beekeeper(1) can be read");
		printf("#   %s\n", cause);
		free(cause);
		free(path);
		return;
	}
	keys = strstr(text, "\n.Sh KEYS\n");
	end = keys != NULL ? strstr(keys + 1, "\n.Sh ") : NULL;
	ok(keys != NULL && end != NULL, "beekeeper(1) has a KEYS section");
	if (end != NULL)
		*end = '\0';
	for (i = 0; keys != NULL && i < key_count; i++) {
		label = keys_label(&key_table[i]);
		if ((p = strstr(label, ", ")) != NULL)
			*p = '\0';
		xasprintf(&want, "\n.It Ic %s%s%s\n%s: %s", label,
		    p != NULL ? " , " : "", p != NULL ? p + 2 : "",
		    key_table[i].name, key_table[i].help);
		if (strstr(keys, want) == NULL) {
			printf("# not in KEYS: %s\n", want + 1);
			missing++;
		}
		free(want);
		free(label);
	}
	is_int(missing, 0, "KEYS lists every binding of the table, as it is");
	free(text);
	free(path);
}

static void
parse_bad(const char *line, const char *want)
{
	struct pcmd	 pc;
	char		*cause = NULL;
	int		 rc;

	rc = prompt_parse(line, &pc, &cause);
	ok(rc == -1, line);
	is_str(cause, want, "  and says why");
	free(cause);
}

static void
parse_good(const char *line, const char *want)
{
	struct pcmd	 pc;
	json_t		*req;
	char		*cause = NULL, *text = NULL;

	if (prompt_parse(line, &pc, &cause) != 0) {
		ok(0, line);
		printf("#   %s\n", cause);
		free(cause);
		return;
	}
	req = prompt_request(&pc);
	json_object_del(req, "id");
	text = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
	is_str(text, want, line);
	free(text);
	json_decref(req);
	prompt_release(&pc);
}

static void
test_commands(void)
{
	const struct pcmd_entry	*ce;
	struct pcmd		 pc;
	char			*cause;
	int			 nohelp = 0;

	parse_good("cap default 2", "{\"cmd\":\"cap\",\"n\":2,\"pool\":"
	    "\"default\"}");
	parse_good("  uncap   default ", "{\"cmd\":\"uncap\",\"pool\":"
	    "\"default\"}");
	parse_good("drain local-3", "{\"cmd\":\"drain\",\"instance\":"
	    "\"local-3\"}");
	parse_good("drain-pool hi-cpu", "{\"cmd\":\"drain-pool\",\"pool\":"
	    "\"hi-cpu\"}");
	parse_good("cancel 12", "{\"build\":12,\"cmd\":\"cancel\"}");
	parse_good("retry 12 test:unit", "{\"build\":12,\"cmd\":\"retry\","
	    "\"task\":\"test:unit\"}");
	parse_good("approve acme/widget", "{\"cmd\":\"approve\",\"project\":"
	    "\"acme/widget\"}");
	parse_good("approve 7", "{\"build\":7,\"cmd\":\"approve\"}");
	parse_good("reject acme/evil", "{\"cmd\":\"reject\",\"project\":"
	    "\"acme/evil\"}");

	parse_bad("", "no command: type one, or :help");
	parse_bad("frobnicate", "unknown command: frobnicate (:help lists "
	    "them)");
	parse_bad("cap default", "usage: :cap POOL N");
	parse_bad("cap default two", "cap: n is not a number: two");
	parse_bad("cap a b c d e", "usage: :cap POOL N");
	parse_bad("cancel twelve", "cancel: build is not a number: twelve");
	parse_bad("pools now", "usage: :pools");
	parse_bad("retry", "usage: :retry BUILD [TASK]");

	ok(prompt_parse("pools", &pc, &cause) == 0 &&
	    pc.ce->view == VIEW_POOLS, ":pools opens the pools view");
	prompt_release(&pc);
	ok(prompt_parse("q", &pc, &cause) == 0 && pc.ce->view == VIEW_COUNT,
	    ":q quits");
	prompt_release(&pc);
	for (ce = pcmd_table; ce->name != NULL; ce++) {
		if (ce->help == NULL || ce->usage == NULL)
			nohelp++;
	}
	is_int(nohelp, 0, "every command has help and usage");
}

int
main(void)
{
	log_init("t_model", 1, LOG_LEVEL_WARN);
	test_model();
	test_keys();
	test_commands();
	test_man();
	return (done_testing());
}
