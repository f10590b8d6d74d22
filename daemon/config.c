/*
 * beekeeperd.yml: read with libyaml into struct config through one table
 * of options. The same table sets defaults, parses, rejects unknown keys
 * and prints the effective configuration for -n, so adding an option is
 * adding a line. Every error names the file and the line.
 *
 * Secrets are never in the YAML itself, only paths to files that must not
 * be readable by other users; their contents are read here, kept in the
 * config and wiped when it is freed.
 */

#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "daemon.h"

#define CONFIG_FILE_MAX		(1024 * 1024)
#define SECRET_FILE_MAX		4096

enum opt_type {
	OPT_SECTION,
	OPT_STRING,
	OPT_ADDRESS,
	OPT_URL,
	OPT_PATH,
	OPT_SECRET_FILE,
	OPT_BOOL,
	OPT_SIZE,
	OPT_UINT,
	OPT_DURATION,
	OPT_DRIVER,
	OPT_PROFILES
};

struct opt {
	const char	*key;		/* dotted path */
	enum opt_type	 type;
	size_t		 off;
	const char	*def;		/* NULL: computed or none */
	const char	*help;
};

#define OFF(f)	offsetof(struct config, f)
static const struct opt config_opts[] = {
	{ .key = "listen", .type = OPT_ADDRESS, .off = OFF(listen),
	  .def = "127.0.0.1:8080",
	  .help = "address and port of the HTTP server" },
	{ .key = "public_url", .type = OPT_URL, .off = OFF(public_url),
	  .help = "URL at which GitHub and users reach the HTTP server" },
	{ .key = "state_dir", .type = OPT_PATH, .off = OFF(state_dir),
	  .def = "/var/lib/beekeeper",
	  .help = "directory of the store, beekeeper.db" },
	{ .key = "pid_file", .type = OPT_PATH, .off = OFF(pid_file),
	  .help = "pid file, also a lock against a second daemon" },
	{ .key = "github", .type = OPT_SECTION,
	  .help = "GitHub webhooks" },
	{ .key = "github.webhook_secret_file", .type = OPT_SECRET_FILE,
	  .off = OFF(webhook_secret_file),
	  .def = "/etc/beekeeper/webhook-secret",
	  .help = "file holding the webhook secret" },
	{ .key = "github.legacy_signatures", .type = OPT_BOOL,
	  .off = OFF(legacy_signatures), .def = "false",
	  .help = "also accept SHA-1 X-Hub-Signature" },
	{ .key = "github.max_delivery_size", .type = OPT_SIZE,
	  .off = OFF(max_delivery_size), .def = "25M",
	  .help = "largest webhook body accepted" },
	{ .key = "profiles", .type = OPT_PROFILES,
	  .help = "pools of machines, one per profile; see below" },
	{ .key = "projects", .type = OPT_SECTION,
	  .help = "projects that send webhooks" },
	{ .key = "projects.auto_approve", .type = OPT_BOOL,
	  .off = OFF(auto_approve), .def = "false",
	  .help = "approve a repository on its first ping" },
};
#undef OFF

/* The keys of each profile under profiles:, with their defaults. */
#define POFF(f)	offsetof(struct profile, f)
static const struct opt profile_opts[] = {
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

static const char *config_drivers[] = { "local" };

struct config_parse {
	const char	*file;
	yaml_document_t	 doc;
	struct config	*conf;
	char		*cause;
	u_char		 seen[nitems(config_opts)];
	void		*base;		/* what .off is relative to */
};

static int printflike(3, 4)
config_error(struct config_parse *p, yaml_node_t *node, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	if (p->cause != NULL)
		return (-1);
	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	if (node != NULL)
		xasprintf(&p->cause, "%s:%zu: %s", p->file,
		    node->start_mark.line + 1, msg);
	else
		xasprintf(&p->cause, "%s: %s", p->file, msg);
	free(msg);
	return (-1);
}

static const struct opt *
config_find(const char *key, size_t *idx)
{
	size_t	 i;

	for (i = 0; i < nitems(config_opts); i++) {
		if (strcmp(config_opts[i].key, key) == 0) {
			*idx = i;
			return (&config_opts[i]);
		}
	}
	return (NULL);
}

/* Split host:port; IPv6 hosts are in brackets. */
static int
config_split_address(const char *s, char **host, char **port,
    const char **errstr)
{
	const char	*colon, *end;
	char		*e;
	long		 n;

	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':') {
			*errstr = "expected [IPv6]:PORT";
			return (-1);
		}
		*host = xstrndup(s + 1, end - s - 1);
		colon = end + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL || colon == s) {
			*errstr = "expected HOST:PORT, e.g. 127.0.0.1:8080";
			return (-1);
		}
		*host = xstrndup(s, colon - s);
	}
	errno = 0;
	n = strtol(colon + 1, &e, 10);
	if (colon[1] == '\0' || *e != '\0' || errno != 0 || n < 0 ||
	    n > 65535) {
		free(*host);
		*host = NULL;
		*errstr = "port must be a number from 0 to 65535";
		return (-1);
	}
	*port = xstrdup(colon + 1);
	return (0);
}

/*
 * A secret file must be a regular file that only its owner can read or
 * write: anything else means the secret may already be known to others.
 */
static int
config_read_secret(struct config_parse *p, yaml_node_t *node,
    const char *path)
{
	struct config	*conf = p->conf;
	struct stat	 sb;
	char		*cause = NULL, *s;
	size_t		 len;

	if (stat(path, &sb) != 0)
		return (config_error(p, node, "%s: %s", path,
		    strerror(errno)));
	if (!S_ISREG(sb.st_mode))
		return (config_error(p, node, "%s: not a regular file", path));
	if ((sb.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		return (config_error(p, node, "%s: secret file is %s other "
		    "users (mode %04o); run chmod 600 %s", path,
		    (sb.st_mode & (S_IRGRP | S_IROTH)) ? "readable by" :
		    "accessible to", (u_int)(sb.st_mode & 07777), path));
	}
	if ((s = util_read_file(path, SECRET_FILE_MAX, &len, &cause)) == NULL) {
		config_error(p, node, "%s", cause);
		free(cause);
		return (-1);
	}
	/* Trailing newlines are how editors and echo leave the file. */
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		s[--len] = '\0';
	if (len == 0) {
		freezero(s, len + 1);
		return (config_error(p, node, "%s: secret file is empty",
		    path));
	}
	freezero(conf->webhook_secret, conf->webhook_secret_len);
	conf->webhook_secret = s;
	conf->webhook_secret_len = len;
	return (0);
}

static int
config_set(struct config_parse *p, const struct opt *o, yaml_node_t *node,
    const char *value)
{
	char		**sp = (char **)((char *)p->base + o->off);
	int		 *ip = (int *)((char *)p->base + o->off);
	uint64_t	 *up = (uint64_t *)((char *)p->base + o->off);
	u_int		 *uip = (u_int *)((char *)p->base + o->off);
	const char	 *errstr;
	char		 *host, *port, *end;
	unsigned long	  ul;
	size_t		  i;

	switch (o->type) {
	case OPT_SECTION:
	case OPT_PROFILES:
		return (config_error(p, node, "%s: must be a mapping", o->key));
	case OPT_UINT:
		errno = 0;
		ul = strtoul(value, &end, 10);
		if (*value < '0' || *value > '9' || *end != '\0' ||
		    errno != 0 || ul > 100000)
			return (config_error(p, node, "%s: '%s' is not a whole "
			    "number from 0 to 100000", o->key, value));
		*uip = ul;
		return (0);
	case OPT_DURATION:
		if (util_parse_duration(value, up, &errstr) != 0)
			return (config_error(p, node, "%s: '%s': %s", o->key,
			    value, errstr));
		return (0);
	case OPT_DRIVER:
		for (i = 0; i < nitems(config_drivers); i++) {
			if (strcmp(value, config_drivers[i]) == 0)
				break;
		}
		if (i == nitems(config_drivers))
			return (config_error(p, node, "%s: unknown driver "
			    "'%s' (this beekeeperd has: local)", o->key,
			    value));
		break;
	case OPT_BOOL:
		if (util_parse_bool(value, ip) != 0)
			return (config_error(p, node, "%s: '%s' is not a "
			    "boolean (true or false)", o->key, value));
		return (0);
	case OPT_SIZE:
		if (util_parse_size(value, 1ULL << 40, up, &errstr) != 0)
			return (config_error(p, node, "%s: '%s': %s", o->key,
			    value, errstr));
		if (*up == 0)
			return (config_error(p, node, "%s: must not be 0",
			    o->key));
		return (0);
	case OPT_ADDRESS:
		if (config_split_address(value, &host, &port, &errstr) != 0)
			return (config_error(p, node, "%s: '%s': %s", o->key,
			    value, errstr));
		free(p->conf->listen_host);
		free(p->conf->listen_port);
		p->conf->listen_host = host;
		p->conf->listen_port = port;
		break;
	case OPT_URL:
		if (strncmp(value, "http://", 7) != 0 &&
		    strncmp(value, "https://", 8) != 0)
			return (config_error(p, node, "%s: '%s' is not an "
			    "http:// or https:// URL", o->key, value));
		break;
	case OPT_PATH:
	case OPT_SECRET_FILE:
		if (*value != '/')
			return (config_error(p, node, "%s: '%s' is not an "
			    "absolute path", o->key, value));
		if (strlen(value) >= PATH_MAX)
			return (config_error(p, node, "%s: path too long",
			    o->key));
		break;
	case OPT_STRING:
		break;
	}
	free(*sp);
	*sp = xstrdup(value);
	if (o->type == OPT_SECRET_FILE)
		return (config_read_secret(p, node, value));
	return (0);
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

/*
 * profiles: a mapping of names the operator chooses to mappings of
 * profile_opts. A pool named "default" always exists: tasks that name
 * no profile run there.
 */
static int
config_profiles(struct config_parse *p, yaml_node_t *map)
{
	yaml_node_pair_t	*pair, *pp;
	yaml_node_t		*k, *v, *pk, *pv;
	struct profile		*pr;
	const char		*name, *key;
	u_char			 seen[nitems(profile_opts)];
	size_t			 i, j;

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
		if (*name == '\0' || strspn(name, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != strlen(name))
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
		for (pp = v->data.mapping.pairs.start;
		    pp < v->data.mapping.pairs.top; pp++) {
			pk = yaml_document_get_node(&p->doc, pp->key);
			pv = yaml_document_get_node(&p->doc, pp->value);
			if (pk == NULL || pv == NULL ||
			    pk->type != YAML_SCALAR_NODE)
				return (config_error(p, pk, "keys must be "
				    "plain words"));
			key = (const char *)pk->data.scalar.value;
			for (j = 0; j < nitems(profile_opts); j++) {
				if (strcmp(profile_opts[j].key, key) == 0)
					break;
			}
			if (j == nitems(profile_opts))
				return (config_error(p, pk, "unknown key "
				    "'profiles.%s.%s'", name, key));
			if (seen[j]++)
				return (config_error(p, pk, "'profiles.%s.%s' "
				    "is set twice", name, key));
			if (pv->type != YAML_SCALAR_NODE)
				return (config_error(p, pv, "profiles.%s.%s: "
				    "must be a single value", name, key));
			p->base = pr;
			if (config_set(p, &profile_opts[j], pv,
			    (const char *)pv->data.scalar.value) != 0)
				return (-1);
			p->base = p->conf;
		}
		if (config_profile_defaults(p, pr, seen, k) != 0)
			return (-1);
	}
	return (0);
}

static int
config_walk(struct config_parse *p, yaml_node_t *map, const char *prefix)
{
	yaml_node_pair_t	*pair;
	yaml_node_t		*k, *v;
	const struct opt	*o;
	const char		*key, *value;
	char			*path;
	size_t			 idx;
	int			 rv = 0;

	if (map->type != YAML_MAPPING_NODE)
		return (config_error(p, map, "%s must be a mapping of keys to "
		    "values", *prefix == '\0' ? "the file" : prefix));
	for (pair = map->data.mapping.pairs.start;
	    pair < map->data.mapping.pairs.top && rv == 0; pair++) {
		k = yaml_document_get_node(&p->doc, pair->key);
		v = yaml_document_get_node(&p->doc, pair->value);
		if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE)
			return (config_error(p, k, "keys must be plain words"));
		key = (const char *)k->data.scalar.value;
		if (*prefix != '\0')
			xasprintf(&path, "%s.%s", prefix, key);
		else
			path = xstrdup(key);
		if ((o = config_find(path, &idx)) == NULL) {
			rv = config_error(p, k, "unknown key '%s'", path);
			free(path);
			break;
		}
		if (p->seen[idx]) {
			rv = config_error(p, k, "'%s' is set twice", path);
			free(path);
			break;
		}
		p->seen[idx] = 1;
		if (o->type == OPT_PROFILES)
			rv = config_profiles(p, v);
		else if (o->type == OPT_SECTION) {
			if (v->type != YAML_MAPPING_NODE)
				rv = config_error(p, v, "%s: must be a mapping",
				    path);
			else
				rv = config_walk(p, v, path);
		} else if (v->type != YAML_SCALAR_NODE) {
			rv = config_error(p, v, "%s: must be a single value, "
			    "not a list or mapping", path);
		} else {
			value = (const char *)v->data.scalar.value;
			rv = config_set(p, o, v, value);
		}
		free(path);
	}
	return (rv);
}

static int
config_defaults(struct config_parse *p)
{
	const struct opt	*o;
	size_t			 i;

	u_char			 none[nitems(profile_opts)];
	struct profile		*pr;

	for (i = 0; i < nitems(config_opts); i++) {
		o = &config_opts[i];
		if (p->seen[i] || o->def == NULL || o->type == OPT_SECTION)
			continue;
		if (config_set(p, o, NULL, o->def) != 0)
			return (-1);
	}
	if (config_profile(p->conf, "default") == NULL) {
		memset(none, 0, sizeof none);
		pr = config_profile_add(p->conf, "default");
		if (config_profile_defaults(p, pr, none, NULL) != 0)
			return (-1);
	}
	if (p->conf->public_url == NULL) {
		xasprintf(&p->conf->public_url, "http://%s",
		    p->conf->listen);
		p->conf->public_url_derived = 1;
	}
	if (p->conf->pid_file == NULL)
		xasprintf(&p->conf->pid_file, "%s/beekeeperd.pid",
		    p->conf->state_dir);
	return (0);
}

/*
 * Load and check a configuration file. Returns NULL with *cause set to
 * "FILE:LINE: reason" (the caller frees it) if anything is wrong.
 */
struct config *
config_load(const char *file, char **cause)
{
	struct config_parse	 p;
	yaml_parser_t		 parser;
	yaml_node_t		*root;
	char			*text, *err = NULL;
	size_t			 len;
	int			 rv = -1;

	memset(&p, 0, sizeof p);
	p.file = file;
	if ((text = util_read_file(file, CONFIG_FILE_MAX, &len, &err)) ==
	    NULL) {
		*cause = err;
		return (NULL);
	}
	p.conf = xcalloc(1, sizeof *p.conf);
	p.base = p.conf;
	p.conf->path = xstrdup(file);

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const u_char *)text, len);
	if (!yaml_parser_load(&parser, &p.doc)) {
		xasprintf(&p.cause, "%s:%zu: %s%s%s", file,
		    parser.problem_mark.line + 1,
		    parser.problem != NULL ? parser.problem : "invalid YAML",
		    parser.context != NULL ? " " : "",
		    parser.context != NULL ? parser.context : "");
		yaml_parser_delete(&parser);
		goto out;
	}
	yaml_parser_delete(&parser);
	root = yaml_document_get_root_node(&p.doc);
	if (root != NULL && !(root->type == YAML_SCALAR_NODE &&
	    root->data.scalar.length == 0))
		rv = config_walk(&p, root, "");
	else
		rv = 0;		/* an empty file means every default */
	yaml_document_delete(&p.doc);
	if (rv == 0)
		rv = config_defaults(&p);

out:
	free(text);
	if (rv != 0 || p.cause != NULL) {
		config_free(p.conf);
		*cause = p.cause;
		return (NULL);
	}
	return (p.conf);
}

void
config_free(struct config *conf)
{
	const struct opt	*o;
	size_t			 i;

	if (conf == NULL)
		return;
	for (i = 0; i < nitems(config_opts); i++) {
		o = &config_opts[i];
		switch (o->type) {
		case OPT_STRING:
		case OPT_ADDRESS:
		case OPT_URL:
		case OPT_PATH:
		case OPT_SECRET_FILE:
			free(*(char **)((char *)conf + o->off));
			break;
		default:
			break;
		}
	}
	for (i = 0; i < conf->nprofiles; i++) {
		free(conf->profiles[i].name);
		free(conf->profiles[i].driver);
	}
	free(conf->profiles);
	free(conf->listen_host);
	free(conf->listen_port);
	free(conf->path);
	freezero(conf->webhook_secret, conf->webhook_secret_len);
	free(conf);
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

static void
config_print_profiles(const struct config *conf, const struct opt *o,
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
			switch (o->type) {
			case OPT_UINT:
				xasprintf(&v, "%u", *(const u_int *)
				    ((const char *)pr + o->off));
				break;
			case OPT_DURATION:
				xasprintf(&v, "%llums", (unsigned long long)
				    *(const uint64_t *)((const char *)pr +
				    o->off));
				break;
			default:
				v = xstrdup(*(char *const *)((const char *)pr +
				    o->off));
				break;
			}
			fprintf(f, "    %s: %s\t# %s\n", o->key, v, o->help);
			free(v);
		}
	}
}

/* Quote a value that YAML would otherwise read as something else. */
static char *
config_quote(const char *s)
{
	char	*q;

	if (strchr("[]{}!&*#|>'\"%@`,?:-", *s) == NULL &&
	    strstr(s, ": ") == NULL && strstr(s, " #") == NULL)
		return (xstrdup(s));
	if (strchr(s, '\'') != NULL) {
		xasprintf(&q, "\"%s\"", s);
		return (q);
	}
	xasprintf(&q, "'%s'", s);
	return (q);
}

/* Print the effective configuration as YAML, with each option's help. */
void
config_print(const struct config *conf, FILE *f)
{
	const struct opt	*o;
	const char		*key, *dot;
	char			*value;
	size_t			 i;
	int			 nested;

	fprintf(f, "# effective configuration of %s\n", conf->path);
	for (i = 0; i < nitems(config_opts); i++) {
		o = &config_opts[i];
		dot = strrchr(o->key, '.');
		key = dot != NULL ? dot + 1 : o->key;
		nested = dot != NULL;
		if (o->type == OPT_SECTION) {
			fprintf(f, "%s:\t\t\t# %s\n", key, o->help);
			continue;
		}
		if (o->type == OPT_PROFILES) {
			config_print_profiles(conf, o, f);
			continue;
		}
		value = NULL;
		switch (o->type) {
		case OPT_BOOL:
			value = xstrdup(*(const int *)((const char *)conf +
			    o->off) ? "true" : "false");
			break;
		case OPT_SIZE:
			xasprintf(&value, "%llu", (unsigned long long)
			    *(const uint64_t *)((const char *)conf + o->off));
			break;
		default:
			value = config_quote(*(char *const *)((const char *)
			    conf + o->off));
			break;
		}
		fprintf(f, "%s%s: %s\t# %s", nested ? "  " : "", key, value,
		    o->help);
		if (o->type == OPT_SECRET_FILE)
			fprintf(f, " (secret read, %zu bytes, not shown)",
			    conf->webhook_secret_len);
		fputc('\n', f);
		free(value);
	}
}
