/*
 * beekeeper.yml, the pipeline file of a repository: read with libyaml into
 * the plan of one event (push, pull_request or tag), phases in order, each
 * a list of tasks. The rules are those of the 2017 BeeKeeper planner
 * (load_task_configs in beeware/beekeeper's beekeeper/config.py), so that
 * files written for it plan the same tasks; run, timeout and tag are
 * additions. Only the event's own pipeline is read.
 *
 * Invariants: a plan is returned whole or not at all (NULL and a cause
 * "FILE:LINE:COLUMN: reason" naming the node at fault); every task has an
 * image or a command to run; slugs are unique and made only of letters,
 * digits, '-', '_' and '.'; a mapping reads as PyYAML read it (the last of
 * a repeated key wins, '<<' merges); and no walk visits more than
 * PIPELINE_ALIAS_MAX nodes beyond the document's own, whatever its aliases.
 */

#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "common.h"

#define PIPELINE_TEXT_MAX	(1024 * 1024)
#define PIPELINE_ALIAS_MAX	10000
#define PIPELINE_MERGE_DEPTH	16
#define PIPELINE_SLUG_MAX	100
#define PIPELINE_TASKS_MAX	1000
#define PIPELINE_ENV_MAX	256

enum pipeline_key {
	PKEY_NAME,
	PKEY_IMAGE,
	PKEY_TASK,
	PKEY_RUN,
	PKEY_PROFILE,
	PKEY_SUBTASKS,
	PKEY_ENVIRONMENT,
	PKEY_CRITICAL,
	PKEY_TIMEOUT,
	PKEY_COUNT
};

/* The keys of a phase; a subtask takes them all but subtasks. */
static const char *const pipeline_keys[PKEY_COUNT] = {
	[PKEY_NAME] = "name",
	[PKEY_IMAGE] = "image",
	[PKEY_TASK] = "task",
	[PKEY_RUN] = "run",
	[PKEY_PROFILE] = "profile",
	[PKEY_SUBTASKS] = "subtasks",
	[PKEY_ENVIRONMENT] = "environment",
	[PKEY_CRITICAL] = "critical",
	[PKEY_TIMEOUT] = "timeout",
};
#define PKEY_STRING(k)	((k) <= PKEY_PROFILE)

static const char *const pipeline_events[] = {
	[PIPELINE_PUSH] = "push",
	[PIPELINE_PULL_REQUEST] = "pull_request",
	[PIPELINE_TAG] = "tag",
};

struct pipeline_pair {
	yaml_node_t	*key;
	yaml_node_t	*value;
	const char	*name;		/* the key's text */
};

struct pipeline_map {
	struct pipeline_pair	*pairs;
	size_t			 n;
	size_t			 size;
};

/* Variables borrowed from the document until they are copied to tasks. */
struct pipeline_var {
	const char	*name;
	const char	*value;
};

/* A phase's or a subtask's settings, checked but not yet a task. */
struct pipeline_body {
	const char		*what;		/* "phase" or "subtask" */
	char			*id;		/* its slug */
	yaml_node_t		*key;
	const char		*name;
	size_t			 nkeys;
	yaml_node_t		*node[PKEY_COUNT];
	const char		*str[PKEY_COUNT];
	int			 critical;
	uint64_t		 timeout_ms;
	struct pipeline_var	*env;
	size_t			 nenv;
};

struct pipeline_parse {
	const char	*file;
	yaml_document_t	 doc;
	size_t		 nodes;		/* in the document */
	size_t		 walked;
	char		*cause;
	struct pipeline	*pl;
	size_t		 ntasks;
};

static int printflike(4, 5)
pipeline_error_at(struct pipeline_parse *p, size_t line, size_t column,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	if (p->cause != NULL)
		return (-1);
	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	xasprintf(&p->cause, "%s:%zu:%zu: %s", p->file, line, column, msg);
	free(msg);
	return (-1);
}

#define pipeline_error(p, n, ...)					\
	pipeline_error_at((p), (n)->start_mark.line + 1,		\
	    (n)->start_mark.column + 1, __VA_ARGS__)

/*
 * Count a node walked. libyaml's loader resolves an alias to the node it
 * names, so a small document of aliases to aliases walks exponentially:
 * past the document's own nodes, only so many more are allowed.
 */
static int
pipeline_walk(struct pipeline_parse *p, yaml_node_t *n)
{
	if (++p->walked > p->nodes + PIPELINE_ALIAS_MAX)
		return (pipeline_error(p, n, "aliases expand too far (more "
		    "than %d nodes beyond the file's own)",
		    PIPELINE_ALIAS_MAX));
	return (0);
}

static yaml_node_t *
pipeline_node(struct pipeline_parse *p, int id)
{
	return (yaml_document_get_node(&p->doc, id));
}

/* PyYAML reads these plain scalars as None. */
static int
pipeline_is_null(yaml_node_t *n)
{
	const char	*s = (const char *)n->data.scalar.value;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return (0);
	return (*s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0);
}

static const char *
pipeline_kind(yaml_node_t *n)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return ("a list");
	if (n->type == YAML_MAPPING_NODE)
		return ("a mapping");
	if (pipeline_is_null(n))
		return ("nothing");
	return ("a single value");
}

/* A scalar's text, or NULL if it is not a scalar a C string can hold. */
static const char *
pipeline_text(yaml_node_t *n)
{
	const char	*s;

	if (n->type != YAML_SCALAR_NODE || pipeline_is_null(n))
		return (NULL);
	s = (const char *)n->data.scalar.value;
	if (strlen(s) != n->data.scalar.length)
		return (NULL);
	return (s);
}

static void
pipeline_map_add(struct pipeline_map *m, yaml_node_t *k, yaml_node_t *v)
{
	if (m->n == m->size) {
		m->size = m->size == 0 ? 8 : m->size * 2;
		m->pairs = xreallocarray(m->pairs, m->size, sizeof *m->pairs);
	}
	m->pairs[m->n].key = k;
	m->pairs[m->n].value = v;
	m->pairs[m->n].name = (const char *)k->data.scalar.value;
	m->n++;
}

static int
pipeline_is_merge(yaml_node_t *k)
{
	return (k->type == YAML_SCALAR_NODE &&
	    k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    strcmp((const char *)k->data.scalar.value, "<<") == 0);
}

/*
 * Append a mapping's pairs as PyYAML's flatten_mapping orders them: the
 * pairs merged with '<<' first (of a list of mappings, the last first, so
 * that the first wins), then the mapping's own.
 */
static int
pipeline_map_collect(struct pipeline_parse *p, yaml_node_t *node,
    struct pipeline_map *m, int depth)
{
	yaml_node_pair_t	*pair;
	yaml_node_item_t	*item;
	yaml_node_t		*k, *v, *sub;

	if (depth > PIPELINE_MERGE_DEPTH)
		return (pipeline_error(p, node, "merges ('<<') nest more than "
		    "%d deep", PIPELINE_MERGE_DEPTH));
	for (pair = node->data.mapping.pairs.start;
	    pair < node->data.mapping.pairs.top; pair++) {
		k = pipeline_node(p, pair->key);
		v = pipeline_node(p, pair->value);
		if (!pipeline_is_merge(k))
			continue;
		if (pipeline_walk(p, k) != 0 || pipeline_walk(p, v) != 0)
			return (-1);
		if (v->type == YAML_MAPPING_NODE) {
			if (pipeline_map_collect(p, v, m, depth + 1) != 0)
				return (-1);
			continue;
		}
		if (v->type != YAML_SEQUENCE_NODE)
			return (pipeline_error(p, v, "'<<' must merge a "
			    "mapping or a list of mappings, not %s",
			    pipeline_kind(v)));
		for (item = v->data.sequence.items.top;
		    item > v->data.sequence.items.start; item--) {
			sub = pipeline_node(p, item[-1]);
			if (pipeline_walk(p, sub) != 0)
				return (-1);
			if (sub->type != YAML_MAPPING_NODE)
				return (pipeline_error(p, sub, "'<<' must "
				    "merge a mapping or a list of mappings"));
			if (pipeline_map_collect(p, sub, m, depth + 1) != 0)
				return (-1);
		}
	}
	for (pair = node->data.mapping.pairs.start;
	    pair < node->data.mapping.pairs.top; pair++) {
		k = pipeline_node(p, pair->key);
		v = pipeline_node(p, pair->value);
		if (pipeline_is_merge(k))
			continue;
		if (pipeline_walk(p, k) != 0 || pipeline_walk(p, v) != 0)
			return (-1);
		if (pipeline_text(k) == NULL)
			return (pipeline_error(p, k, "a key must be a plain "
			    "name, not %s", pipeline_kind(k)));
		pipeline_map_add(m, k, v);
	}
	return (0);
}

struct pipeline_order {
	const char	*name;
	size_t		 i;
};

static int
pipeline_order_cmp(const void *a, const void *b)
{
	const struct pipeline_order	*x = a, *y = b;
	int				 c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return (c);
	return (x->i < y->i ? -1 : x->i > y->i);
}

/*
 * Read a mapping into m as a Python dict: a repeated key keeps its first
 * place and takes its last value. Sorting keeps this O(n log n), since a
 * mapping may have as many keys as a 1 MiB file holds.
 */
static int
pipeline_map_read(struct pipeline_parse *p, yaml_node_t *node,
    struct pipeline_map *m)
{
	struct pipeline_order	*o;
	size_t			 i, j, n;

	memset(m, 0, sizeof *m);
	if (pipeline_map_collect(p, node, m, 0) != 0)
		return (-1);
	if (m->n < 2)
		return (0);
	o = xreallocarray(NULL, m->n, sizeof *o);
	for (i = 0; i < m->n; i++) {
		o[i].name = m->pairs[i].name;
		o[i].i = i;
	}
	qsort(o, m->n, sizeof *o, pipeline_order_cmp);
	for (i = 0; i < m->n; i = j) {
		for (j = i + 1; j < m->n && strcmp(o[i].name, o[j].name) == 0;
		    j++)
			m->pairs[o[j].i].key = NULL;
		m->pairs[o[i].i].value = m->pairs[o[j - 1].i].value;
	}
	free(o);
	for (i = n = 0; i < m->n; i++) {
		if (m->pairs[i].key != NULL)
			m->pairs[n++] = m->pairs[i];
	}
	m->n = n;
	return (0);
}

static void
pipeline_map_release(struct pipeline_map *m)
{
	free(m->pairs);
	memset(m, 0, sizeof *m);
}

/* Letters, digits, '-', '_' and '.'; "." and ".." would be paths. */
static int
pipeline_slug_ok(const char *s)
{
	const char	*c;

	if (*s == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return (0);
	for (c = s; *c != '\0'; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' ||
		    *c == '.'))
			return (0);
	}
	return (1);
}

static int
pipeline_env_read(struct pipeline_parse *p, struct pipeline_body *b,
    yaml_node_t *node)
{
	struct pipeline_map	 m;
	const char		*value;
	size_t			 i;

	if (node->type != YAML_MAPPING_NODE)
		return (pipeline_error(p, node, "%s '%s': environment must be "
		    "a mapping of names to values, not %s", b->what, b->id,
		    pipeline_kind(node)));
	if (pipeline_map_read(p, node, &m) != 0)
		goto fail;
	if (m.n > PIPELINE_ENV_MAX) {
		pipeline_error(p, node, "%s '%s': more than %d environment "
		    "variables", b->what, b->id, PIPELINE_ENV_MAX);
		goto fail;
	}
	free(b->env);
	b->env = m.n != 0 ? xreallocarray(NULL, m.n, sizeof *b->env) : NULL;
	b->nenv = 0;
	for (i = 0; i < m.n; i++) {
		if (strchr(m.pairs[i].name, '=') != NULL) {
			pipeline_error(p, m.pairs[i].key, "%s '%s': '%s' is "
			    "not an environment variable name", b->what, b->id,
			    m.pairs[i].name);
			goto fail;
		}
		if ((value = pipeline_text(m.pairs[i].value)) == NULL) {
			pipeline_error(p, m.pairs[i].value, "%s '%s': "
			    "environment variable %s must be a single value, "
			    "not %s", b->what, b->id, m.pairs[i].name,
			    pipeline_kind(m.pairs[i].value));
			goto fail;
		}
		b->env[b->nenv].name = m.pairs[i].name;
		b->env[b->nenv].value = value;
		b->nenv++;
	}
	pipeline_map_release(&m);
	return (0);

fail:
	pipeline_map_release(&m);
	return (-1);
}

/* Check one setting of a phase or subtask and keep its value. */
static int
pipeline_body_set(struct pipeline_parse *p, struct pipeline_body *b,
    enum pipeline_key k, yaml_node_t *v)
{
	const char	*s, *errstr;

	b->node[k] = v;
	if (PKEY_STRING(k)) {
		if ((s = pipeline_text(v)) == NULL)
			return (pipeline_error(p, v, "%s '%s': %s must be a "
			    "string, not %s", b->what, b->id, pipeline_keys[k],
			    pipeline_kind(v)));
		if (*s == '\0')
			return (pipeline_error(p, v, "%s '%s': %s is empty",
			    b->what, b->id, pipeline_keys[k]));
		b->str[k] = s;
		return (0);
	}
	switch (k) {
	case PKEY_CRITICAL:
		/* As PyYAML: a quoted 'false' is a string, not a boolean. */
		if ((s = pipeline_text(v)) == NULL)
			return (pipeline_error(p, v, "%s '%s': critical must "
			    "be true or false, not %s", b->what, b->id,
			    pipeline_kind(v)));
		if (v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
		    util_parse_bool(s, &b->critical) != 0)
			return (pipeline_error(p, v, "%s '%s': critical must "
			    "be true or false, not '%s'%s", b->what, b->id, s,
			    v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ?
			    " (a quoted string)" : ""));
		return (0);
	case PKEY_TIMEOUT:
		if ((s = pipeline_text(v)) == NULL)
			return (pipeline_error(p, v, "%s '%s': timeout must be "
			    "a duration such as 30s, 10m or 1h, not %s",
			    b->what, b->id, pipeline_kind(v)));
		if (util_parse_duration(s, &b->timeout_ms, &errstr) != 0)
			return (pipeline_error(p, v, "%s '%s': timeout '%s': "
			    "%s", b->what, b->id, s, errstr));
		if (b->timeout_ms == 0)
			return (pipeline_error(p, v, "%s '%s': timeout must be "
			    "more than 0", b->what, b->id));
		return (0);
	case PKEY_ENVIRONMENT:
		return (pipeline_env_read(p, b, v));
	case PKEY_SUBTASKS:
		if (v->type != YAML_SEQUENCE_NODE)
			return (pipeline_error(p, v, "%s '%s': subtasks must "
			    "be a list, not %s", b->what, b->id,
			    pipeline_kind(v)));
		if (v->data.sequence.items.top == v->data.sequence.items.start)
			return (pipeline_error(p, v, "%s '%s': subtasks is an "
			    "empty list", b->what, b->id));
		return (0);
	default:
		return (0);
	}
}

/*
 * Read a list item "- NAME: {settings}" as a phase (parent NULL) or as a
 * subtask of parent. Every setting is checked here, in file order.
 */
static int
pipeline_body_read(struct pipeline_parse *p, yaml_node_t *item,
    const struct pipeline_body *parent, struct pipeline_body *b)
{
	struct pipeline_map	 m, s;
	yaml_node_t		*v;
	size_t			 i;
	u_int			 k;
	int			 rv = -1;

	memset(b, 0, sizeof *b);
	memset(&s, 0, sizeof s);
	b->what = parent == NULL ? "phase" : "subtask";
	b->critical = 1;
	if (item->type != YAML_MAPPING_NODE)
		return (pipeline_error(p, item, "a %s must be its name "
		    "followed by its settings, as in '- %s:', not %s", b->what,
		    parent == NULL ? "test" : "py3.6", pipeline_kind(item)));
	if (pipeline_map_read(p, item, &m) != 0)
		goto out;
	if (m.n != 1) {
		pipeline_error(p, item, "a %s must be one name with its "
		    "settings, not %zu keys (are its settings indented under "
		    "its name?)", b->what, m.n);
		goto out;
	}
	b->key = m.pairs[0].key;
	b->name = m.pairs[0].name;
	if (!pipeline_slug_ok(b->name)) {
		pipeline_error(p, b->key, "%s name '%s' is not valid: use only "
		    "letters, digits, '-', '_' and '.'", b->what, b->name);
		goto out;
	}
	if (parent != NULL)
		xasprintf(&b->id, "%s:%s", parent->id, b->name);
	else
		b->id = xstrdup(b->name);
	if (strlen(b->id) > PIPELINE_SLUG_MAX) {
		pipeline_error(p, b->key, "task name '%s' is longer than %d "
		    "characters", b->id, PIPELINE_SLUG_MAX);
		goto out;
	}
	v = m.pairs[0].value;
	if (v->type != YAML_MAPPING_NODE) {
		pipeline_error(p, pipeline_is_null(v) ? b->key : v, "%s '%s': "
		    "settings must be a mapping of keys to values, not %s",
		    b->what, b->id, pipeline_kind(v));
		goto out;
	}
	if (pipeline_map_read(p, v, &s) != 0)
		goto out;
	b->nkeys = s.n;
	for (i = 0; i < s.n; i++) {
		for (k = 0; k < PKEY_COUNT; k++) {
			if (strcmp(s.pairs[i].name, pipeline_keys[k]) == 0)
				break;
		}
		if (k == PKEY_COUNT || (k == PKEY_SUBTASKS && parent != NULL)) {
			pipeline_error(p, s.pairs[i].key, "%s '%s': unknown "
			    "key '%s'%s", b->what, b->id, s.pairs[i].name,
			    k == PKEY_SUBTASKS ? " (subtasks do not nest)" :
			    "");
			goto out;
		}
		if (pipeline_body_set(p, b, k, s.pairs[i].value) != 0)
			goto out;
	}
	rv = 0;

out:
	pipeline_map_release(&m);
	pipeline_map_release(&s);
	return (rv);
}

static void
pipeline_body_release(struct pipeline_body *b)
{
	free(b->id);
	free(b->env);
	memset(b, 0, sizeof *b);
}

static void
pipeline_task_env(struct pipeline_task *t, const struct pipeline_var *v,
    size_t n)
{
	size_t	 i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < t->nenv; j++) {
			if (strcmp(t->env[j].name, v[i].name) == 0)
				break;
		}
		if (j < t->nenv) {
			free(t->env[j].value);
			t->env[j].value = xstrdup(v[i].value);
			continue;
		}
		t->env = xreallocarray(t->env, t->nenv + 1, sizeof *t->env);
		t->env[t->nenv].name = xstrdup(v[i].name);
		t->env[t->nenv].value = xstrdup(v[i].value);
		t->nenv++;
	}
}

static const struct pipeline_task *
pipeline_find(const struct pipeline *pl, const char *slug)
{
	size_t	 i, j;

	for (i = 0; i < pl->nphases; i++) {
		for (j = 0; j < pl->phases[i].ntasks; j++) {
			if (strcmp(pl->phases[i].tasks[j].slug, slug) == 0)
				return (&pl->phases[i].tasks[j]);
		}
	}
	return (NULL);
}

/*
 * Make a task of a phase without subtasks (sub NULL) or of a subtask, as
 * the original did: a subtask's image is its image, else its task, else
 * the phase's image, else the phase's task; environment and profile come
 * from the phase, critical does not. A subtask whose settings are empty
 * ({}) took the profile "default" whatever the phase's: Python found the
 * empty dict false.
 */
static int
pipeline_task_add(struct pipeline_parse *p, struct pipeline_phase *ph,
    const struct pipeline_body *phase, const struct pipeline_body *sub)
{
	const struct pipeline_body	*b = sub != NULL ? sub : phase;
	const struct pipeline_task	*dup;
	struct pipeline_task		*t;
	const char			*image = NULL, *task = NULL, *run;
	const char			*profile;

	if (sub != NULL) {
		image = sub->str[PKEY_IMAGE];
		task = image == NULL ? sub->str[PKEY_TASK] : NULL;
	}
	if (image == NULL && task == NULL) {
		image = phase->str[PKEY_IMAGE];
		task = image == NULL ? phase->str[PKEY_TASK] : NULL;
	}
	run = b->str[PKEY_RUN];
	if (run == NULL && sub != NULL)
		run = phase->str[PKEY_RUN];
	if (image == NULL && task == NULL && run == NULL)
		return (pipeline_error(p, b->key, "%s '%s' has no image, task "
		    "or run%s", b->what, b->id,
		    sub != NULL ? ", nor has its phase" : ""));
	if ((dup = pipeline_find(p->pl, b->id)) != NULL)
		return (pipeline_error(p, b->key, "task '%s' is defined twice "
		    "(first at line %u)", b->id, dup->line));
	if (p->ntasks == PIPELINE_TASKS_MAX)
		return (pipeline_error(p, b->key, "more than %d tasks",
		    PIPELINE_TASKS_MAX));

	profile = b->str[PKEY_PROFILE];
	if (sub != NULL && sub->nkeys == 0)
		profile = NULL;
	else if (profile == NULL && sub != NULL)
		profile = phase->str[PKEY_PROFILE];

	ph->tasks = xreallocarray(ph->tasks, ph->ntasks + 1,
	    sizeof *ph->tasks);
	t = &ph->tasks[ph->ntasks++];
	memset(t, 0, sizeof *t);
	p->ntasks++;
	t->slug = xstrdup(b->id);
	t->phase = xstrdup(phase->name);
	t->name = xstrdup(b->str[PKEY_NAME] != NULL ? b->str[PKEY_NAME] :
	    b->name);
	if (image != NULL)
		t->image = xstrdup(image);
	else if (task != NULL)
		xasprintf(&t->image, "beekeeper/%s", task);
	if (run != NULL)
		t->run = xstrdup(run);
	t->profile = xstrdup(profile != NULL ? profile : "default");
	t->critical = b->critical;
	t->timeout_ms = b->timeout_ms;
	if (t->timeout_ms == 0 && sub != NULL)
		t->timeout_ms = phase->timeout_ms;
	if (sub != NULL)
		pipeline_task_env(t, phase->env, phase->nenv);
	pipeline_task_env(t, b->env, b->nenv);
	t->line = b->key->start_mark.line + 1;
	t->column = b->key->start_mark.column + 1;
	return (0);
}

/* A phase with subtasks runs them in parallel and is no task itself. */
static int
pipeline_phase_add(struct pipeline_parse *p, yaml_node_t *item)
{
	struct pipeline		*pl = p->pl;
	struct pipeline_phase	*ph;
	struct pipeline_body	 b, sb;
	yaml_node_item_t	*i;
	yaml_node_t		*subs, *si;
	int			 rv = -1;

	if (pipeline_body_read(p, item, NULL, &b) != 0)
		goto out;
	pl->phases = xreallocarray(pl->phases, pl->nphases + 1,
	    sizeof *pl->phases);
	ph = &pl->phases[pl->nphases++];
	memset(ph, 0, sizeof *ph);
	ph->name = xstrdup(b.name);
	if ((subs = b.node[PKEY_SUBTASKS]) == NULL) {
		rv = pipeline_task_add(p, ph, &b, NULL);
		goto out;
	}
	for (i = subs->data.sequence.items.start;
	    i < subs->data.sequence.items.top; i++) {
		si = pipeline_node(p, *i);
		if (pipeline_walk(p, si) != 0)
			goto out;
		if (pipeline_body_read(p, si, &b, &sb) != 0 ||
		    pipeline_task_add(p, ph, &b, &sb) != 0) {
			pipeline_body_release(&sb);
			goto out;
		}
		pipeline_body_release(&sb);
	}
	rv = 0;

out:
	pipeline_body_release(&b);
	return (rv);
}

static int
pipeline_read(struct pipeline_parse *p, yaml_node_t *root,
    enum pipeline_event event)
{
	struct pipeline_map	 m;
	yaml_node_item_t	*i;
	yaml_node_t		*list = NULL, *item;
	const char		*name = pipeline_event_name(event);
	size_t			 j;
	int			 rv = -1;

	if (root == NULL || pipeline_is_null(root))
		return (pipeline_error_at(p, 1, 1, "the file is empty: it "
		    "needs push:, pull_request: or tag:"));
	if (pipeline_walk(p, root) != 0)
		return (-1);
	if (root->type != YAML_MAPPING_NODE)
		return (pipeline_error(p, root, "the top level must be a "
		    "mapping with push:, pull_request: or tag:, not %s",
		    pipeline_kind(root)));
	if (pipeline_map_read(p, root, &m) != 0)
		goto out;
	for (j = 0; j < m.n; j++) {
		if (strcmp(m.pairs[j].name, name) == 0)
			list = m.pairs[j].value;
	}
	/*
	 * The original service ran push: for tag pushes too; files written
	 * for it have no tag: and must keep building their tags.
	 */
	if (list == NULL && event == PIPELINE_TAG) {
		name = pipeline_event_name(PIPELINE_PUSH);
		for (j = 0; j < m.n; j++) {
			if (strcmp(m.pairs[j].name, name) == 0)
				list = m.pairs[j].value;
		}
	}
	if (list == NULL) {
		rv = 0;		/* no pipeline for this event: nothing to do */
		goto out;
	}
	if (list->type != YAML_SEQUENCE_NODE) {
		pipeline_error(p, list, "%s: must be a list of phases, not %s",
		    name, pipeline_kind(list));
		goto out;
	}
	for (i = list->data.sequence.items.start;
	    i < list->data.sequence.items.top; i++) {
		item = pipeline_node(p, *i);
		if (pipeline_walk(p, item) != 0 ||
		    pipeline_phase_add(p, item) != 0)
			goto out;
	}
	rv = 0;

out:
	pipeline_map_release(&m);
	return (rv);
}

/* Where a reader error is, from its byte offset: libyaml gives no mark. */
static void
pipeline_offset(const char *text, size_t len, size_t off, size_t *line,
    size_t *column)
{
	size_t	 i;

	*line = *column = 1;
	for (i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*column = 1;
		} else
			(*column)++;
	}
}

static int
pipeline_yaml_error(struct pipeline_parse *p, yaml_parser_t *parser,
    const char *text, size_t len)
{
	size_t	 line, column;

	if (parser->error == YAML_READER_ERROR)
		pipeline_offset(text, len, parser->problem_offset, &line,
		    &column);
	else {
		line = parser->problem_mark.line + 1;
		column = parser->problem_mark.column + 1;
	}
	return (pipeline_error_at(p, line, column, "%s%s%s",
	    parser->problem != NULL ? parser->problem : "invalid YAML",
	    parser->context != NULL ? " " : "",
	    parser->context != NULL ? parser->context : ""));
}

/*
 * Plan the pipeline of one event from a file's text (not NUL-terminated).
 * A file without that event's pipeline gives an empty plan. On error
 * returns NULL with *cause set (the caller frees it).
 */
struct pipeline *
pipeline_parse(const char *file, const char *text, size_t len,
    enum pipeline_event event, char **cause)
{
	struct pipeline_parse	 p;
	yaml_parser_t		 parser;
	yaml_document_t		 next;
	yaml_node_t		*root, *extra;
	int			 rv = -1;

	memset(&p, 0, sizeof p);
	p.file = file;
	*cause = NULL;
	if (len > PIPELINE_TEXT_MAX) {
		xasprintf(cause, "%s:1:1: larger than 1 MiB (%zu bytes)",
		    file, len);
		return (NULL);
	}
	if (!yaml_parser_initialize(&parser))
		fatalx("yaml_parser_initialize failed");
	yaml_parser_set_input_string(&parser, (const u_char *)text, len);
	if (!yaml_parser_load(&parser, &p.doc)) {
		pipeline_yaml_error(&p, &parser, text, len);
		yaml_parser_delete(&parser);
		*cause = p.cause;
		return (NULL);
	}
	root = yaml_document_get_root_node(&p.doc);
	if (root != NULL) {
		/* PyYAML's yaml.load took exactly one document. */
		if (!yaml_parser_load(&parser, &next))
			pipeline_yaml_error(&p, &parser, text, len);
		else {
			if ((extra = yaml_document_get_root_node(&next)) !=
			    NULL)
				pipeline_error(&p, extra, "more than one YAML "
				    "document (a second '---')");
			yaml_document_delete(&next);
		}
	}
	yaml_parser_delete(&parser);

	p.nodes = p.doc.nodes.top - p.doc.nodes.start;
	p.pl = xcalloc(1, sizeof *p.pl);
	if (p.cause == NULL)
		rv = pipeline_read(&p, root, event);
	yaml_document_delete(&p.doc);
	if (rv != 0) {
		pipeline_free(p.pl);
		*cause = p.cause;
		return (NULL);
	}
	return (p.pl);
}

void
pipeline_free(struct pipeline *pl)
{
	struct pipeline_phase	*ph;
	struct pipeline_task	*t;
	size_t			 i, j, k;

	if (pl == NULL)
		return;
	for (i = 0; i < pl->nphases; i++) {
		ph = &pl->phases[i];
		for (j = 0; j < ph->ntasks; j++) {
			t = &ph->tasks[j];
			free(t->slug);
			free(t->phase);
			free(t->name);
			free(t->image);
			free(t->run);
			free(t->profile);
			for (k = 0; k < t->nenv; k++) {
				free(t->env[k].name);
				free(t->env[k].value);
			}
			free(t->env);
		}
		free(ph->tasks);
		free(ph->name);
	}
	free(pl->phases);
	free(pl);
}

int
pipeline_event_parse(const char *s, enum pipeline_event *event)
{
	size_t	 i;

	for (i = 0; i < nitems(pipeline_events); i++) {
		if (strcmp(s, pipeline_events[i]) == 0) {
			*event = i;
			return (0);
		}
	}
	return (-1);
}

const char *
pipeline_event_name(enum pipeline_event event)
{
	if ((size_t)event >= nitems(pipeline_events))
		return ("unknown");
	return (pipeline_events[event]);
}

/* Print a string on one line: backslash and control characters escaped. */
static void
pipeline_print_str(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\t')
			fputs("\\t", f);
		else if ((u_char)*s < 0x20 || *s == 0x7f)
			fprintf(f, "\\x%02x", (u_char)*s);
		else
			fputc(*s, f);
	}
}

static void
pipeline_print_field(FILE *f, const char *label, const char *s)
{
	fprintf(f, "    %s: ", label);
	pipeline_print_str(f, s);
	fputc('\n', f);
}

/* A duration in the largest unit that divides it exactly. */
static void
pipeline_print_timeout(FILE *f, uint64_t ms)
{
	static const struct {
		uint64_t	 ms;
		const char	*unit;
	} units[] = {
		{ 3600000, "h" }, { 60000, "m" }, { 1000, "s" }, { 1, "ms" }
	};
	size_t	 i;

	for (i = 0; i < nitems(units) - 1 && ms % units[i].ms != 0; i++)
		;
	fprintf(f, "    timeout: %llu%s\n",
	    (unsigned long long)(ms / units[i].ms), units[i].unit);
}

/*
 * The plan as stable text, one fact a line, in the order tasks would
 * start: what `beekeeper plan` shows and what the tests compare.
 */
void
pipeline_print(const struct pipeline *pl, FILE *f)
{
	const struct pipeline_phase	*ph;
	const struct pipeline_task	*t;
	size_t				 i, j, k;

	if (pl->nphases == 0) {
		fputs("no tasks\n", f);
		return;
	}
	for (i = 0; i < pl->nphases; i++) {
		ph = &pl->phases[i];
		fprintf(f, "phase %zu %s\n", i + 1, ph->name);
		for (j = 0; j < ph->ntasks; j++) {
			t = &ph->tasks[j];
			fprintf(f, "  task %s at %u:%u\n", t->slug, t->line,
			    t->column);
			pipeline_print_field(f, "name", t->name);
			if (t->image != NULL)
				pipeline_print_field(f, "image", t->image);
			if (t->run != NULL)
				pipeline_print_field(f, "run", t->run);
			pipeline_print_field(f, "profile", t->profile);
			fprintf(f, "    critical: %s\n",
			    t->critical ? "true" : "false");
			if (t->timeout_ms != 0)
				pipeline_print_timeout(f, t->timeout_ms);
			for (k = 0; k < t->nenv; k++) {
				fprintf(f, "    env: %s=", t->env[k].name);
				pipeline_print_str(f, t->env[k].value);
				fputc('\n', f);
			}
		}
	}
}
