/*
 * profiles: the pools of machines, one per profile, each a mapping of
 * profile_opts with their defaults. A pool named "default" always exists,
 * for the tasks that name no profile; every pool has at least one slot
 * and a max of at least 1 and at least min.
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

/* The keys of each profile under profiles:, with their defaults. */
#define POFF(f)	offsetof(struct profile, f)
static const struct config_opt profile_opts[] = {
	{ .key = "driver", .type = OPT_DRIVER, .off = POFF(driver),
	  .def = "local", .help = "what runs the tasks: local" },
	{ .key = "slots", .type = OPT_UINT, .off = POFF(slots), .def = "2",
	  .help = "tasks one instance runs at once" },
	{ .key = "min", .type = OPT_UINT, .off = POFF(min), .def = "0",
	  .help = "instances kept even when idle" },
	{ .key = "max", .type = OPT_UINT, .off = POFF(max), .def = "1",
	  .help = "most instances at once" },
	{ .key = "idle_timeout", .type = OPT_DURATION,
	  .off = POFF(idle_timeout_ms), .def = "5m",
	  .help = "idle time after which an instance above min stops" },
	{ .key = "task_timeout", .type = OPT_DURATION,
	  .off = POFF(task_timeout_ms), .def = "60m",
	  .help = "longest a task may run unless its file says" },
};
#undef POFF

static struct profile *
config_profile_add(struct config *conf, const char *name)
{
	struct profile	*pr;

	conf->profiles = xreallocarray(conf->profiles, conf->nprofiles + 1,
	    sizeof *conf->profiles);
	pr = &conf->profiles[conf->nprofiles++];
	memset(pr, 0, sizeof *pr);
	pr->name = xstrdup(name);
	return (pr);
}

/* Fill in what a profile does not say, from profile_opts. */
static int
config_profile_defaults(struct config_parse *p, struct profile *pr,
    const u_char *seen, yaml_node_t *node)
{
	size_t	 i;

	p->base = pr;
	for (i = 0; i < nitems(profile_opts); i++) {
		if (!seen[i] && config_set(p, &profile_opts[i], NULL,
		    profile_opts[i].def) != 0)
			return (-1);
	}
	p->base = p->conf;
	if (pr->slots == 0)
		return (config_error(p, node, "profiles.%s.slots: must be at "
		    "least 1", pr->name));
	if (pr->max < pr->min || pr->max == 0)
		return (config_error(p, node, "profiles.%s: max must be at "
		    "least 1 and at least min", pr->name));
	return (0);
}

/* The settings of one profile, a mapping of profile_opts. */
static int
config_profile_settings(struct config_parse *p, struct profile *pr,
    yaml_node_t *map, u_char *seen)
{
	yaml_node_pair_t	*pp;
	yaml_node_t		*pk, *pv;
	const char		*key;
	size_t			 j;

	for (pp = map->data.mapping.pairs.start;
	    pp < map->data.mapping.pairs.top; pp++) {
		pk = yaml_document_get_node(&p->doc, pp->key);
		pv = yaml_document_get_node(&p->doc, pp->value);
		if (pk == NULL || pv == NULL || pk->type != YAML_SCALAR_NODE)
			return (config_error(p, pk, "keys must be plain "
			    "words"));
		key = (const char *)pk->data.scalar.value;
		for (j = 0; j < nitems(profile_opts); j++) {
			if (strcmp(profile_opts[j].key, key) == 0)
				break;
		}
		if (j == nitems(profile_opts))
			return (config_error(p, pk, "unknown key "
			    "'profiles.%s.%s'", pr->name, key));
		if (seen[j]++)
			return (config_error(p, pk, "'profiles.%s.%s' is set "
			    "twice", pr->name, key));
		if (pv->type != YAML_SCALAR_NODE)
			return (config_error(p, pv, "profiles.%s.%s: must be a "
			    "single value", pr->name, key));
		if (config_set(p, &profile_opts[j], pv,
		    (const char *)pv->data.scalar.value) != 0)
			return (-1);
	}
	return (0);
}

/*
 * profiles: a mapping of names the operator chooses to mappings of
 * profile_opts. A pool named "default" always exists: tasks that name
 * no profile run there.
 */
int
config_profiles(struct config_parse *p, yaml_node_t *map)
{
	yaml_node_pair_t	*pair;
	yaml_node_t		*k, *v;
	struct profile		*pr;
	const char		*name;
	char			*prefix;
	u_char			 seen[nitems(profile_opts)];
	size_t			 i;
	int			 rv;

	if (map->type != YAML_MAPPING_NODE)
		return (config_error(p, map, "profiles: must be a mapping of "
		    "profile names to settings"));
	for (pair = map->data.mapping.pairs.start;
	    pair < map->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(&p->doc, pair->key);
		v = yaml_document_get_node(&p->doc, pair->value);
		if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE)
			return (config_error(p, k, "profiles: names must be "
			    "plain words"));
		name = (const char *)k->data.scalar.value;
		if (*name == '\0' ||
		    strspn(name, CONFIG_ALNUM "-_.") != strlen(name))
			return (config_error(p, k, "profiles: '%s' is not a "
			    "name (letters, digits, '-', '_', '.')", name));
		for (i = 0; i < p->conf->nprofiles; i++) {
			if (strcmp(p->conf->profiles[i].name, name) == 0)
				return (config_error(p, k, "profiles.%s is set "
				    "twice", name));
		}
		if (v->type != YAML_MAPPING_NODE)
			return (config_error(p, v, "profiles.%s: must be a "
			    "mapping of settings", name));
		pr = config_profile_add(p->conf, name);
		memset(seen, 0, sizeof seen);
		xasprintf(&prefix, "profiles.%s", name);
		p->base = pr;
		p->prefix = prefix;
		rv = config_profile_settings(p, pr, v, seen);
		p->base = p->conf;
		p->prefix = NULL;
		free(prefix);
		if (rv != 0 || config_profile_defaults(p, pr, seen, k) != 0)
			return (-1);
	}
	return (0);
}

/* Tasks that name no profile run in "default", unless profiles: has it. */
int
config_default_profile(struct config_parse *p)
{
	u_char			 none[nitems(profile_opts)];
	struct profile		*pr;

	if (config_profile(p->conf, "default") != NULL)
		return (0);
	memset(none, 0, sizeof none);
	pr = config_profile_add(p->conf, "default");
	return (config_profile_defaults(p, pr, none, NULL));
}

void
config_free_profiles(struct config *conf)
{
	size_t	 i;

	for (i = 0; i < conf->nprofiles; i++) {
		free(conf->profiles[i].name);
		free(conf->profiles[i].driver);
	}
	free(conf->profiles);
}

/* The profile of that name, or NULL. */
const struct profile *
config_profile(const struct config *conf, const char *name)
{
	size_t	 i;

	for (i = 0; i < conf->nprofiles; i++) {
		if (strcmp(conf->profiles[i].name, name) == 0)
			return (&conf->profiles[i]);
	}
	return (NULL);
}

void
config_print_profiles(const struct config *conf, const struct config_opt *o,
    FILE *f)
{
	const struct profile	*pr;
	size_t			 i, j;
	char			*v;

	fprintf(f, "%s:\t\t\t# %s\n", o->key, o->help);
	for (i = 0; i < conf->nprofiles; i++) {
		pr = &conf->profiles[i];
		fprintf(f, "  %s:\n", pr->name);
		for (j = 0; j < nitems(profile_opts); j++) {
			o = &profile_opts[j];
			v = config_value(pr, o);
			fprintf(f, "    %s: %s\t# %s\n", o->key, v, o->help);
			free(v);
		}
	}
}
