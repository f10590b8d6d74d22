/*
 * beekeeperd.yml: read with libyaml into struct config through one table
 * of options. The same table sets defaults, parses, rejects unknown keys
 * and prints the effective configuration for -n, so adding an option is
 * adding a line. Every error names the file and the line.
 *
 * Secrets are never in the YAML itself, only paths to files that must not
 * be readable by other users: the webhook secret, the GitHub token or App
 * key, and each entry of secrets:. One function reads them all with the
 * same checks; the contents are kept in the config, wiped when it is
 * freed, and never printed: -n shows a secret's file and length only.
 */

#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "daemon.h"

#define CONFIG_FILE_MAX		(1024 * 1024)
#define SECRET_FILE_MAX		4096

#define DIGITS		"0123456789"
#define ALNUM		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
			DIGITS
#define NOT_A_REPO	"is not a repository: owner/name, as in beeware/toga"

enum opt_type {
	OPT_SECTION,
	OPT_STRING,		/* .chars, if set, are all it may hold */
	OPT_ADDRESS,
	OPT_URL,
	OPT_PATH,
	OPT_SECRET_FILE,	/* its contents go to .data and .datalen */
	OPT_BOOL,
	OPT_SIZE,
	OPT_UINT,
	OPT_DURATION,
	OPT_DRIVER,
	OPT_REPO,		/* owner/name */
	OPT_ENVNAME,		/* an environment variable's name */
	OPT_PROFILES,
	OPT_REPOS,		/* projects.approved */
	OPT_BRANCHES,		/* projects.push_branches */
	OPT_VARS		/* variables:, or secrets: with OPT_SECRET */
};

#define OPT_NOSLASH	0x01	/* URL: one trailing '/' is dropped */
#define OPT_TOKEN	0x02	/* secret: one word, as it goes in a header */
#define OPT_PEM		0x04	/* secret: a PEM private key */
#define OPT_SECRET	0x08	/* secrets: rather than variables: */
#define OPT_REQUIRED	0x10	/* entry key: every entry has it */
#define OPT_VARONLY	0x20	/* entry key: in variables: only */
#define OPT_SECRETONLY	0x40	/* entry key: in secrets: only */

struct opt {
	const char	*key;		/* dotted path */
	enum opt_type	 type;
	size_t		 off;
	size_t		 data;		/* OPT_SECRET_FILE: the contents */
	size_t		 datalen;	/* and their length */
	int		 flags;
	const char	*chars;		/* OPT_STRING: allowed characters */
	const char	*chars_help;	/* what the error says if others */
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
	  .help = "GitHub: webhooks in, commit statuses out" },
	{ .key = "github.webhook_secret_file", .type = OPT_SECRET_FILE,
	  .off = OFF(webhook_secret_file), .data = OFF(webhook_secret),
	  .datalen = OFF(webhook_secret_len),
	  .def = "/etc/beekeeper/webhook-secret",
	  .help = "file holding the webhook secret" },
	{ .key = "github.legacy_signatures", .type = OPT_BOOL,
	  .off = OFF(legacy_signatures), .def = "false",
	  .help = "also accept SHA-1 X-Hub-Signature" },
	{ .key = "github.max_delivery_size", .type = OPT_SIZE,
	  .off = OFF(max_delivery_size), .def = "25M",
	  .help = "largest webhook body accepted" },
	{ .key = "github.api_url", .type = OPT_URL, .off = OFF(github_api_url),
	  .flags = OPT_NOSLASH, .def = "https://api.github.com",
	  .help = "the GitHub REST API" },
	{ .key = "github.token_file", .type = OPT_SECRET_FILE,
	  .off = OFF(github_token_file), .data = OFF(github_token),
	  .datalen = OFF(github_token_len), .flags = OPT_TOKEN,
	  .help = "file holding a token for the API" },
	{ .key = "github.app_id", .type = OPT_STRING, .off = OFF(github_app_id),
	  .chars = DIGITS, .chars_help = "is not a GitHub App ID (digits only)",
	  .help = "ID of the GitHub App to act as, instead of a token" },
	{ .key = "github.app_key_file", .type = OPT_SECRET_FILE,
	  .off = OFF(github_app_key_file), .data = OFF(github_app_key),
	  .datalen = OFF(github_app_key_len), .flags = OPT_PEM,
	  .help = "file holding the App's private key (PEM)" },
	{ .key = "github.status_context", .type = OPT_STRING,
	  .off = OFF(github_context), .chars = ALNUM "-_./:",
	  .chars_help = "may hold only letters, digits, '-', '_', '.', '/' "
	  "and ':'", .def = "beekeeper",
	  .help = "first part of every commit status context" },
	{ .key = "github.trust_forks", .type = OPT_BOOL,
	  .off = OFF(github_trust_forks), .def = "false",
	  .help = "build forks' pull requests unapproved, without secrets" },
	{ .key = "profiles", .type = OPT_PROFILES,
	  .help = "pools of machines, one per profile; see below" },
	{ .key = "projects", .type = OPT_SECTION,
	  .help = "projects that send webhooks" },
	{ .key = "projects.auto_approve", .type = OPT_BOOL,
	  .off = OFF(auto_approve), .def = "false",
	  .help = "approve a repository on its first ping" },
	{ .key = "projects.approved", .type = OPT_REPOS,
	  .help = "repositories approved by this file" },
	{ .key = "projects.push_branches", .type = OPT_BRANCHES,
	  .help = "branches whose pushes are built, by repository" },
	{ .key = "variables", .type = OPT_VARS,
	  .help = "environment of the tasks" },
	{ .key = "secrets", .type = OPT_VARS, .flags = OPT_SECRET,
	  .help = "environment of the tasks, read from files" },
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

/* The keys of an entry of variables: and of secrets:; name comes first. */
#define VOFF(f)	offsetof(struct config_var, f)
static const struct opt var_opts[] = {
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
	  .chars = ALNUM "-_./:@", .chars_help = "is not an image name "
	  "(letters, digits, '-', '_', '.', '/', ':' and '@')",
	  .help = "only for the tasks of this image" },
};
#undef VOFF

/* What beekeeperd itself sets in every task's environment. */
static const char *config_reserved[] = {
	"GITHUB_OWNER", "GITHUB_PROJECT_NAME", "GITHUB_PR_NUMBER", "SHA",
	"CODE_URL", "TASK", "PATH", "HOME", "LANG"
};

static const char *config_drivers[] = { "local" };

struct config_parse {
	const char	*file;
	yaml_document_t	 doc;
	struct config	*conf;
	char		*cause;
	u_char		 seen[nitems(config_opts)];
	size_t		 line[nitems(config_opts)];	/* where each is set */
	void		*base;		/* what .off is relative to */
	const char	*prefix;	/* of .key in errors, or NULL */
	size_t		*var_lines;	/* where each of conf->vars is */
};

static int printflike(3, 0)
config_verror(struct config_parse *p, size_t line, const char *fmt,
    va_list ap)
{
	char	*msg;

	if (p->cause != NULL)
		return (-1);
	xvasprintf(&msg, fmt, ap);
	if (line != 0)
		xasprintf(&p->cause, "%s:%zu: %s", p->file, line, msg);
	else
		xasprintf(&p->cause, "%s: %s", p->file, msg);
	free(msg);
	return (-1);
}

static int printflike(3, 4)
config_error(struct config_parse *p, yaml_node_t *node, const char *fmt, ...)
{
	va_list	 ap;
	int	 rv;

	va_start(ap, fmt);
	rv = config_verror(p, node != NULL ? node->start_mark.line + 1 : 0,
	    fmt, ap);
	va_end(ap);
	return (rv);
}

/* An error about what was set on a line, not about one node. */
static int printflike(3, 4)
config_error_at(struct config_parse *p, size_t line, const char *fmt, ...)
{
	va_list	 ap;
	int	 rv;

	va_start(ap, fmt);
	rv = config_verror(p, line, fmt, ap);
	va_end(ap);
	return (rv);
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

/* Where a key was set, 0 if it was not. */
static size_t
config_line(struct config_parse *p, const char *key)
{
	size_t	 idx;

	if (config_find(key, &idx) == NULL)
		return (0);
	return (p->line[idx]);
}

/* An empty value: "key:" with nothing after it, "~" or "null". */
static int
config_null(yaml_node_t *n)
{
	const char	*s;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return (0);
	s = (const char *)n->data.scalar.value;
	return (*s == '\0' || strcmp(s, "~") == 0 ||
	    strcasecmp(s, "null") == 0);
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

/* http:// or https://, a host, and no spaces or control characters. */
static int
config_is_url(const char *s)
{
	size_t	 n;

	if (strncmp(s, "http://", 7) == 0)
		n = 7;
	else if (strncmp(s, "https://", 8) == 0)
		n = 8;
	else
		return (0);
	if (s[n] == '\0' || s[n] == '/')
		return (0);
	for (; s[n] != '\0'; n++) {
		if ((u_char)s[n] <= ' ' || s[n] == 0x7f)
			return (0);
	}
	return (1);
}

/*
 * owner/name as GitHub allows them: an owner of letters, digits and '-',
 * a name that may also have '_' and '.' but is not "." or "..".
 */
static int
config_is_repo(const char *s)
{
	const char	*slash;
	size_t		 n;

	if ((slash = strchr(s, '/')) == NULL)
		return (0);
	n = slash - s;
	if (n == 0 || n > 39 || strspn(s, ALNUM "-") != n)
		return (0);
	s = slash + 1;
	n = strlen(s);
	if (n == 0 || n > 100 || strspn(s, ALNUM "-_.") != n)
		return (0);
	return (strcmp(s, ".") != 0 && strcmp(s, "..") != 0);
}

/* The first line of a PEM private key: -----BEGIN ... PRIVATE KEY-----. */
static int
config_is_pem(const char *s)
{
	static const char	 tail[] = "PRIVATE KEY-----";
	size_t			 n;

	if (strncmp(s, "-----BEGIN ", 11) != 0)
		return (0);
	n = strcspn(s, "\r\n");
	return (n >= 11 + sizeof tail - 1 &&
	    memcmp(s + n - (sizeof tail - 1), tail, sizeof tail - 1) == 0);
}

/*
 * Read the secret file at path into *out (NUL-terminated) and *outlen.
 * It must be a regular file that only its owner can read or write:
 * anything else means the secret may already be known to others. Every
 * secret goes through here; flags add what one kind must look like. No
 * error says anything of the contents.
 */
static int
config_read_secret(struct config_parse *p, yaml_node_t *node,
    const char *key, const char *path, int flags, char **out, size_t *outlen)
{
	struct stat	 sb;
	char		*cause = NULL, *s;
	size_t		 len, i;

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
	if ((flags & OPT_PEM) && !config_is_pem(s)) {
		freezero(s, len + 1);
		return (config_error(p, node, "%s: %s is not a PEM private key "
		    "(its first line must be -----BEGIN ... PRIVATE KEY-----)",
		    key, path));
	}
	if (flags & OPT_TOKEN) {
		for (i = 0; i < len; i++) {
			if ((u_char)s[i] <= ' ' || s[i] == 0x7f)
				break;
		}
		if (i != len) {
			freezero(s, len + 1);
			return (config_error(p, node, "%s: %s must hold the "
			    "token alone, one line with no spaces", key, path));
		}
	}
	*out = s;
	*outlen = len;
	return (0);
}

static int
config_set_value(struct config_parse *p, const struct opt *o,
    const char *key, yaml_node_t *node, const char *value)
{
	char		 *base = p->base;
	char		**sp = (char **)(base + o->off);
	int		 *ip = (int *)(base + o->off);
	uint64_t	 *up = (uint64_t *)(base + o->off);
	u_int		 *uip = (u_int *)(base + o->off);
	char		**dp;
	size_t		 *lp;
	const char	 *errstr;
	char		 *host, *port, *end;
	unsigned long	  ul;
	size_t		  i, len = strlen(value);

	switch (o->type) {
	case OPT_SECTION:
	case OPT_PROFILES:
	case OPT_REPOS:
	case OPT_BRANCHES:
	case OPT_VARS:
		return (config_error(p, node, "%s: is not a single value",
		    key));
	case OPT_UINT:
		errno = 0;
		ul = strtoul(value, &end, 10);
		if (*value < '0' || *value > '9' || *end != '\0' ||
		    errno != 0 || ul > 100000)
			return (config_error(p, node, "%s: '%s' is not a whole "
			    "number from 0 to 100000", key, value));
		*uip = ul;
		return (0);
	case OPT_DURATION:
		if (util_parse_duration(value, up, &errstr) != 0)
			return (config_error(p, node, "%s: '%s': %s", key,
			    value, errstr));
		return (0);
	case OPT_DRIVER:
		for (i = 0; i < nitems(config_drivers); i++) {
			if (strcmp(value, config_drivers[i]) == 0)
				break;
		}
		if (i == nitems(config_drivers))
			return (config_error(p, node, "%s: unknown driver "
			    "'%s' (this beekeeperd has: local)", key, value));
		break;
	case OPT_BOOL:
		if (util_parse_bool(value, ip) != 0)
			return (config_error(p, node, "%s: '%s' is not a "
			    "boolean (true or false)", key, value));
		return (0);
	case OPT_SIZE:
		if (util_parse_size(value, 1ULL << 40, up, &errstr) != 0)
			return (config_error(p, node, "%s: '%s': %s", key,
			    value, errstr));
		if (*up == 0)
			return (config_error(p, node, "%s: must not be 0",
			    key));
		return (0);
	case OPT_ADDRESS:
		if (config_split_address(value, &host, &port, &errstr) != 0)
			return (config_error(p, node, "%s: '%s': %s", key,
			    value, errstr));
		free(p->conf->listen_host);
		free(p->conf->listen_port);
		p->conf->listen_host = host;
		p->conf->listen_port = port;
		break;
	case OPT_URL:
		if (!config_is_url(value))
			return (config_error(p, node, "%s: '%s' is not an "
			    "http:// or https:// URL", key, value));
		if ((o->flags & OPT_NOSLASH) && value[len - 1] == '/')
			len--;
		break;
	case OPT_PATH:
	case OPT_SECRET_FILE:
		if (*value != '/')
			return (config_error(p, node, "%s: '%s' is not an "
			    "absolute path", key, value));
		if (len >= PATH_MAX)
			return (config_error(p, node, "%s: path too long",
			    key));
		break;
	case OPT_REPO:
		if (!config_is_repo(value))
			return (config_error(p, node, "%s: '%s' " NOT_A_REPO,
			    key, value));
		break;
	case OPT_ENVNAME:
		if (len == 0 || strspn(value, ALNUM "_") != len ||
		    (*value >= '0' && *value <= '9'))
			return (config_error(p, node, "%s: '%s' is not a "
			    "variable name (letters, digits and '_', not "
			    "starting with a digit)", key, value));
		break;
	case OPT_STRING:
		if (o->chars != NULL &&
		    (len == 0 || strspn(value, o->chars) != len))
			return (config_error(p, node, "%s: '%s' %s", key, value,
			    o->chars_help));
		break;
	}
	free(*sp);
	*sp = xstrndup(value, len);
	if (o->type != OPT_SECRET_FILE)
		return (0);
	dp = (char **)(base + o->data);
	lp = (size_t *)(base + o->datalen);
	freezero(*dp, *lp);
	*dp = NULL;
	*lp = 0;
	return (config_read_secret(p, node, key, value, o->flags, dp, lp));
}

/* Set an option of p->base; errors name it under p->prefix. */
static int
config_set(struct config_parse *p, const struct opt *o, yaml_node_t *node,
    const char *value)
{
	char	*key;
	int	 rv;

	if (p->prefix != NULL)
		xasprintf(&key, "%s.%s", p->prefix, o->key);
	else
		key = xstrdup(o->key);
	rv = config_set_value(p, o, key, node, value);
	free(key);
	return (rv);
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
static int
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
		    strspn(name, ALNUM "-_.") != strlen(name))
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

/* projects.approved: a list of owner/name. */
static int
config_repos(struct config_parse *p, const struct opt *o, yaml_node_t *seq)
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
			return (config_error(p, n, "%s: '%s' " NOT_A_REPO,
			    o->key, s));
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
config_pattern_add(struct config_parse *p, const struct opt *o,
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
static int
config_branches(struct config_parse *p, const struct opt *o,
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
			return (config_error(p, k, "%s: '%s' " NOT_A_REPO,
			    o->key, repo));
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
config_var_parse(struct config_parse *p, const struct opt *o,
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
config_var_check(struct config_parse *p, const struct opt *o,
    struct config_var *v, size_t line)
{
	const struct config_var	*w;
	size_t			 i;

	for (i = 0; i < nitems(config_reserved); i++) {
		if (strcmp(v->name, config_reserved[i]) == 0)
			return (config_error_at(p, line, "%s.name: %s is set "
			    "by beekeeperd for every task", o->key, v->name));
	}
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
 * conf->vars; config_finish puts the variables before the secrets.
 */
static int
config_vars(struct config_parse *p, const struct opt *o, yaml_node_t *seq)
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
		p->line[idx] = k->start_mark.line + 1;
		switch (o->type) {
		case OPT_PROFILES:
			rv = config_profiles(p, v);
			break;
		case OPT_REPOS:
			rv = config_repos(p, o, v);
			break;
		case OPT_BRANCHES:
			rv = config_branches(p, o, v);
			break;
		case OPT_VARS:
			rv = config_vars(p, o, v);
			break;
		case OPT_SECTION:
			if (v->type != YAML_MAPPING_NODE)
				rv = config_error(p, v, "%s: must be a mapping",
				    path);
			else
				rv = config_walk(p, v, path);
			break;
		default:
			if (v->type != YAML_SCALAR_NODE) {
				rv = config_error(p, v, "%s: must be a single "
				    "value, not a list or mapping", path);
				break;
			}
			value = (const char *)v->data.scalar.value;
			rv = config_set(p, o, v, value);
			break;
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
 * The daemon reports to GitHub with a token or as a GitHub App, or not
 * at all; with both it could not say which one speaks for it.
 */
static int
config_check_github(struct config_parse *p)
{
	const struct config	*c = p->conf;

	if (c->github_token_file != NULL &&
	    (c->github_app_id != NULL || c->github_app_key_file != NULL))
		return (config_error_at(p, config_line(p, "github.token_file"),
		    "set either github.token_file or github.app_id with "
		    "github.app_key_file, not both"));
	if (c->github_app_id != NULL && c->github_app_key_file == NULL)
		return (config_error_at(p, config_line(p, "github.app_id"),
		    "github.app_id: a GitHub App also needs "
		    "github.app_key_file, its private key"));
	if (c->github_app_id == NULL && c->github_app_key_file != NULL)
		return (config_error_at(p, config_line(p,
		    "github.app_key_file"), "github.app_key_file: a GitHub App "
		    "also needs github.app_id, its ID"));
	return (0);
}

/* Variables first, then secrets, each in file order. */
static void
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
	if (rv == 0)
		rv = config_check_github(&p);
	if (rv == 0)
		config_order_vars(p.conf);

out:
	free(text);
	free(p.var_lines);
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
	struct config_branches	*b;
	size_t			 i, j;

	if (conf == NULL)
		return;
	for (i = 0; i < nitems(config_opts); i++) {
		o = &config_opts[i];
		switch (o->type) {
		case OPT_SECRET_FILE:
			freezero(*(char **)((char *)conf + o->data),
			    *(size_t *)((char *)conf + o->datalen));
			/* FALLTHROUGH */
		case OPT_STRING:
		case OPT_ADDRESS:
		case OPT_URL:
		case OPT_PATH:
		case OPT_REPO:
		case OPT_ENVNAME:
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
	for (i = 0; i < conf->nvars; i++)
		config_var_release(&conf->vars[i]);
	free(conf->vars);
	free(conf->listen_host);
	free(conf->listen_port);
	free(conf->path);
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

/*
 * YAML reads NEL, LS and PS as line breaks, even inside a quoted value:
 * the escape that keeps one, or NULL if u does not start one.
 */
static const char *
config_unicode_break(const u_char *u)
{
	if (u[0] == 0xc2 && u[1] == 0x85)
		return ("\\N");
	if (u[0] == 0xe2 && u[1] == 0x80 && (u[2] == 0xa8 || u[2] == 0xa9))
		return (u[2] == 0xa8 ? "\\L" : "\\P");
	return (NULL);
}

/*
 * A value as YAML reads it back: plain when that is unambiguous, else
 * double-quoted with escapes, so that -n output is itself a config.
 */
static char *
config_quote(const char *s)
{
	struct buf	 b;
	const u_char	*u;
	const char	*esc;
	size_t		 len = strlen(s);
	int		 plain;

	plain = len != 0 && strchr("[]{}!&*#|>'\"%@`,?:- \t", *s) == NULL &&
	    s[len - 1] != ' ' && s[len - 1] != ':' &&
	    strstr(s, ": ") == NULL && strstr(s, " #") == NULL;
	for (u = (const u_char *)s; *u != '\0' && plain; u++) {
		if (*u < ' ' || *u == 0x7f || config_unicode_break(u) != NULL)
			plain = 0;
	}
	if (plain)
		return (xstrdup(s));
	buf_init(&b, 0);
	buf_addstr(&b, "\"");
	for (u = (const u_char *)s; *u != '\0'; u++) {
		if (*u == '"' || *u == '\\')
			buf_printf(&b, "\\%c", *u);
		else if (*u == '\n')
			buf_addstr(&b, "\\n");
		else if (*u == '\t')
			buf_addstr(&b, "\\t");
		else if (*u < ' ' || *u == 0x7f)
			buf_printf(&b, "\\x%02x", *u);
		else if ((esc = config_unicode_break(u)) != NULL) {
			buf_addstr(&b, esc);
			u += (*u == 0xc2 ? 1 : 2);
		} else
			buf_add(&b, u, 1);
	}
	buf_addstr(&b, "\"");
	return (buf_detach(&b, NULL));
}

/*
 * A scalar option of base as it is printed, or NULL when it is not set.
 * For a secret file that is the path: what it holds is never printed.
 */
static char *
config_value(const void *base, const struct opt *o)
{
	const char	*p = base;
	const char	*s;
	char		*v;

	switch (o->type) {
	case OPT_BOOL:
		return (xstrdup(*(const int *)(p + o->off) ? "true" : "false"));
	case OPT_SIZE:
		xasprintf(&v, "%llu", (unsigned long long)
		    *(const uint64_t *)(p + o->off));
		return (v);
	case OPT_UINT:
		xasprintf(&v, "%u", *(const u_int *)(p + o->off));
		return (v);
	case OPT_DURATION:
		xasprintf(&v, "%llums", (unsigned long long)
		    *(const uint64_t *)(p + o->off));
		return (v);
	default:
		if ((s = *(char *const *)(p + o->off)) == NULL)
			return (NULL);
		return (config_quote(s));
	}
}

/* How much of a secret was read, for the -n comment. */
static size_t
config_secret_len(const void *base, const struct opt *o)
{
	return (*(const size_t *)((const char *)base + o->datalen));
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
			v = config_value(pr, o);
			fprintf(f, "    %s: %s\t# %s\n", o->key, v, o->help);
			free(v);
		}
	}
}

static void
config_print_repos(const struct config *conf, const struct opt *o,
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

static void
config_print_branches(const struct config *conf, const struct opt *o,
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

/*
 * The entries of variables: or of secrets:. A secret shows its file and
 * length, never its value: "value" is not a key of a secrets: entry.
 */
static void
config_print_vars(const struct config *conf, const struct opt *o, FILE *f)
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

/* Print the effective configuration as YAML, with each option's help. */
void
config_print(const struct config *conf, FILE *f)
{
	const struct opt	*o;
	const char		*key, *dot, *indent;
	char			*value;
	size_t			 i;

	fprintf(f, "# effective configuration of %s\n", conf->path);
	for (i = 0; i < nitems(config_opts); i++) {
		o = &config_opts[i];
		dot = strrchr(o->key, '.');
		key = dot != NULL ? dot + 1 : o->key;
		indent = dot != NULL ? "  " : "";
		switch (o->type) {
		case OPT_SECTION:
			fprintf(f, "%s:\t\t\t# %s\n", key, o->help);
			continue;
		case OPT_PROFILES:
			config_print_profiles(conf, o, f);
			continue;
		case OPT_REPOS:
			config_print_repos(conf, o, key, f);
			continue;
		case OPT_BRANCHES:
			config_print_branches(conf, o, key, f);
			continue;
		case OPT_VARS:
			config_print_vars(conf, o, f);
			continue;
		default:
			break;
		}
		if ((value = config_value(conf, o)) == NULL) {
			fprintf(f, "%s# %s:\t\t# %s (not set)\n", indent, key,
			    o->help);
			continue;
		}
		fprintf(f, "%s%s: %s\t# %s", indent, key, value, o->help);
		if (o->type == OPT_SECRET_FILE)
			fprintf(f, " (secret read, %zu bytes, not shown)",
			    config_secret_len(conf, o));
		fputc('\n', f);
		free(value);
	}
}
