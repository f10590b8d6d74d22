/*
 * beekeeperd.yml: read with libyaml into struct config through one table
 * of options. The same table sets defaults, parses, rejects unknown keys
 * and prints the effective configuration for -n, so adding an option is
 * adding a line. Every error names the file and the line.
 *
 * This file owns the table, the walk of the file, the defaults, the
 * checks across options, and loading, freeing and printing a config.
 * One value is checked, stored and printed in config-value.c, secret
 * files too; the options that are more than one value have files of
 * their own: config-profiles.c (with aws.prices), config-projects.c and
 * config-vars.c.
 *
 * Some defaults are computed: public_url and pid_file from other keys,
 * aws.region from the environment as the AWS tools read it, and
 * aws.daemon_name from the host name. -n prints what they came to, so
 * that its output, read back, means the same on this machine.
 */

#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "daemon.h"
#include "proto.h"

#define CONFIG_FILE_MAX		(1024 * 1024)

#define DIGITS		"0123456789"
#define REGION_CHARS	"abcdefghijklmnopqrstuvwxyz" DIGITS "-"
#define DAEMON_CHARS	CONFIG_ALNUM "_.-"
#define DAEMON_NAME_MAX	255		/* a tag value is at most 256 */
#define CLUSTER_MAX	255
#define LOG_GROUP_MAX	512
#define LEASE_MIN_MS	(2 * 60 * 1000)

#define OFF(f)	offsetof(struct config, f)
static const struct config_opt config_opts[] = {
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
	  .off = OFF(github_context), .chars = CONFIG_ALNUM "-_./:",
	  .chars_help = "may hold only letters, digits, '-', '_', '.', '/' "
	  "and ':'", .def = "beekeeper",
	  .help = "first part of every commit status context" },
	{ .key = "github.trust_forks", .type = OPT_BOOL,
	  .off = OFF(github_trust_forks), .def = "false",
	  .help = "build forks' pull requests unapproved, without secrets" },
	{ .key = "bus", .type = OPT_SECTION,
	  .help = "live state and control over ZeroMQ" },
	{ .key = "bus.publish", .type = OPT_ENDPOINT, .off = OFF(bus_publish),
	  .def = PROTO_PUBLISH_DEFAULT,
	  .help = "where every change is published (PUB)" },
	{ .key = "bus.control", .type = OPT_ENDPOINT, .off = OFF(bus_control),
	  .def = PROTO_CONTROL_DEFAULT,
	  .help = "where requests and commands are answered (ROUTER)" },
	{ .key = "bus.curve_secret_key_file", .type = OPT_SECRET_FILE,
	  .off = OFF(bus_curve_key_file), .data = OFF(bus_curve_key),
	  .datalen = OFF(bus_curve_key_len), .flags = OPT_CURVE,
	  .help = "the daemon's CURVE key pair (beekeeper keygen)" },
	{ .key = "bus.clients_file", .type = OPT_PATH,
	  .off = OFF(bus_clients_file),
	  .help = "CURVE public keys that may connect, with names and roles" },
	{ .key = "bus.unauthenticated_remote", .type = OPT_BOOL,
	  .off = OFF(bus_unauthenticated_remote), .def = "false",
	  .help = "without CURVE, bind beyond loopback all the same" },
	{ .key = "aws", .type = OPT_SECTION,
	  .help = "AWS, for the pools of driver aws" },
	{ .key = "aws.region", .type = OPT_STRING, .off = OFF(aws_region),
	  .chars = REGION_CHARS, .chars_help = "is not a region (lowercase "
	  "letters, digits and '-', as in eu-west-1)",
	  .help = "AWS region, else AWS_REGION or AWS_DEFAULT_REGION" },
	{ .key = "aws.endpoint_url", .type = OPT_URL,
	  .off = OFF(aws_endpoint_url), .flags = OPT_NOSLASH,
	  .help = "one endpoint for EC2, ECS and CloudWatch Logs, else AWS's" },
	{ .key = "aws.profile", .type = OPT_STRING, .off = OFF(aws_profile),
	  .chars = CONFIG_ALNUM "-_.@+=,:/", .chars_help = "is not a profile "
	  "name (letters, digits and '-_.@+=,:/')",
	  .help = "profile of the shared files, else AWS_PROFILE or default" },
	{ .key = "aws.cluster", .type = OPT_STRING, .off = OFF(aws_cluster),
	  .chars = CONFIG_ALNUM "-_", .chars_help = "is not a cluster name "
	  "(letters, digits, '-' and '_')", .def = "beekeeper",
	  .help = "ECS cluster that the instances join" },
	{ .key = "aws.log_group", .type = OPT_STRING, .off = OFF(aws_log_group),
	  .chars = CONFIG_ALNUM "_/.#-", .chars_help = "is not a log group "
	  "name (letters, digits, '_', '/', '.', '#' and '-')",
	  .def = "/beekeeper/tasks",
	  .help = "CloudWatch Logs group of the tasks' output" },
	{ .key = "aws.daemon_name", .type = OPT_STRING, .off = OFF(aws_daemon),
	  .chars = DAEMON_CHARS, .chars_help = "is not a daemon name "
	  "(letters, digits, '_', '.' and '-')",
	  .help = "beekeeper:daemon tag of its instances, else the host name" },
	{ .key = "aws.lease", .type = OPT_DURATION, .off = OFF(aws_lease_ms),
	  .def = "30m",
	  .help = "how far ahead an instance's lease tag reaches, 2m or more" },
	{ .key = "aws.reconcile_interval", .type = OPT_DURATION,
	  .off = OFF(aws_reconcile_ms), .def = "1m",
	  .help = "how often the cloud is checked against the pools" },
	{ .key = "aws.spot_factor", .type = OPT_NUMBER,
	  .off = OFF(aws_spot_factor), .def = "0.35",
	  .help = "spot price as a part of on demand, if not in spot_prices" },
	{ .key = "aws.prices", .type = OPT_PRICES, .off = OFF(aws_prices),
	  .datalen = OFF(naws_prices),
	  .help = "on-demand USD/hour by instance type, over the built-in" },
	{ .key = "aws.spot_prices", .type = OPT_PRICES,
	  .off = OFF(aws_spot_prices), .datalen = OFF(naws_spot_prices),
	  .help = "spot USD per hour by instance type" },
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

/*
 * Record "FILE:LINE: reason" with the line of node, if any, unless an
 * error is recorded already: the first one is what the operator sees.
 * Returns -1, for the caller to return.
 */
int
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
int
config_error_at(struct config_parse *p, size_t line, const char *fmt, ...)
{
	va_list	 ap;
	int	 rv;

	va_start(ap, fmt);
	rv = config_verror(p, line, fmt, ap);
	va_end(ap);
	return (rv);
}

static const struct config_opt *
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
int
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

static int
config_walk(struct config_parse *p, yaml_node_t *map, const char *prefix)
{
	yaml_node_pair_t	*pair;
	yaml_node_t		*k, *v;
	const struct config_opt	*o;
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
		case OPT_PRICES:
			rv = config_prices(p, o, v);
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

/*
 * aws.region as the AWS CLI and SDKs find it when the file does not say,
 * and aws.daemon_name from the host name, which is one per machine and
 * so tells apart the daemons that share an account.
 */
static int
config_default_aws(struct config_parse *p)
{
	struct config	*c = p->conf;
	const char	*var, *env;
	char		 host[256];
	size_t		 n;

	if (c->aws_region == NULL) {
		var = "AWS_REGION";
		if ((env = getenv(var)) == NULL || *env == '\0') {
			var = "AWS_DEFAULT_REGION";
			env = getenv(var);
		}
		if (env != NULL && *env != '\0') {
			if (strspn(env, REGION_CHARS) != strlen(env))
				return (config_error(p, NULL, "aws.region: %s "
				    "in the environment is not a region "
				    "(lowercase letters, digits and '-'): set "
				    "aws.region, or %s right", var, var));
			c->aws_region = xstrdup(env);
		}
	}
	if (c->aws_daemon == NULL) {
		if (gethostname(host, sizeof host) != 0)
			*host = '\0';
		host[sizeof host - 1] = '\0';
		n = strlen(host);
		if (n == 0 || n > DAEMON_NAME_MAX ||
		    strspn(host, DAEMON_CHARS) != n)
			c->aws_daemon = xstrdup("beekeeperd");
		else
			c->aws_daemon = xstrdup(host);
	}
	return (0);
}

static int
config_defaults(struct config_parse *p)
{
	const struct config_opt	*o;
	size_t			 i;

	for (i = 0; i < nitems(config_opts); i++) {
		o = &config_opts[i];
		if (p->seen[i] || o->def == NULL || o->type == OPT_SECTION)
			continue;
		if (config_set(p, o, NULL, o->def) != 0)
			return (-1);
	}
	if (config_default_profile(p) != 0 || config_default_aws(p) != 0)
		return (-1);
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

/*
 * The bus is reachable only from this machine unless it authenticates
 * with CURVE, or the operator says in so many words that it need not.
 * With CURVE the clients file is read here, so that -n and a reload
 * check it like the rest.
 */
static int
config_check_bus(struct config_parse *p)
{
	struct config	*c = p->conf;
	const char	*key, *value;
	char		*cause = NULL;
	int		 i;

	if (c->bus_curve_key_file != NULL && c->bus_clients_file == NULL)
		return (config_error_at(p, config_line(p,
		    "bus.curve_secret_key_file"), "bus.curve_secret_key_file: "
		    "CURVE also needs bus.clients_file, the public keys that "
		    "may connect"));
	if (c->bus_curve_key_file == NULL && c->bus_clients_file != NULL)
		return (config_error_at(p, config_line(p, "bus.clients_file"),
		    "bus.clients_file: keys are checked only with CURVE: set "
		    "bus.curve_secret_key_file too"));
	for (i = 0; i < 2 && c->bus_curve_key_file == NULL &&
	    !c->bus_unauthenticated_remote; i++) {
		key = i == 0 ? "bus.publish" : "bus.control";
		value = i == 0 ? c->bus_publish : c->bus_control;
		if (config_is_loopback_endpoint(value))
			continue;
		return (config_error_at(p, config_line(p, key), "%s: '%s' is "
		    "not a loopback endpoint (tcp://127.0.0.1:PORT, "
		    "tcp://[::1]:PORT or ipc://PATH), and the bus has no "
		    "authentication: set bus.curve_secret_key_file and "
		    "bus.clients_file to require CURVE keys, or set "
		    "bus.unauthenticated_remote: true to let anyone who "
		    "reaches it watch", key, value));
	}
	if (c->bus_clients_file != NULL && (c->bus_keys =
	    bus_keys_load(c->bus_clients_file, &cause)) == NULL) {
		/* Its own FILE:LINE, not this file's. */
		if (p->cause == NULL)
			p->cause = cause;
		else
			free(cause);
		return (-1);
	}
	return (0);
}

/*
 * A lease is renewed each reconcile, so two must fit in one: an instance
 * whose renewal is missed once is not yet taken for another daemon's
 * leftover. What AWS would refuse later is refused here, with its line.
 */
static int
config_check_aws(struct config_parse *p)
{
	const struct config	*c = p->conf;
	char			*v;
	size_t			 line;
	int			 rv;

	if (c->aws_lease_ms < LEASE_MIN_MS)
		return (config_error_at(p, config_line(p, "aws.lease"),
		    "aws.lease: must be at least 2m"));
	if (c->aws_reconcile_ms == 0)
		return (config_error_at(p, config_line(p,
		    "aws.reconcile_interval"), "aws.reconcile_interval: must "
		    "not be 0"));
	if (c->aws_reconcile_ms * 2 >= c->aws_lease_ms) {
		if ((line = config_line(p, "aws.reconcile_interval")) == 0)
			line = config_line(p, "aws.lease");
		return (config_error_at(p, line, "aws.reconcile_interval: "
		    "must be less than half of aws.lease, so that a lease is "
		    "renewed before it runs out"));
	}
	if (!(c->aws_spot_factor > 0 && c->aws_spot_factor <= 1)) {
		v = config_number(c->aws_spot_factor);
		rv = config_error_at(p, config_line(p, "aws.spot_factor"),
		    "aws.spot_factor: '%s' must be more than 0 and at most 1",
		    v);
		free(v);
		return (rv);
	}
	if (strlen(c->aws_cluster) > CLUSTER_MAX)
		return (config_error_at(p, config_line(p, "aws.cluster"),
		    "aws.cluster: longer than %d characters", CLUSTER_MAX));
	if (strlen(c->aws_log_group) > LOG_GROUP_MAX)
		return (config_error_at(p, config_line(p, "aws.log_group"),
		    "aws.log_group: longer than %d characters",
		    LOG_GROUP_MAX));
	if (strlen(c->aws_daemon) > DAEMON_NAME_MAX)
		return (config_error_at(p, config_line(p, "aws.daemon_name"),
		    "aws.daemon_name: longer than %d characters",
		    DAEMON_NAME_MAX));
	return (config_check_profiles(p));
}

/*
 * Load and check a configuration file. Returns NULL with *cause set to
 * "FILE:LINE: reason" (the caller frees it) if anything is wrong.
 */
struct config *
config_load(const char *file, char **cause)
{
	struct config_parse	 p;
	u_char			 seen[nitems(config_opts)];
	size_t			 line[nitems(config_opts)];
	yaml_parser_t		 parser;
	yaml_node_t		*root;
	char			*text, *err = NULL;
	size_t			 len;
	int			 rv = -1;

	memset(&p, 0, sizeof p);
	memset(seen, 0, sizeof seen);
	memset(line, 0, sizeof line);
	p.file = file;
	p.seen = seen;
	p.line = line;
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
	if (rv == 0)
		rv = config_defaults(&p);
	if (rv == 0)
		rv = config_check_github(&p);
	if (rv == 0)
		rv = config_check_bus(&p);
	if (rv == 0)
		rv = config_check_aws(&p);	/* points into p.doc */
	if (rv == 0)
		config_order_vars(p.conf);
	yaml_document_delete(&p.doc);

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
	const struct config_opt	*o;
	size_t			 i;

	if (conf == NULL)
		return;
	for (i = 0; i < nitems(config_opts); i++) {
		o = &config_opts[i];
		if (o->type != OPT_SECTION && o->type != OPT_PROFILES &&
		    o->type != OPT_REPOS && o->type != OPT_BRANCHES &&
		    o->type != OPT_VARS)
			config_free_value(conf, o);
	}
	config_free_profiles(conf);
	config_free_projects(conf);
	config_free_vars(conf);
	bus_keys_free(conf->bus_keys);
	free(conf->listen_host);
	free(conf->listen_port);
	free(conf->path);
	free(conf);
}

/* Print the effective configuration as YAML, with each option's help. */
void
config_print(const struct config *conf, FILE *f)
{
	const struct config_opt	*o;
	const char		*key, *dot, *indent;
	char			*note;
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
		case OPT_PRICES:
			config_print_prices(conf, o, key, f);
			continue;
		default:
			break;
		}
		note = NULL;
		if (o->type == OPT_SECRET_FILE)
			xasprintf(&note, "(secret read, %zu bytes, not shown)",
			    config_secret_len(conf, o));
		config_print_opt(conf, o, key, indent, note, f);
		free(note);
	}
}
