/*
 * One value of beekeeperd.yml, in and out. config_set checks a scalar
 * against its option's type and stores it where the option says (and
 * config_set_node a list, for the one option that takes a list of
 * values); config_value turns it back into YAML for -n, quoted so that
 * the output is itself a config, and config_print_opt prints it with its
 * help. config_free_value frees what any option holds.
 *
 * Secrets are never in the YAML itself, only paths to files that must not
 * be readable by other users: the webhook secret, the GitHub token or App
 * key, and each entry of secrets:. One function reads them all with the
 * same checks; no error says anything of what a file holds, and -n shows
 * a secret's file and length only.
 *
 * Numbers (aws.spot_factor, prices) are plain decimals, never exponents,
 * with at most NUMBER_DECIMALS digits after the point, so that the
 * shortest fixed-point form that reads back the same always exists and
 * -n prints what was written.
 */

#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

#define SECRET_FILE_MAX		4096
#define NUMBER_DIGITS		9	/* before the point, at most */
#define NUMBER_DECIMALS		9	/* after it */
#define INSTANCE_TYPE_MAX	64
#define AWS_ID_MAX		64

#define LOWER		"abcdefghijklmnopqrstuvwxyz"
#define DIGITS		"0123456789"
#define HEX		"0123456789abcdef"
/* What IAM allows in a name, and in an ARN's path. */
#define IAM_CHARS	CONFIG_ALNUM "+=,.@_-"

/* The drivers a profile may name. */
static const char *config_drivers[] = { "local", "aws" };

/*
 * A plain decimal number: digits, and a fraction after a '.'. No sign,
 * exponent, hex, inf or nan, which strtod(3) would all take.
 */
int
config_parse_number(const char *s, double *d)
{
	size_t	 n, f = 0;

	n = strspn(s, DIGITS);
	if (s[n] == '.')
		f = strspn(s + n + 1, DIGITS);
	if (n + f == 0 || n > NUMBER_DIGITS || f > NUMBER_DECIMALS ||
	    s[n + (s[n] == '.' ? 1 + f : 0)] != '\0')
		return (-1);
	*d = strtod(s, NULL);
	return (0);
}

/* A number as -n prints it: the fewest decimals that read back the same. */
char *
config_number(double d)
{
	char	*s;
	double	 back;
	int	 prec;

	for (prec = 0; prec < NUMBER_DECIMALS; prec++) {
		xasprintf(&s, "%.*f", prec, d);
		if (config_parse_number(s, &back) == 0 && back == d)
			return (s);
		free(s);
	}
	xasprintf(&s, "%.*f", NUMBER_DECIMALS, d);
	return (s);
}

/*
 * An EC2 instance type as AWS names them, family.size: c5.xlarge,
 * m7i-flex.large, u-6tb1.metal. Lowercase, starting with a letter.
 */
int
config_is_instance_type(const char *s)
{
	size_t	 n = strlen(s);

	return (n > 0 && n <= INSTANCE_TYPE_MAX && strchr(LOWER, *s) != NULL &&
	    strspn(s, LOWER DIGITS ".-") == n &&
	    strchr(s, '.') != NULL && s[n - 1] != '.' && s[n - 1] != '-');
}

/* An AWS resource ID: prefix (ami-, subnet-, sg-), then hex digits. */
static int
config_is_aws_id(const char *s, const char *prefix)
{
	size_t	 n = strlen(prefix);

	if (strncmp(s, prefix, n) != 0)
		return (0);
	s += n;
	n = strlen(s);
	return (n > 0 && n <= AWS_ID_MAX && strspn(s, HEX) == n);
}

/*
 * An IAM instance profile, by name (up to 128 of IAM_CHARS) or by ARN,
 * arn:PARTITION:iam::ACCOUNT:instance-profile/[PATH/]NAME.
 */
static int
config_is_iam_profile(const char *s)
{
	static const char	 kind[] = ":instance-profile/";
	const char		*p;
	size_t			 n;

	if (strncmp(s, "arn:", 4) != 0) {
		n = strlen(s);
		return (n > 0 && n <= 128 && strspn(s, IAM_CHARS) == n);
	}
	p = s + 4;
	if (strncmp(p, "aws", 3) != 0)
		return (0);
	p += strspn(p, LOWER "-");
	if (strncmp(p, ":iam::", 6) != 0)
		return (0);
	p += 6;
	if ((n = strspn(p, DIGITS)) != 12 ||
	    strncmp(p + n, kind, sizeof kind - 1) != 0)
		return (0);
	p += n + sizeof kind - 1;
	n = strlen(p);
	return (n > 0 && n <= 512 && strspn(p, IAM_CHARS "/") == n &&
	    p[n - 1] != '/');
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
 * A ZeroMQ endpoint only this machine can reach: tcp:// on 127.0.0.1 or
 * [::1] with a port (or * for any free one), or ipc:// with a path.
 */
int
config_is_loopback_endpoint(const char *s)
{
	const char	*port;
	size_t		 n;

	if (strncmp(s, "ipc://", 6) == 0)
		return (s[6] != '\0' && strpbrk(s, " \t\r\n") == NULL);
	if (strncmp(s, "tcp://127.0.0.1:", 16) == 0)
		port = s + 16;
	else if (strncmp(s, "tcp://[::1]:", 12) == 0)
		port = s + 12;
	else
		return (0);
	if (strcmp(port, "*") == 0)
		return (1);
	n = strspn(port, "0123456789");
	return (n > 0 && n <= 5 && port[n] == '\0' &&
	    strtol(port, NULL, 10) <= 65535);
}

/*
 * A ZeroMQ endpoint the bus can bind: tcp://HOST:PORT (HOST may be '*',
 * an address or an interface; PORT a number or '*') or ipc://PATH.
 * Whether it may be reached from elsewhere is config_check_bus's.
 */
int
config_is_endpoint(const char *s)
{
	const char	*port;
	size_t		 n;

	if (strpbrk(s, " \t\r\n") != NULL)
		return (0);
	if (strncmp(s, "ipc://", 6) == 0)
		return (s[6] != '\0');
	if (strncmp(s, "tcp://", 6) != 0 || (port = strrchr(s, ':')) == NULL ||
	    port - s < 7)
		return (0);
	port++;
	if (strcmp(port, "*") == 0)
		return (1);
	n = strspn(port, "0123456789");
	return (n > 0 && n <= 5 && port[n] == '\0' &&
	    strtol(port, NULL, 10) <= 65535);
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
int
config_is_repo(const char *s)
{
	const char	*slash;
	size_t		 n;

	if ((slash = strchr(s, '/')) == NULL)
		return (0);
	n = slash - s;
	if (n == 0 || n > 39 || strspn(s, CONFIG_ALNUM "-") != n)
		return (0);
	s = slash + 1;
	n = strlen(s);
	if (n == 0 || n > 100 || strspn(s, CONFIG_ALNUM "-_.") != n)
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

/* Does s hold a CURVE key pair? 0 if so; says nothing of what it holds. */
static int
config_is_curve_pair(const char *s, const char *path)
{
	struct curvekey	 k;
	char		*cause = NULL;
	int		 rv;

	rv = curvekey_parse(s, path, 0, &k, &cause) != 0 ||
	    *k.secret == '\0' || *k.public == '\0' ? -1 : 0;
	curvekey_clear(&k);
	free(cause);
	return (rv);
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
	if ((flags & OPT_CURVE) && config_is_curve_pair(s, path) != 0) {
		freezero(s, len + 1);
		return (config_error(p, node, "%s: %s is not a key pair as "
		    "beekeeper keygen writes it (public-key = KEY and "
		    "secret-key = KEY lines)", key, path));
	}
	*out = s;
	*outlen = len;
	return (0);
}

static int
config_set_value(struct config_parse *p, const struct config_opt *o,
    const char *key, yaml_node_t *node, const char *value)
{
	char		 *base = p->base;
	char		**sp = (char **)(base + o->off);
	int		 *ip = (int *)(base + o->off);
	uint64_t	 *up = (uint64_t *)(base + o->off);
	u_int		 *uip = (u_int *)(base + o->off);
	char		**dp, ***lst;
	size_t		 *lp;
	const char	 *errstr;
	char		 *host, *port, *end;
	unsigned long	  ul;
	double		  d;
	size_t		  i, len = strlen(value);

	switch (o->type) {
	case OPT_SECTION:
	case OPT_PROFILES:
	case OPT_REPOS:
	case OPT_BRANCHES:
	case OPT_VARS:
	case OPT_PRICES:
		return (config_error(p, node, "%s: is not a single value",
		    key));
	case OPT_NUMBER:
		if (config_parse_number(value, &d) != 0)
			return (config_error(p, node, "%s: '%s' "
			    CONFIG_NOT_A_NUMBER, key, value));
		*(double *)(base + o->off) = d;
		return (0);
	case OPT_DECIMAL:
		if (config_parse_number(value, &d) != 0)
			return (config_error(p, node, "%s: '%s' "
			    CONFIG_NOT_A_NUMBER, key, value));
		if (d == 0)
			return (config_error(p, node, "%s: must be more than 0",
			    key));
		break;
	case OPT_INSTANCE_TYPE:
		if (!config_is_instance_type(value))
			return (config_error(p, node, "%s: '%s' "
			    CONFIG_NOT_AN_INSTANCE_TYPE, key, value));
		break;
	case OPT_AWS_ID:
	case OPT_AWS_IDS:
		if (!config_is_aws_id(value, o->chars))
			return (config_error(p, node, "%s: '%s' %s", key, value,
			    o->chars_help));
		if (o->type == OPT_AWS_ID)
			break;
		/* One ID where a list is expected is a list of one. */
		config_free_value(base, o);
		lst = (char ***)(base + o->off);
		*lst = xcalloc(2, sizeof **lst);
		(*lst)[0] = xstrdup(value);
		return (0);
	case OPT_IAM_PROFILE:
		if (!config_is_iam_profile(value))
			return (config_error(p, node, "%s: '%s' is not an "
			    "instance profile: a name of letters, digits and "
			    "'+=,.@_-', or its ARN, arn:aws:iam::ACCOUNT:"
			    "instance-profile/NAME", key, value));
		break;
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
			    "'%s' (this beekeeperd has: local, aws)", key,
			    value));
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
	case OPT_ENDPOINT:
		/* Whether it may be remote: config_check_bus. */
		if (!config_is_endpoint(value))
			return (config_error(p, node, "%s: '%s' is not a "
			    "ZeroMQ endpoint (tcp://HOST:PORT or ipc://PATH)",
			    key, value));
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
			return (config_error(p, node, "%s: '%s' "
			    CONFIG_NOT_A_REPO, key, value));
		break;
	case OPT_ENVNAME:
		if (len == 0 || strspn(value, CONFIG_ALNUM "_") != len ||
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
int
config_set(struct config_parse *p, const struct config_opt *o,
    yaml_node_t *node, const char *value)
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

/* A list of AWS IDs: each checked, none twice; [] or nothing is none. */
static int
config_set_ids(struct config_parse *p, const struct config_opt *o,
    const char *key, yaml_node_t *seq)
{
	char			***lst = (char ***)((char *)p->base + o->off);
	yaml_node_item_t	  *item;
	yaml_node_t		  *n;
	const char		  *s;
	size_t			   i, j;

	config_free_value(p->base, o);
	if (config_null(seq))
		return (0);
	i = seq->data.sequence.items.top - seq->data.sequence.items.start;
	if (i == 0)
		return (0);
	/* Stored at once, so that config_free frees it if an entry fails. */
	*lst = xcalloc(i + 1, sizeof **lst);
	i = 0;
	for (item = seq->data.sequence.items.start;
	    item < seq->data.sequence.items.top; item++) {
		n = yaml_document_get_node(&p->doc, *item);
		if (n == NULL || n->type != YAML_SCALAR_NODE)
			return (config_error(p, n != NULL ? n : seq, "%s: each "
			    "entry must be a single value, not a list or "
			    "mapping", key));
		s = (const char *)n->data.scalar.value;
		if (!config_is_aws_id(s, o->chars))
			return (config_error(p, n, "%s: '%s' %s", key, s,
			    o->chars_help));
		for (j = 0; j < i; j++) {
			if (strcmp((*lst)[j], s) == 0)
				return (config_error(p, n, "%s: '%s' is listed "
				    "twice", key, s));
		}
		(*lst)[i++] = xstrdup(s);
	}
	return (0);
}

/*
 * Set an option from its YAML node: a scalar as config_set does, or,
 * for the options that take one, a list.
 */
int
config_set_node(struct config_parse *p, const struct config_opt *o,
    yaml_node_t *node)
{
	char	*key;
	int	 rv, list = 0;

	if (o->type == OPT_AWS_IDS && (node->type == YAML_SEQUENCE_NODE ||
	    config_null(node)))
		list = 1;
	else if (node->type == YAML_SCALAR_NODE)
		return (config_set(p, o, node,
		    (const char *)node->data.scalar.value));
	if (p->prefix != NULL)
		xasprintf(&key, "%s.%s", p->prefix, o->key);
	else
		key = xstrdup(o->key);
	if (list)
		rv = config_set_ids(p, o, key, node);
	else
		rv = config_error(p, node, "%s: must be a single value, not a "
		    "list or mapping", key);
	free(key);
	return (rv);
}

/* Free what an option holds, and forget it. */
void
config_free_value(void *base, const struct config_opt *o)
{
	char			 *b = base;
	char			**sp = (char **)(b + o->off), ***lst;
	struct config_price	**pp;
	size_t			 *np, i;

	switch (o->type) {
	case OPT_SECRET_FILE:
		freezero(*(char **)(b + o->data), *(size_t *)(b + o->datalen));
		*(char **)(b + o->data) = NULL;
		*(size_t *)(b + o->datalen) = 0;
		/* FALLTHROUGH */
	case OPT_STRING:
	case OPT_ADDRESS:
	case OPT_URL:
	case OPT_ENDPOINT:
	case OPT_PATH:
	case OPT_DRIVER:
	case OPT_REPO:
	case OPT_ENVNAME:
	case OPT_DECIMAL:
	case OPT_INSTANCE_TYPE:
	case OPT_AWS_ID:
	case OPT_IAM_PROFILE:
		free(*sp);
		*sp = NULL;
		break;
	case OPT_AWS_IDS:
		lst = (char ***)(b + o->off);
		for (i = 0; *lst != NULL && (*lst)[i] != NULL; i++)
			free((*lst)[i]);
		free(*lst);
		*lst = NULL;
		break;
	case OPT_PRICES:
		pp = (struct config_price **)(b + o->off);
		np = (size_t *)(b + o->datalen);
		for (i = 0; i < *np; i++)
			free((*pp)[i].type);
		free(*pp);
		*pp = NULL;
		*np = 0;
		break;
	default:
		break;
	}
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
char *
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
char *
config_value(const void *base, const struct config_opt *o)
{
	const char	*p = base;
	const char	*s;
	char		*v;

	switch (o->type) {
	case OPT_SECTION:
	case OPT_PROFILES:
	case OPT_REPOS:
	case OPT_BRANCHES:
	case OPT_VARS:
	case OPT_PRICES:
	case OPT_AWS_IDS:
		return (NULL);	/* more than one value: printed by its owner */
	case OPT_BOOL:
		return (xstrdup(*(const int *)(p + o->off) ? "true" : "false"));
	case OPT_NUMBER:
		return (config_number(*(const double *)(p + o->off)));
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
size_t
config_secret_len(const void *base, const struct config_opt *o)
{
	return (*(const size_t *)((const char *)base + o->datalen));
}

/*
 * Print an option of base as -n shows it: "key: value\t# help", with
 * note after the help if set, or commented out when it is not set. A
 * list of IDs goes one to a line.
 */
void
config_print_opt(const void *base, const struct config_opt *o,
    const char *key, const char *indent, const char *note, FILE *f)
{
	char *const	*lst;
	char		*value;
	size_t		 i;

	if (o->type == OPT_AWS_IDS) {
		lst = *(char **const *)((const char *)base + o->off);
		if (lst == NULL) {
			fprintf(f, "%s# %s:\t\t# %s (not set)\n", indent, key,
			    o->help);
			return;
		}
		fprintf(f, "%s%s:\t\t# %s\n", indent, key, o->help);
		for (i = 0; lst[i] != NULL; i++)
			fprintf(f, "%s  - %s\n", indent, lst[i]);
		return;
	}
	if ((value = config_value(base, o)) == NULL) {
		fprintf(f, "%s# %s:\t\t# %s (not set)\n", indent, key,
		    o->help);
		return;
	}
	fprintf(f, "%s%s: %s\t# %s%s%s\n", indent, key, value, o->help,
	    note != NULL ? " " : "", note != NULL ? note : "");
	free(value);
}
