/*
 * The console's copy of the daemon's state, kept by the Clone pattern of
 * beekeeper-protocol(7): a snapshot taken at sequence number S, then the
 * published messages after S applied in order. Pure: no sockets and no
 * clock, so the unit tests drive it with plain JSON.
 *
 * Invariants:
 * - While not synced (before the first snapshot, or after a gap), every
 *   message is held, not applied; the snapshot that follows drops the
 *   held ones it already covers and applies the rest in order.
 * - Once synced, a message is applied only when its seq is the last
 *   applied plus one; an older one is ignored, a later one is a gap, and
 *   the caller must ask for a snapshot again.
 * - A heartbeat whose start is not the snapshot's is a restart; one whose
 *   seq is past the last applied is a gap.
 * - Objects are kept by their key as a string ("12" for the build 12);
 *   a deleted build takes its tasks with it, and an instance that is
 *   terminated or lost leaves the state.
 * - version changes with every change, so the views know when to
 *   format again.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "tui.h"

/* Each topic of the state: its collection and the member that keys it. */
static const struct model_topic {
	const char	*topic;
	const char	*snapshot;	/* the snapshot's member */
	enum model_coll	 coll;
	const char	*key;
} model_topics[] = {
	{ PROTO_TOPIC_BUILD, "builds", MODEL_BUILDS, "id" },
	{ PROTO_TOPIC_TASK, "tasks", MODEL_TASKS, "id" },
	{ PROTO_TOPIC_POOL, "pools", MODEL_POOLS, "name" },
	{ PROTO_TOPIC_INSTANCE, "instances", MODEL_INSTANCES, "id" },
	{ PROTO_TOPIC_PROJECT, "projects", MODEL_PROJECTS, "repo" },
	{ PROTO_TOPIC_GITHUB, NULL, MODEL_GITHUB, "name" },
};

static const struct model_topic *
model_topic(const char *topic)
{
	size_t	 i;

	for (i = 0; i < nitems(model_topics); i++) {
		if (strcmp(model_topics[i].topic, topic) == 0)
			return (&model_topics[i]);
	}
	return (NULL);
}

struct model *
model_create(void)
{
	struct model	*m;
	int		 i;

	m = xcalloc(1, sizeof *m);
	for (i = 0; i < MODEL_NCOLL; i++)
		m->coll[i] = json_object();
	m->events = json_array();
	m->held = json_array();
	m->start = -1;
	return (m);
}

void
model_free(struct model *m)
{
	int	 i;

	if (m == NULL)
		return;
	for (i = 0; i < MODEL_NCOLL; i++)
		json_decref(m->coll[i]);
	json_decref(m->events);
	json_decref(m->held);
	free(m);
}

/* An object's key as a string, the caller's; NULL when it has none. */
char *
model_key(const json_t *v)
{
	char	*s;

	if (json_is_string(v))
		return (xstrdup(json_string_value(v)));
	if (json_is_integer(v)) {
		xasprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return (s);
	}
	return (NULL);
}

/* Stop applying: hold what comes until the next snapshot. */
void
model_unsync(struct model *m)
{
	m->synced = 0;
	json_array_clear(m->held);
}

/* Drop the tasks of build KEY. */
static void
model_drop_tasks(struct model *m, const char *key)
{
	json_t		*tasks = m->coll[MODEL_TASKS], *t, *ids;
	const char	*k;
	char		*b;
	size_t		 i;

	ids = json_array();
	json_object_foreach(tasks, k, t) {
		b = model_key(json_object_get(t, "build"));
		if (b != NULL && strcmp(b, key) == 0)
			json_array_append_new(ids, json_string(k));
		free(b);
	}
	for (i = 0; i < json_array_size(ids); i++)
		json_object_del(tasks, json_string_value(json_array_get(ids,
		    i)));
	json_decref(ids);
}

/* An instance that is gone is not part of the state. */
static int
model_gone(const struct model_topic *mt, const json_t *data)
{
	const char	*state;

	if (mt->coll != MODEL_INSTANCES)
		return (0);
	state = json_string_value(json_object_get(data, "state"));
	return (state != NULL && (strcmp(state, "terminated") == 0 ||
	    strcmp(state, "lost") == 0));
}

/* Put or delete one object; -1 when the message does not say which. */
static int
model_change(struct model *m, const struct model_topic *mt, const char *op,
    json_t *data)
{
	char	*key;

	if (!json_is_object(data) ||
	    (key = model_key(json_object_get(data, mt->key))) == NULL)
		return (-1);
	if (strcmp(op, "put") == 0 && !model_gone(mt, data))
		json_object_set(m->coll[mt->coll], key, data);
	else if (strcmp(op, "put") == 0 || strcmp(op, "delete") == 0) {
		json_object_del(m->coll[mt->coll], key);
		if (mt->coll == MODEL_BUILDS)
			model_drop_tasks(m, key);
	} else {
		free(key);
		return (-1);
	}
	free(key);
	return (0);
}

/* Keep MSG of TOPIC among the recent events, for the events view. */
static void
model_event(struct model *m, const char *topic, const json_t *msg)
{
	json_t	*e;

	e = json_deep_copy(msg);
	json_object_set_new(e, "topic", json_string(topic));
	json_array_append_new(m->events, e);
	while (json_array_size(m->events) > MODEL_EVENTS_MAX)
		json_array_remove(m->events, 0);
}

/* Apply a message whose seq follows the last: no checks of order. */
static enum model_result
model_apply_one(struct model *m, const char *topic, const json_t *msg,
    json_int_t seq)
{
	const struct model_topic	*mt = model_topic(topic);
	const char			*op;

	op = json_string_value(json_object_get(msg, "op"));
	if (mt != NULL && (op == NULL || model_change(m, mt, op,
	    json_object_get(msg, "data")) != 0))
		return (MODEL_BAD);
	/* Topics this console does not know still count in the order. */
	m->seq = seq;
	m->last_time = json_number(msg, "time", m->last_time);
	model_event(m, topic, msg);
	m->version++;
	return (MODEL_APPLIED);
}

/* Hold a message until the snapshot; too many, and the oldest go. */
static void
model_hold(struct model *m, const char *topic, const json_t *msg)
{
	json_array_append_new(m->held, json_pack("[s, O]", topic, msg));
	if (json_array_size(m->held) > MODEL_HELD_MAX)
		json_array_remove(m->held, 0);
}

/*
 * Apply MSG, published on TOPIC (not the heartbeat). The caller asks for
 * a snapshot on MODEL_GAP; the message that showed the gap is held for it.
 */
enum model_result
model_apply(struct model *m, const char *topic, const json_t *msg)
{
	json_int_t	 seq;

	if (!json_is_object(msg) || (seq = json_number(msg, "seq", -1)) < 1)
		return (MODEL_BAD);
	if (!m->synced) {
		model_hold(m, topic, msg);
		return (MODEL_HELD);
	}
	if (seq <= m->seq)
		return (MODEL_OLD);
	if (seq > m->seq + 1) {
		model_unsync(m);
		model_hold(m, topic, msg);
		return (MODEL_GAP);
	}
	return (model_apply_one(m, topic, msg, seq));
}

/* A heartbeat: is the copy still the daemon's state? */
enum model_result
model_heartbeat(struct model *m, const json_t *msg)
{
	json_int_t	 seq = json_number(msg, "seq", -1);
	json_int_t	 start = json_number(msg, "start", -1);

	if (!json_is_object(msg) || seq < 0)
		return (MODEL_BAD);
	if (!m->synced)
		return (MODEL_HELD);
	if (start != m->start) {
		model_unsync(m);
		return (MODEL_RESTART);
	}
	if (seq > m->seq) {
		model_unsync(m);
		return (MODEL_GAP);
	}
	return (MODEL_OLD);
}

/*
 * Replace the state with a snapshot's (REPLY, borrowed), then apply the
 * held messages that came after it. MODEL_GAP when they do not follow
 * on: the caller asks again.
 */
enum model_result
model_snapshot(struct model *m, const json_t *reply)
{
	const struct model_topic	*mt;
	json_t				*held, *arr, *o, *gh;
	json_int_t			 seq, s;
	enum model_result		 r = MODEL_APPLIED;
	size_t				 i, j;
	char				*key;

	seq = json_number(reply, "seq", -1);
	if (!json_is_object(reply) || seq < 0)
		return (MODEL_BAD);
	for (i = 0; i < nitems(model_topics); i++) {
		mt = &model_topics[i];
		json_object_clear(m->coll[mt->coll]);
		arr = mt->snapshot != NULL ?
		    json_object_get(reply, mt->snapshot) : NULL;
		json_array_foreach(arr, j, o) {
			if ((key = model_key(json_object_get(o, mt->key))) ==
			    NULL || model_gone(mt, o)) {
				free(key);
				continue;
			}
			json_object_set(m->coll[mt->coll], key, o);
			free(key);
		}
	}
	if (json_is_object(gh = json_object_get(reply, "github")))
		json_object_set(m->coll[MODEL_GITHUB], "github", gh);
	m->seq = seq;
	m->start = json_number(reply, "start", -1);
	m->synced = 1;
	m->version++;

	held = m->held;
	m->held = json_array();
	json_array_foreach(held, i, o) {
		s = json_number(json_array_get(o, 1), "seq", -1);
		if (s <= m->seq)
			continue;
		if (s != m->seq + 1) {
			model_unsync(m);
			r = MODEL_GAP;
			break;
		}
		model_apply_one(m, json_string_value(json_array_get(o, 0)),
		    json_array_get(o, 1), s);
	}
	json_decref(held);
	return (r);
}

/*
 * The reply to "audit" (newest first): records not among the events yet
 * go before them, oldest first, so the events view starts with the
 * commands given before the console came. They have no seq.
 */
void
model_audit(struct model *m, const json_t *reply)
{
	json_t		*recs = json_object_get(reply, "audit"), *r, *e, *d;
	json_int_t	 id;
	size_t		 i, j;
	int		 seen;

	json_array_foreach(recs, i, r) {
		id = json_number(r, "id", -1);
		seen = 0;
		json_array_foreach(m->events, j, e) {
			d = json_object_get(e, "data");
			if (json_text(e, "topic") != NULL &&
			    strcmp(json_text(e, "topic"), PROTO_TOPIC_AUDIT) ==
			    0 && json_number(d, "id", -2) == id)
				seen = 1;
		}
		if (seen || json_array_size(m->events) >= MODEL_EVENTS_MAX)
			continue;
		json_array_insert_new(m->events, 0, json_pack("{s:s, s:s, s:I, "
		    "s:O}", "topic", PROTO_TOPIC_AUDIT, "op", "put", "time",
		    json_number(r, "time", 0), "data", r));
	}
	m->version++;
}

/* The collection's objects, in key order (numbers by value); borrowed. */
static int
model_cmp_keys(const void *a, const void *b)
{
	const char	*x = *(const char *const *)a;
	const char	*y = *(const char *const *)b;
	size_t		 lx = strlen(x), ly = strlen(y);

	if (strspn(x, "0123456789") == lx && strspn(y, "0123456789") == ly &&
	    lx != ly)
		return (lx < ly ? -1 : 1);
	return (strcmp(x, y));
}

/*
 * The objects of COLL in key order, as an array of borrowed pointers in
 * *OUT, the caller's to free; the count.
 */
size_t
model_list(const struct model *m, enum model_coll coll, json_t ***out)
{
	json_t		*c = m->coll[coll], *v;
	const char	*k, **keys;
	size_t		 n = json_object_size(c), i = 0;

	keys = xcalloc(n + 1, sizeof *keys);
	json_object_foreach(c, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof *keys, model_cmp_keys);
	*out = xcalloc(n + 1, sizeof **out);
	for (i = 0; i < n; i++)
		(*out)[i] = json_object_get(c, keys[i]);
	free(keys);
	return (n);
}

/* One object by its key, borrowed; NULL if there is none. */
json_t *
model_get(const struct model *m, enum model_coll coll, const char *key)
{
	return (json_object_get(m->coll[coll], key));
}
