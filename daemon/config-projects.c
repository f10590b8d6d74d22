/*
 * The lists of projects: in beekeeperd.yml: projects.approved, the
 * repositories approved by the file, and projects.push_branches, the
 * branches whose pushes are built. A repository is owner/name and is
 * listed once, whatever its case; a branch pattern is never empty.
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon.h"

/* projects.approved: a list of owner/name. */
int
config_repos(struct config_parse *p, const struct config_opt *o,
    yaml_node_t *seq)
{
	struct config		*conf = p->conf;
	yaml_node_item_t	*item;
	yaml_node_t		*n;
	const char		*s;
	size_t			 i;

	if (config_null(seq))
		return (0);
	if (seq->type != YAML_SEQUENCE_NODE)
		return (config_error(p, seq, "%s: must be a list of "
		    "repositories, as in [beeware/toga]", o->key));
	for (item = seq->data.sequence.items.start;
	    item < seq->data.sequence.items.top; item++) {
		n = yaml_document_get_node(&p->doc, *item);
		if (n == NULL || n->type != YAML_SCALAR_NODE)
			return (config_error(p, n != NULL ? n : seq, "%s: each "
			    "entry must be owner/name, not a list or mapping",
			    o->key));
		s = (const char *)n->data.scalar.value;
		if (!config_is_repo(s))
			return (config_error(p, n, "%s: '%s' "
			    CONFIG_NOT_A_REPO, o->key, s));
		for (i = 0; i < conf->napproved; i++) {
			if (strcasecmp(conf->approved[i], s) == 0)
				return (config_error(p, n, "%s: '%s' is listed "
				    "twice", o->key, s));
		}
		conf->approved = xreallocarray(conf->approved,
		    conf->napproved + 1, sizeof *conf->approved);
		conf->approved[conf->napproved++] = xstrdup(s);
	}
	return (0);
}

static int
config_pattern_add(struct config_parse *p, const struct config_opt *o,
    struct config_branches *b, yaml_node_t *n)
{
	const char	*s;

	if (n->type != YAML_SCALAR_NODE)
		return (config_error(p, n, "%s.%s: each branch pattern must "
		    "be a single value", o->key, b->repo));
	s = (const char *)n->data.scalar.value;
	if (*s == '\0' || config_null(n))
		return (config_error(p, n, "%s.%s: a branch pattern must not "
		    "be empty; [] means no branch", o->key, b->repo));
	b->patterns = xreallocarray(b->patterns, b->npatterns + 1,
	    sizeof *b->patterns);
	b->patterns[b->npatterns++] = xstrdup(s);
	return (0);
}

/*
 * projects.push_branches: each repository's fnmatch(3) patterns, a list
 * or a single pattern.
 */
int
config_branches(struct config_parse *p, const struct config_opt *o,
    yaml_node_t *map)
{
	struct config		*conf = p->conf;
	struct config_branches	*b;
	yaml_node_pair_t	*pair;
	yaml_node_item_t	*item;
	yaml_node_t		*k, *v, *n;
	const char		*repo;
	size_t			 i;

	if (config_null(map))
		return (0);
	if (map->type != YAML_MAPPING_NODE)
		return (config_error(p, map, "%s: must be a mapping of "
		    "repositories to branch patterns", o->key));
	for (pair = map->data.mapping.pairs.start;
	    pair < map->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(&p->doc, pair->key);
		v = yaml_document_get_node(&p->doc, pair->value);
		if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE)
			return (config_error(p, k, "%s: keys must be "
			    "repositories, owner/name", o->key));
		repo = (const char *)k->data.scalar.value;
		if (!config_is_repo(repo))
			return (config_error(p, k, "%s: '%s' "
			    CONFIG_NOT_A_REPO, o->key, repo));
		for (i = 0; i < conf->npush_branches; i++) {
			if (strcasecmp(conf->push_branches[i].repo, repo) == 0)
				return (config_error(p, k, "%s.%s is set twice",
				    o->key, repo));
		}
		conf->push_branches = xreallocarray(conf->push_branches,
		    conf->npush_branches + 1, sizeof *conf->push_branches);
		b = &conf->push_branches[conf->npush_branches++];
		memset(b, 0, sizeof *b);
		b->repo = xstrdup(repo);
		if (v->type == YAML_SCALAR_NODE) {
			if (config_pattern_add(p, o, b, v) != 0)
				return (-1);
			continue;
		}
		if (v->type != YAML_SEQUENCE_NODE)
			return (config_error(p, v, "%s.%s: must be a branch "
			    "pattern or a list of them", o->key, repo));
		for (item = v->data.sequence.items.start;
		    item < v->data.sequence.items.top; item++) {
			if ((n = yaml_document_get_node(&p->doc, *item)) ==
			    NULL)
				return (config_error(p, v, "%s.%s: bad list",
				    o->key, repo));
			if (config_pattern_add(p, o, b, n) != 0)
				return (-1);
		}
	}
	return (0);
}

void
config_free_projects(struct config *conf)
{
	struct config_branches	*b;
	size_t			 i, j;

	for (i = 0; i < conf->napproved; i++)
		free(conf->approved[i]);
	free(conf->approved);
	for (i = 0; i < conf->npush_branches; i++) {
		b = &conf->push_branches[i];
		for (j = 0; j < b->npatterns; j++)
			free(b->patterns[j]);
		free(b->patterns);
		free(b->repo);
	}
	free(conf->push_branches);
}

void
config_print_repos(const struct config *conf, const struct config_opt *o,
    const char *key, FILE *f)
{
	size_t	 i;
	char	*q;

	if (conf->napproved == 0) {
		fprintf(f, "  %s: []\t# %s\n", key, o->help);
		return;
	}
	fprintf(f, "  %s:\t\t# %s\n", key, o->help);
	for (i = 0; i < conf->napproved; i++) {
		q = config_quote(conf->approved[i]);
		fprintf(f, "    - %s\n", q);
		free(q);
	}
}

void
config_print_branches(const struct config *conf, const struct config_opt *o,
    const char *key, FILE *f)
{
	const struct config_branches	*b;
	size_t				 i, j;
	char				*q;

	if (conf->npush_branches == 0) {
		fprintf(f, "  %s: {}\t# %s\n", key, o->help);
		return;
	}
	fprintf(f, "  %s:\t\t# %s\n", key, o->help);
	for (i = 0; i < conf->npush_branches; i++) {
		b = &conf->push_branches[i];
		if (b->npatterns == 0) {
			fprintf(f, "    %s: []\n", b->repo);
			continue;
		}
		fprintf(f, "    %s:\n", b->repo);
		for (j = 0; j < b->npatterns; j++) {
			q = config_quote(b->patterns[j]);
			fprintf(f, "      - %s\n", q);
			free(q);
		}
	}
}
