/*
 * profiles: the pools of machines, one per profile, each a mapping of
 * profile_opts with their defaults, and for driver aws of profile_aws_opts
 * too. A pool named "default" always exists, for the tasks that name no
 * profile; every pool has at least one slot and a max of at least 1 and at
 * least min. A key of profile_aws_opts on a profile of another driver is
 * an error rather than ignored, and an aws profile says what it launches
 * (instance_type, ami) and where (aws.region).
 *
 * Also what those machines cost, aws.prices and aws.spot_prices, which
 * -n shows next to each aws profile's instance type.
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
	  .def = "local", .help = "what runs the tasks: local or aws" },
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
	{ .key = "breaker_failures", .type = OPT_UINT,
	  .off = POFF(breaker_failures), .def = "3",
	  .help = "failed launches in a row after which the pool pauses" },
	{ .key = "breaker_backoff", .type = OPT_DURATION,
	  .off = POFF(breaker_backoff_ms), .def = "1m",
	  .help = "the first such pause" },
};

/* The keys of a profile of driver aws only. */
static const struct config_opt profile_aws_opts[] = {
	{ .key = "instance_type", .type = OPT_INSTANCE_TYPE,
	  .off = POFF(instance_type),
	  .help = "EC2 instance type of each instance; required" },
	{ .key = "ami", .type = OPT_AWS_ID, .off = POFF(ami), .chars = "ami-",
	  .chars_help = "is not an AMI ID: ami- and hex digits, as in "
	  "ami-0abcdef1234567890",
	  .help = "image each instance boots, with the ECS agent; required" },
	{ .key = "subnet", .type = OPT_AWS_ID, .off = POFF(subnet),
	  .chars = "subnet-", .chars_help = "is not a subnet ID: subnet- and "
	  "hex digits, as in subnet-0abcdef1234567890",
	  .help = "subnet of each instance, else a default one" },
	{ .key = "security_groups", .type = OPT_AWS_IDS,
	  .off = POFF(security_groups), .chars = "sg-",
	  .chars_help = "is not a security group ID: sg- and hex digits, as "
	  "in sg-0abcdef1234567890",
	  .help = "security groups of each instance, else the VPC's default" },
	{ .key = "iam_instance_profile", .type = OPT_IAM_PROFILE,
	  .off = POFF(iam_profile),
	  .help = "instance profile (name or ARN) the ECS agent acts as" },
	{ .key = "key_name", .type = OPT_STRING, .off = POFF(key_name),
	  .chars = CONFIG_ALNUM "-_.@+=:,/", .chars_help = "is not a key pair "
	  "name (letters, digits and '-_.@+=:,/')",
	  .help = "EC2 key pair for SSH to the instances" },
	{ .key = "spot", .type = OPT_BOOL, .off = POFF(spot), .def = "false",
	  .help = "launch spot instances" },
	{ .key = "spot_fallback", .type = OPT_BOOL, .off = POFF(spot_fallback),
	  .def = "true", .help = "on demand when spot capacity is short, and "
	  "for the retry of a task spot interrupted" },
	{ .key = "spot_max_price", .type = OPT_DECIMAL,
	  .off = POFF(spot_max_price),
	  .help = "most USD per hour for spot, else the on-demand price" },
	{ .key = "boot_timeout", .type = OPT_DURATION,
	  .off = POFF(boot_timeout_ms), .def = "10m",
	  .help = "longest an instance may take to join the cluster" },
	{ .key = "memory", .type = OPT_UINT, .off = POFF(memory_mb),
	  .def = "1024", .help = "MiB reserved for each task's container" },
	{ .key = "image", .type = OPT_STRING, .off = POFF(image),
	  .chars = CONFIG_ALNUM "-_.:/@", .chars_help = "is not a container "
	  "image reference", .def = "buildpack-deps:bookworm",
	  .help = "container image of a task whose file names none" },
};
#undef POFF

#define NPROFILE_OPTS	(nitems(profile_opts) + nitems(profile_aws_opts))

/* Both tables as one: the common keys, then the aws ones. */
static const struct config_opt *
profile_opt(size_t j)
{
	if (j < nitems(profile_opts))
		return (&profile_opts[j]);
	return (&profile_aws_opts[j - nitems(profile_opts)]);
}

static int
profile_opt_aws(size_t j)
{
	return (j >= nitems(profile_opts));
}

static int
profile_is_aws(const struct profile *pr)
{
	return (strcmp(pr->driver, "aws") == 0);
}

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

/* Where a profile's key is set, or else the profile's own line. */
static size_t
config_profile_line(const size_t *line, size_t j, yaml_node_t *node)
{
	if (line[j] != 0)
		return (line[j]);
	return (node != NULL ? node->start_mark.line + 1 : 0);
}

static size_t
config_profile_index(const char *key)
{
	size_t	 j;

	for (j = 0; j < NPROFILE_OPTS; j++) {
		if (strcmp(profile_opt(j)->key, key) == 0)
			break;
	}
	return (j);
}

/*
 * What an aws profile must say, and what no other may. The aws keys
 * have defaults in every profile, unused but for driver aws.
 */
static int
config_profile_aws(struct config_parse *p, struct profile *pr,
    const size_t *line, yaml_node_t *node)
{
	size_t	 j, first = NPROFILE_OPTS;

	if (!profile_is_aws(pr)) {
		/* The first in the file, as an operator reads it. */
		for (j = 0; j < NPROFILE_OPTS; j++) {
			if (profile_opt_aws(j) && line[j] != 0 &&
			    (first == NPROFILE_OPTS || line[j] < line[first]))
				first = j;
		}
		if (first == NPROFILE_OPTS)
			return (0);
		return (config_error_at(p, line[first], "profiles.%s.%s: only "
		    "for driver aws", pr->name, profile_opt(first)->key));
	}
	if (pr->instance_type == NULL || pr->ami == NULL)
		return (config_error(p, node, "profiles.%s: driver aws needs "
		    "instance_type and ami (%s)", pr->name,
		    pr->instance_type != NULL ? "ami is missing" :
		    pr->ami != NULL ? "instance_type is missing" :
		    "both are missing"));
	if (pr->memory_mb < 4) {
		j = config_profile_index("memory");
		return (config_error_at(p, config_profile_line(line, j, node),
		    "profiles.%s.memory: must be at least 4 (MiB)", pr->name));
	}
	return (0);
}

/* Fill in what a profile does not say, from the tables, and check it. */
static int
config_profile_defaults(struct config_parse *p, struct profile *pr,
    const size_t *line, yaml_node_t *node)
{
	const struct config_opt	*o;
	size_t			 j;

	p->base = pr;
	for (j = 0; j < NPROFILE_OPTS; j++) {
		o = profile_opt(j);
		if (line[j] == 0 && o->def != NULL &&
		    config_set(p, o, NULL, o->def) != 0)
			return (-1);
	}
	p->base = p->conf;
	if (pr->slots == 0)
		return (config_error(p, node, "profiles.%s.slots: must be at "
		    "least 1", pr->name));
	if (pr->max < pr->min || pr->max == 0)
		return (config_error(p, node, "profiles.%s: max must be at "
		    "least 1 and at least min", pr->name));
	if (pr->breaker_failures == 0) {
		j = config_profile_index("breaker_failures");
		return (config_error_at(p, config_profile_line(line, j, node),
		    "profiles.%s.breaker_failures: must be at least 1",
		    pr->name));
	}
	return (config_profile_aws(p, pr, line, node));
}

/* The settings of one profile; line[j] is where key j is set. */
static int
config_profile_settings(struct config_parse *p, struct profile *pr,
    yaml_node_t *map, size_t *line)
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
		if ((j = config_profile_index(key)) == NPROFILE_OPTS)
			return (config_error(p, pk, "unknown key "
			    "'profiles.%s.%s'", pr->name, key));
		if (line[j] != 0)
			return (config_error(p, pk, "'profiles.%s.%s' is set "
			    "twice", pr->name, key));
		line[j] = pk->start_mark.line + 1;
		if (config_set_node(p, profile_opt(j), pv) != 0)
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
	size_t			 line[NPROFILE_OPTS];
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
		memset(line, 0, sizeof line);
		xasprintf(&prefix, "profiles.%s", name);
		p->base = pr;
		p->prefix = prefix;
		rv = config_profile_settings(p, pr, v, line);
		p->base = p->conf;
		p->prefix = NULL;
		free(prefix);
		if (rv != 0 || config_profile_defaults(p, pr, line, k) != 0)
			return (-1);
	}
	return (0);
}

/* Tasks that name no profile run in "default", unless profiles: has it. */
int
config_default_profile(struct config_parse *p)
{
	size_t			 none[NPROFILE_OPTS];
	struct profile		*pr;

	if (config_profile(p->conf, "default") != NULL)
		return (0);
	memset(none, 0, sizeof none);
	pr = config_profile_add(p->conf, "default");
	return (config_profile_defaults(p, pr, none, NULL));
}

/* The key node of key in map, and its value in *v; NULL if none. */
static yaml_node_t *
config_map_get(struct config_parse *p, yaml_node_t *map, const char *key,
    yaml_node_t **v)
{
	yaml_node_pair_t	*pair;
	yaml_node_t		*k;

	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return (NULL);
	for (pair = map->data.mapping.pairs.start;
	    pair < map->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(&p->doc, pair->key);
		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0) {
			*v = yaml_document_get_node(&p->doc, pair->value);
			return (k);
		}
	}
	return (NULL);
}

/* Where profiles.NAME is in the file, to point at what it lacks. */
static yaml_node_t *
config_profile_node(struct config_parse *p, const char *name)
{
	yaml_node_t	*v;

	if (config_map_get(p, yaml_document_get_root_node(&p->doc),
	    "profiles", &v) == NULL)
		return (NULL);
	return (config_map_get(p, v, name, &v));
}

/*
 * What profiles need of the rest of the file, once all of it is read:
 * an aws profile needs a region, which aws: may set after profiles: or
 * the environment give. p->doc is still loaded.
 */
int
config_check_profiles(struct config_parse *p)
{
	const struct profile	*pr;
	size_t			 i;

	for (i = 0; i < p->conf->nprofiles; i++) {
		pr = &p->conf->profiles[i];
		if (profile_is_aws(pr) && p->conf->aws_region == NULL)
			return (config_error(p, config_profile_node(p,
			    pr->name), "profiles.%s: driver aws needs "
			    "aws.region (or AWS_REGION in the environment)",
			    pr->name));
	}
	return (0);
}

void
config_free_profiles(struct config *conf)
{
	size_t	 i, j;

	for (i = 0; i < conf->nprofiles; i++) {
		free(conf->profiles[i].name);
		for (j = 0; j < NPROFILE_OPTS; j++)
			config_free_value(&conf->profiles[i], profile_opt(j));
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

/*
 * What an aws profile's instances cost an hour, as the pools will count
 * it (cost.c), and where that price comes from: -n says when it is
 * us-east-1's, or not known, for the operator to set aws.prices.
 */
static char *
config_profile_price(const struct config *conf, const struct profile *pr)
{
	const char		*region = conf->aws_region;
	char			*od, *spot, *s, *from;
	double			 usd;
	size_t			 i;
	int			 guessed, explicit;

	if (region == NULL)
		return (NULL);
	usd = cost_profile(conf, pr, 0, &guessed, NULL);
	if (usd < 0)
		return (xstrdup("(on-demand price not known: set "
		    "aws.prices)"));
	for (i = 0, from = "built in"; i < conf->naws_prices; i++) {
		if (strcmp(conf->aws_prices[i].type, pr->instance_type) == 0)
			from = "from aws.prices";
	}
	od = config_number(usd);
	if (guessed)
		xasprintf(&s, "(on demand %s USD/hour, us-east-1's built-in "
		    "price: set aws.prices for %s", od, region);
	else
		xasprintf(&s, "(on demand %s USD/hour, %s", od, from);
	free(od);
	if (pr->spot) {
		spot = config_number(cost_profile(conf, pr, 1, &guessed,
		    &explicit));
		od = s;
		xasprintf(&s, "%s; spot %s, %s", od, spot, explicit ?
		    "from aws.spot_prices" : "by aws.spot_factor");
		free(od);
		free(spot);
	}
	od = s;
	xasprintf(&s, "%s)", od);
	free(od);
	return (s);
}

void
config_print_profiles(const struct config *conf, const struct config_opt *o,
    FILE *f)
{
	const struct profile	*pr;
	size_t			 i, j;
	char			*note;

	fprintf(f, "%s:\t\t\t# %s\n", o->key, o->help);
	for (i = 0; i < conf->nprofiles; i++) {
		pr = &conf->profiles[i];
		fprintf(f, "  %s:\n", pr->name);
		for (j = 0; j < NPROFILE_OPTS; j++) {
			o = profile_opt(j);
			if (profile_opt_aws(j) && !profile_is_aws(pr))
				continue;
			note = NULL;
			if (o->off == offsetof(struct profile, instance_type))
				note = config_profile_price(conf, pr);
			config_print_opt(pr, o, o->key, "    ", note, f);
			free(note);
		}
	}
}

/*
 * aws.prices and aws.spot_prices: a mapping of instance types to USD
 * per hour, each type once; nothing or {} is none.
 */
int
config_prices(struct config_parse *p, const struct config_opt *o,
    yaml_node_t *map)
{
	struct config_price	**pp, *cp;
	size_t			 *np, i;
	yaml_node_pair_t	 *pair;
	yaml_node_t		 *k, *v;
	const char		 *type, *value;
	double			  usd;

	pp = (struct config_price **)((char *)p->conf + o->off);
	np = (size_t *)((char *)p->conf + o->datalen);
	if (config_null(map))
		return (0);
	if (map->type != YAML_MAPPING_NODE)
		return (config_error(p, map, "%s: must be a mapping of "
		    "instance types to USD per hour, as in {c5.xlarge: 0.17}",
		    o->key));
	for (pair = map->data.mapping.pairs.start;
	    pair < map->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(&p->doc, pair->key);
		v = yaml_document_get_node(&p->doc, pair->value);
		if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE)
			return (config_error(p, k, "%s: keys must be instance "
			    "types", o->key));
		type = (const char *)k->data.scalar.value;
		if (!config_is_instance_type(type))
			return (config_error(p, k, "%s: '%s' "
			    CONFIG_NOT_AN_INSTANCE_TYPE, o->key, type));
		for (i = 0; i < *np; i++) {
			if (strcmp((*pp)[i].type, type) == 0)
				return (config_error(p, k, "%s.%s is set twice",
				    o->key, type));
		}
		if (v->type != YAML_SCALAR_NODE)
			return (config_error(p, v, "%s.%s: must be a price, "
			    "not a list or mapping", o->key, type));
		value = (const char *)v->data.scalar.value;
		if (config_parse_number(value, &usd) != 0)
			return (config_error(p, v, "%s.%s: '%s' "
			    CONFIG_NOT_A_NUMBER, o->key, type, value));
		*pp = xreallocarray(*pp, *np + 1, sizeof **pp);
		cp = &(*pp)[(*np)++];
		cp->type = xstrdup(type);
		cp->usd_hour = usd;
	}
	return (0);
}

void
config_print_prices(const struct config *conf, const struct config_opt *o,
    const char *key, FILE *f)
{
	const struct config_price	*cp;
	size_t				 i, n;
	char				*v;

	cp = *(struct config_price *const *)((const char *)conf + o->off);
	n = *(const size_t *)((const char *)conf + o->datalen);
	if (n == 0) {
		fprintf(f, "  %s: {}\t# %s\n", key, o->help);
		return;
	}
	fprintf(f, "  %s:\t\t# %s\n", key, o->help);
	for (i = 0; i < n; i++) {
		v = config_number(cp[i].usd_hour);
		fprintf(f, "    %s: %s\n", cp[i].type, v);
		free(v);
	}
}
