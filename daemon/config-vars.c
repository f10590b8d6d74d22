/*
 * variables: and secrets:, the environment of the tasks: one array of
 * struct config_var, layered by project and image. A secret's value is
 * read from a file, wiped when freed and never printed. No entry sets a
 * name beekeeperd sets itself, nor one that another entry of the same
 * project and image sets. Variables come first, then secrets, each in
 * file order.
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon.h"

/* The keys of an entry of variables: and of secrets:; name comes first. */
#define VOFF(f)	offsetof(struct config_var, f)
static const struct config_opt var_opts[] = {
	{ .key = "name", .type = OPT_ENVNAME, .off = VOFF(name),
	  .flags = OPT_REQUIRED, .help = "the variable's name" },
	{ .key = "value", .type = OPT_STRING, .off = VOFF(value),
	  .flags = OPT_REQUIRED | OPT_VARONLY, .help = "its value" },
	{ .key = "file", .type = OPT_SECRET_FILE, .off = VOFF(file),
	  .data = VOFF(value), .datalen = VOFF(value_len),
	  .flags = OPT_REQUIRED | OPT_SECRETONLY,
	  .help = "the file holding its value" },
	{ .key = "project", .type = OPT_REPO, .off = VOFF(project),
	  .help = "only for this repository" },
	{ .key = "image", .type = OPT_STRING, .off = VOFF(image),
	  .chars = CONFIG_ALNUM "-_./:@", .chars_help = "is not an image name "
	  "(letters, digits, '-', '_', '.', '/', ':' and '@')",
	  .help = "only for the tasks of this image" },
};
#undef VOFF

/* What beekeeperd itself sets in every task's environment. */
static const char *config_reserved[] = {
	"GITHUB_OWNER", "GITHUB_PROJECT_NAME", "GITHUB_PR_NUMBER", "SHA",
	"CODE_URL", "TASK", "PATH", "HOME", "LANG"
};

/* Is name one that beekeeperd sets for every task? */
int
config_var_reserved(const char *name)
{
	size_t	 i;

	for (i = 0; i < nitems(config_reserved); i++) {
		if (strcmp(name, config_reserved[i]) == 0)
			return (1);
	}
	return (0);
}

static void
config_var_release(struct config_var *v)
{
	free(v->name);
	freezero(v->value, v->value_len);
	free(v->file);
	free(v->project);
	free(v->image);
}

/* Whether var_opts[j] may appear in an entry of variables: or secrets:. */
static int
config_var_has(size_t j, int secret)
{
	return (!(var_opts[j].flags & (secret ? OPT_VARONLY :
	    OPT_SECRETONLY)));
}

/* Read one entry's keys into v; line[j] is where var_opts[j] is set. */
static int
config_var_parse(struct config_parse *p, const struct config_opt *o,
    yaml_node_t *map, struct config_var *v, size_t *line)
{
	const char		*keys;
	yaml_node_pair_t	*pair;
	yaml_node_t		*k, *val;
	const char		*key;
	size_t			 j;
	int			 rv;

	keys = v->secret ? "name, file, project and image" :
	    "name, value, project and image";
	for (pair = map->data.mapping.pairs.start;
	    pair < map->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(&p->doc, pair->key);
		val = yaml_document_get_node(&p->doc, pair->value);
		if (k == NULL || val == NULL || k->type != YAML_SCALAR_NODE)
			return (config_error(p, k, "keys must be plain "
			    "words"));
		key = (const char *)k->data.scalar.value;
		for (j = 0; j < nitems(var_opts); j++) {
			if (strcmp(var_opts[j].key, key) == 0)
				break;
		}
		if (v->secret && j < nitems(var_opts) &&
		    var_opts[j].off == offsetof(struct config_var, value))
			return (config_error(p, k, "%s.value: secrets come "
			    "from files, never from this one: put the value in "
			    "a file only its owner can read, and give its path "
			    "as file", o->key));
		if (j == nitems(var_opts) || !config_var_has(j, v->secret))
			return (config_error(p, k, "unknown key '%s.%s' (an "
			    "entry has %s)", o->key, key, keys));
		if (line[j] != 0)
			return (config_error(p, k, "'%s.%s' is set twice",
			    o->key, key));
		line[j] = k->start_mark.line + 1;
		if (val->type != YAML_SCALAR_NODE)
			return (config_error(p, val, "%s.%s: must be a single "
			    "value, not a list or mapping", o->key, key));
		p->base = v;
		p->prefix = o->key;
		rv = config_set(p, &var_opts[j], val,
		    (const char *)val->data.scalar.value);
		p->base = p->conf;
		p->prefix = NULL;
		if (rv != 0)
			return (-1);
	}
	for (j = 0; j < nitems(var_opts); j++) {
		if (!(var_opts[j].flags & OPT_REQUIRED) || line[j] != 0 ||
		    !config_var_has(j, v->secret))
			continue;
		if (v->name == NULL)
			return (config_error(p, map, "%s: an entry has no "
			    "name", o->key));
		return (config_error(p, map, "%s: %s has no %s", o->key,
		    v->name, var_opts[j].key));
	}
	return (0);
}

static int
config_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == b);
	return (strcasecmp(a, b) == 0);
}

/*
 * A name the daemon sets would be overridden or would override, and two
 * entries of the same scope leave no rule for which one wins.
 */
static int
config_var_check(struct config_parse *p, const struct config_opt *o,
    struct config_var *v, size_t line)
{
	const struct config_var	*w;
	size_t			 i;

	if (config_var_reserved(v->name))
		return (config_error_at(p, line, "%s.name: %s is set by "
		    "beekeeperd for every task", o->key, v->name));
	for (i = 0; i < p->conf->nvars; i++) {
		w = &p->conf->vars[i];
		if (strcmp(w->name, v->name) != 0 ||
		    !config_same(w->project, v->project) ||
		    !config_same(w->image, v->image))
			continue;
		return (config_error_at(p, line, "%s: %s is set twice for "
		    "%s%s and %s%s (first on line %zu)", o->key, v->name,
		    v->project != NULL ? "project " : "every project",
		    v->project != NULL ? v->project : "",
		    v->image != NULL ? "image " : "every image",
		    v->image != NULL ? v->image : "", p->var_lines[i]));
	}
	return (0);
}

/*
 * variables: and secrets:, lists of mappings of var_opts, appended to
 * conf->vars; config_order_vars puts the variables before the secrets.
 */
int
config_vars(struct config_parse *p, const struct config_opt *o,
    yaml_node_t *seq)
{
	struct config		*conf = p->conf;
	struct config_var	 v;
	yaml_node_item_t	*item;
	yaml_node_t		*n;
	size_t			 line[nitems(var_opts)];
	const char		*keys;

	keys = (o->flags & OPT_SECRET) ? "name, file, project and image" :
	    "name, value, project and image";
	if (config_null(seq))
		return (0);
	if (seq->type != YAML_SEQUENCE_NODE)
		return (config_error(p, seq, "%s: must be a list of mappings "
		    "with the keys %s", o->key, keys));
	for (item = seq->data.sequence.items.start;
	    item < seq->data.sequence.items.top; item++) {
		n = yaml_document_get_node(&p->doc, *item);
		if (n == NULL || n->type != YAML_MAPPING_NODE)
			return (config_error(p, n != NULL ? n : seq, "%s: each "
			    "entry must be a mapping with the keys %s", o->key,
			    keys));
		memset(&v, 0, sizeof v);
		memset(line, 0, sizeof line);
		v.secret = (o->flags & OPT_SECRET) != 0;
		if (config_var_parse(p, o, n, &v, line) != 0 ||
		    config_var_check(p, o, &v, line[0]) != 0) {
			config_var_release(&v);
			return (-1);
		}
		if (!v.secret)
			v.value_len = strlen(v.value);
		conf->vars = xreallocarray(conf->vars, conf->nvars + 1,
		    sizeof *conf->vars);
		p->var_lines = xreallocarray(p->var_lines, conf->nvars + 1,
		    sizeof *p->var_lines);
		p->var_lines[conf->nvars] = line[0];
		conf->vars[conf->nvars++] = v;
	}
	return (0);
}

/* Variables first, then secrets, each in file order. */
void
config_order_vars(struct config *conf)
{
	struct config_var	*sorted;
	size_t			 i, n = 0;
	int			 secret;

	if (conf->nvars == 0)
		return;
	sorted = xreallocarray(NULL, conf->nvars, sizeof *sorted);
	for (secret = 0; secret <= 1; secret++) {
		for (i = 0; i < conf->nvars; i++) {
			if (conf->vars[i].secret == secret)
				sorted[n++] = conf->vars[i];
		}
	}
	memcpy(conf->vars, sorted, conf->nvars * sizeof *sorted);
	explicit_bzero(sorted, conf->nvars * sizeof *sorted);
	free(sorted);
}

void
config_free_vars(struct config *conf)
{
	size_t	 i;

	for (i = 0; i < conf->nvars; i++)
		config_var_release(&conf->vars[i]);
	free(conf->vars);
}

/*
 * The entries of variables: or of secrets:. A secret shows its file and
 * length, never its value: "value" is not a key of a secrets: entry.
 */
void
config_print_vars(const struct config *conf, const struct config_opt *o,
    FILE *f)
{
	const struct config_var	*v;
	const int		 secret = (o->flags & OPT_SECRET) != 0;
	size_t			 i, j, n = 0;
	char			*q;

	for (i = 0; i < conf->nvars; i++)
		n += conf->vars[i].secret == secret;
	if (n == 0) {
		fprintf(f, "%s: []\t\t# %s\n", o->key, o->help);
		return;
	}
	fprintf(f, "%s:\t\t\t# %s\n", o->key, o->help);
	for (i = 0; i < conf->nvars; i++) {
		v = &conf->vars[i];
		if (v->secret != secret)
			continue;
		n = 0;
		for (j = 0; j < nitems(var_opts); j++) {
			if (!config_var_has(j, secret))
				continue;
			if ((q = config_value(v, &var_opts[j])) == NULL)
				continue;
			fprintf(f, "  %s %s: %s", n++ == 0 ? "-" : " ",
			    var_opts[j].key, q);
			if (var_opts[j].type == OPT_SECRET_FILE)
				fprintf(f, "\t# secret read, %zu bytes, not "
				    "shown", config_secret_len(v,
				    &var_opts[j]));
			fputc('\n', f);
			free(q);
		}
	}
}
