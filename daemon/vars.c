/*
 * The stored layer of the tasks' environment: variables and secrets an
 * admin sets at run time through the control socket (set-var, set-secret),
 * kept in the store's table variables and, for the tasks, in memory.
 *
 * Invariants:
 * - The store changes first; memory follows only once it has, so what
 *   tasks get is what a restart would load.
 * - A name is an environment name beekeeperd does not set itself, and a
 *   scope ('' for every project, else owner/name) holds a name once,
 *   as a variable or as a secret, as the configuration file allows.
 * - A secret's value leaves this file only for a task's environment and
 *   its log's masks (vars_apply); it is wiped when freed, and no sentence,
 *   log line or reply holds it.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon.h"

#define VARS_VALUE_MAX		(64 * 1024)
#define VARS_NAME_MAX		128

struct var {
	char		*scope;		/* "": every project */
	char		*name;
	char		*value;
	size_t		 len;
	int		 secret;
	char		*set_by;
	int64_t		 set_at;
};

struct vars {
	struct db	*db;
	struct var	*list;
	size_t		 n;
};

static void
var_release(struct var *v)
{
	free(v->scope);
	free(v->name);
	freezero(v->value, v->len);
	free(v->set_by);
}

static void
vars_add(const char *scope, const char *name, const char *value, size_t len,
    int secret, const char *who, int64_t at, void *arg)
{
	struct vars	*vs = arg;
	struct var	*v;

	vs->list = xreallocarray(vs->list, vs->n + 1, sizeof *vs->list);
	v = &vs->list[vs->n++];
	v->scope = xstrdup(scope);
	v->name = xstrdup(name);
	v->value = xmalloc(len + 1);
	memcpy(v->value, value, len);
	v->value[len] = '\0';
	v->len = len;
	v->secret = secret;
	v->set_by = xstrdup(who != NULL ? who : "");
	v->set_at = at;
}

/* The entry of scope and name, or NULL. */
static struct var *
vars_find(struct vars *vs, const char *scope, const char *name)
{
	size_t	 i;

	for (i = 0; i < vs->n; i++) {
		if (strcasecmp(vs->list[i].scope, scope) == 0 &&
		    strcmp(vs->list[i].name, name) == 0)
			return (&vs->list[i]);
	}
	return (NULL);
}

/* The stored variables, read once at start; NULL with *cause. */
struct vars *
vars_create(struct db *db, char **cause)
{
	struct vars	*vs;

	vs = xcalloc(1, sizeof *vs);
	vs->db = db;
	if (db_vars_list(db, vars_add, vs) != 0) {
		xasprintf(cause, "reading the stored variables: %s",
		    db_error(db));
		vars_free(vs);
		return (NULL);
	}
	return (vs);
}

void
vars_free(struct vars *vs)
{
	size_t	 i;

	if (vs == NULL)
		return;
	for (i = 0; i < vs->n; i++)
		var_release(&vs->list[i]);
	free(vs->list);
	free(vs);
}

/* "every project" or "project owner/name", for sentences. */
static char *
vars_scope_words(const char *scope)
{
	char	*s;

	if (*scope == '\0')
		return (xstrdup("every project"));
	xasprintf(&s, "project %s", scope);
	return (s);
}

/*
 * Whether name may be set: an environment name that beekeeperd does not
 * set itself. 0, or -1 with *cause.
 */
static int
vars_check_name(const char *name, char **cause)
{
	size_t	 len = strlen(name);

	if (len == 0 || len > VARS_NAME_MAX ||
	    strspn(name, CONFIG_ALNUM "_") != len ||
	    (*name >= '0' && *name <= '9')) {
		xasprintf(cause, "'%.*s' is not a variable name (letters, "
		    "digits and '_', not starting with a digit, at most %d)",
		    VARS_NAME_MAX, name, VARS_NAME_MAX);
		return (-1);
	}
	if (config_var_reserved(name) || strncmp(name, "BEEKEEPER_", 10) == 0) {
		xasprintf(cause, "%s is a name beekeeperd sets for every task "
		    "(as every BEEKEEPER_ name may be): choose another", name);
		return (-1);
	}
	return (0);
}

/*
 * Set a variable or secret of scope ("" or owner/name), by who. Returns
 * 0, or -1 with *cause, which never holds the value.
 */
int
vars_set(struct vars *vs, const char *scope, const char *name,
    const char *value, size_t len, int secret, const char *who, int64_t now,
    char **cause)
{
	struct var	*v;
	char		*words;

	if (vars_check_name(name, cause) != 0)
		return (-1);
	if (len > VARS_VALUE_MAX) {
		xasprintf(cause, "the value of %s is %zu bytes, more than the "
		    "%d allowed", name, len, VARS_VALUE_MAX);
		return (-1);
	}
	if (memchr(value, '\0', len) != NULL) {
		xasprintf(cause, "the value of %s holds a NUL character, which "
		    "no environment variable can", name);
		return (-1);
	}
	if ((v = vars_find(vs, scope, name)) != NULL && v->secret != secret) {
		words = vars_scope_words(scope);
		xasprintf(cause, "%s is a %s of %s already: unset-%s it first",
		    name, v->secret ? "secret" : "variable", words,
		    v->secret ? "secret" : "var");
		free(words);
		return (-1);
	}
	if (v != NULL)
		scope = v->scope;	/* as first stored, in its case */
	if (db_var_set(vs->db, scope, name, value, len, secret, who,
	    now) != 0) {
		xasprintf(cause, "the store failed: %s", db_error(vs->db));
		return (-1);
	}
	if (v != NULL) {
		freezero(v->value, v->len);
		v->value = xmalloc(len + 1);
		memcpy(v->value, value, len);
		v->value[len] = '\0';
		v->len = len;
		free(v->set_by);
		v->set_by = xstrdup(who);
		v->set_at = now;
	} else
		vars_add(scope, name, value, len, secret, who, now, vs);
	words = vars_scope_words(scope);
	log_info("%s %s set for %s by %s", secret ? "secret" : "variable",
	    name, words, who);
	free(words);
	return (0);
}

/* Forget a variable or secret; 0, or -1 with *cause naming it. */
int
vars_unset(struct vars *vs, const char *scope, const char *name,
    int secret, const char *who, char **cause)
{
	struct var	*v;
	char		*words;
	size_t		 i;

	v = vars_find(vs, scope, name);
	if (v == NULL || v->secret != secret) {
		words = vars_scope_words(scope);
		xasprintf(cause, "no %s %s is stored for %s%s",
		    secret ? "secret" : "variable", name, words,
		    v != NULL ? (secret ? " (it is a variable)" :
		    " (it is a secret)") : "");
		free(words);
		return (-1);
	}
	if (db_var_unset(vs->db, v->scope, v->name) != 0) {
		xasprintf(cause, "the store failed: %s", db_error(vs->db));
		return (-1);
	}
	words = vars_scope_words(v->scope);
	log_info("%s %s unset for %s by %s", secret ? "secret" : "variable",
	    name, words, who);
	free(words);
	i = v - vs->list;
	var_release(v);
	memmove(v, v + 1, (vs->n - i - 1) * sizeof *v);
	vs->n--;
	return (0);
}

/*
 * The stored layer of scope ("" for every project, else the task's
 * project) into env, secrets only if secrets is set; see trust_task_vars.
 */
void
vars_apply(const struct vars *vs, const char *scope, json_t *env,
    int secrets)
{
	const struct var	*v;
	size_t			 i;

	for (i = 0; vs != NULL && i < vs->n; i++) {
		v = &vs->list[i];
		if (strcasecmp(v->scope, scope) != 0 || (v->secret && !secrets))
			continue;
		json_object_set_new(env, v->name, json_stringn(v->value,
		    v->len));
	}
}

/*
 * Every stored secret that a task of project may see or print: its
 * value (borrowed) into masks, given to the task or not.
 */
void
vars_masks(const struct vars *vs, const char *project, const char ***masks,
    size_t *nmasks)
{
	const struct var	*v;
	size_t			 i;

	for (i = 0; vs != NULL && i < vs->n; i++) {
		v = &vs->list[i];
		if (!v->secret || v->len == 0 || (*v->scope != '\0' &&
		    strcasecmp(v->scope, project) != 0))
			continue;
		*masks = xreallocarray(*masks, *nmasks + 1, sizeof **masks);
		(*masks)[(*nmasks)++] = v->value;
	}
}

/*
 * The stored entries, as the reply of "vars" lists them: a secret by
 * name, never its value. Those for every project if global, else those of
 * project (NULL: of any project).
 */
void
vars_json(const struct vars *vs, const char *project, int global,
    json_t *list)
{
	const struct var	*v;
	json_t			*o;
	size_t			 i;

	for (i = 0; i < vs->n; i++) {
		v = &vs->list[i];
		if ((*v->scope == '\0') != global || (!global &&
		    project != NULL && strcasecmp(v->scope, project) != 0))
			continue;
		o = json_pack("{s:s, s:o, s:n, s:b, s:s, s:s, s:I}",
		    "name", v->name, "project", global ? json_null() :
		    json_string(v->scope), "image",
		    "secret", v->secret, "source", "bus", "set_by", v->set_by,
		    "set_at", (json_int_t)v->set_at);
		if (!v->secret)
			json_object_set_new(o, "value", json_stringn(v->value,
			    v->len));
		json_array_append_new(list, o);
	}
}
