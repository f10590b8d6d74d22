/*
 * AWS credentials, found in AWS's usual order: the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), then the
 * shared credentials file and the shared config file for a profile, then
 * the EC2 instance metadata service, version 2 (a session token, then the
 * role's credentials), which are refreshed before they expire.
 *
 * Invariants:
 * - Our copies of secret keys and session tokens are wiped before they
 *   are freed (jansson's, while it parses the metadata's answer, are
 *   not), and they never appear in a cause, a log line or a source
 *   description.
 * - At most one metadata fetch is in flight; every caller waiting for
 *   credentials is answered by it, in the order they asked.
 * - Credentials from the metadata service are refreshed
 *   AWS_CREDS_REFRESH_MS before they expire, so a request never waits
 *   for a refresh unless the service was unreachable.
 */

#include "config.h"

#include <sys/queue.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "daemon.h"

#define AWS_CREDS_REFRESH_MS	(5 * 60 * 1000)
#define AWS_CREDS_RETRY_MS	(30 * 1000)
#define AWS_IMDS_TIMEOUT_MS	2000
#define AWS_IMDS_TOKEN_TTL	"21600"
#define AWS_IMDS_MAX		(64 * 1024)
#define AWS_INI_MAX		(1024 * 1024)

struct aws_waiter {
	aws_auth_cb			 cb;
	void				*arg;
	TAILQ_ENTRY(aws_waiter)		 entry;
};

struct aws_auth {
	struct ev_loop			*loop;
	struct http			*http;
	char				*profile;
	char				*imds;		/* base URL */
	struct aws_creds		*creds;
	struct ev_timer			*refresh;
	uint64_t			 xfer;		/* 0: none in flight */
	int				 step;
	char				*imds_token;
	char				*role;
	TAILQ_HEAD(, aws_waiter)	 waiters;
};

enum {
	AWS_STEP_TOKEN,
	AWS_STEP_ROLE,
	AWS_STEP_CREDS
};

static void	aws_auth_fetch(struct aws_auth *);

void
aws_creds_free(struct aws_creds *c)
{
	if (c == NULL)
		return;
	free(c->access_key);
	freezero_str(c->secret_key);
	freezero_str(c->token);
	free(c->source);
	free(c);
}

static struct aws_creds *
aws_creds_make(const char *id, const char *secret, const char *token,
    int64_t expires, const char *source)
{
	struct aws_creds	*c = xcalloc(1, sizeof *c);

	c->access_key = xstrdup(id);
	c->secret_key = xstrdup(secret);
	c->token = token != NULL && *token != '\0' ? xstrdup(token) : NULL;
	c->expires = expires;
	c->source = xstrdup(source);
	return (c);
}

static char *
aws_trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return (s);
}

/*
 * One key of one section of an INI file as AWS's tools write them
 * ("[section]", "key = value", '#' and ';' comments; indented lines
 * belong to a nested setting and are skipped). A copy, or NULL.
 */
char *
aws_ini_get(const char *text, const char *section, const char *key)
{
	char	*copy = xstrdup(text), *line, *next, *eq, *found = NULL;
	int	 in = 0;

	for (line = copy; line != NULL && found == NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == ' ' || *line == '\t')
			continue;	/* a nested setting's line */
		line = aws_trim(line);
		if (*line == '\0' || *line == '#' || *line == ';')
			continue;
		if (*line == '[') {
			line[strcspn(line, "]")] = '\0';
			in = strcmp(aws_trim(line + 1), section) == 0;
			continue;
		}
		if (!in || (eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		if (strcmp(aws_trim(line), key) == 0)
			found = xstrdup(aws_trim(eq + 1));
	}
	freezero(copy, strlen(text) + 1);
	return (found);
}

/* A shared file: the environment's path, else ~/.aws/NAME. */
static char *
aws_file_text(const char *env, const char *name, char **path)
{
	const char	*p = getenv(env), *home = getenv("HOME");
	char		*text, *cause = NULL;
	size_t		 len;

	if (p != NULL && *p != '\0')
		*path = xstrdup(p);
	else if (home != NULL && *home != '\0')
		xasprintf(path, "%s/.aws/%s", home, name);
	else {
		*path = NULL;
		return (NULL);
	}
	text = util_read_file(*path, AWS_INI_MAX, &len, &cause);
	free(cause);		/* a missing file is no credentials */
	return (text);
}

/* The keys of a profile in one shared file, or NULL (and why, if broken). */
static struct aws_creds *
aws_creds_file(const char *text, const char *path, const char *section,
    const char *profile, char **cause)
{
	struct aws_creds	*c = NULL;
	char			*id, *secret, *token, *source;

	id = aws_ini_get(text, section, "aws_access_key_id");
	secret = aws_ini_get(text, section, "aws_secret_access_key");
	token = aws_ini_get(text, section, "aws_session_token");
	if (id != NULL && secret != NULL) {
		xasprintf(&source, "profile %s in %s", profile, path);
		c = aws_creds_make(id, secret, token, 0, source);
		free(source);
	} else if (id != NULL || secret != NULL)
		xasprintf(cause, "%s: profile %s has %s but not %s", path,
		    profile, id != NULL ? "aws_access_key_id" :
		    "aws_secret_access_key", id != NULL ?
		    "aws_secret_access_key" : "aws_access_key_id");
	free(id);
	freezero_str(secret);
	freezero_str(token);
	return (c);
}

/*
 * Credentials that need no network: the environment, then the shared
 * credentials file, then the shared config file, for profile (NULL:
 * AWS_PROFILE, else "default"). NULL with *cause NULL: none there; NULL
 * with *cause: something is half set, and that is an error to fix.
 */
struct aws_creds *
aws_creds_static(const char *profile, char **cause)
{
	const char		*id = getenv("AWS_ACCESS_KEY_ID");
	const char		*secret = getenv("AWS_SECRET_ACCESS_KEY");
	struct aws_creds	*c = NULL;
	char			*text, *path, *section;

	*cause = NULL;
	if (id != NULL && *id != '\0' && secret != NULL && *secret != '\0')
		return (aws_creds_make(id, secret,
		    getenv("AWS_SESSION_TOKEN"), 0, "the environment"));
	if ((id != NULL && *id != '\0') || (secret != NULL &&
	    *secret != '\0')) {
		xasprintf(cause, "%s is set in the environment but %s is "
		    "not: set both, or neither", id != NULL && *id != '\0' ?
		    "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
		    id != NULL && *id != '\0' ? "AWS_SECRET_ACCESS_KEY" :
		    "AWS_ACCESS_KEY_ID");
		return (NULL);
	}
	if (profile == NULL && ((profile = getenv("AWS_PROFILE")) == NULL ||
	    *profile == '\0'))
		profile = "default";

	text = aws_file_text("AWS_SHARED_CREDENTIALS_FILE", "credentials",
	    &path);
	if (text != NULL)
		c = aws_creds_file(text, path, profile, profile, cause);
	freezero_str(text);
	free(path);
	if (c != NULL || *cause != NULL)
		return (c);

	/* The config file names a profile's section "profile NAME". */
	text = aws_file_text("AWS_CONFIG_FILE", "config", &path);
	if (strcmp(profile, "default") == 0)
		section = xstrdup(profile);
	else
		xasprintf(&section, "profile %s", profile);
	if (text != NULL)
		c = aws_creds_file(text, path, section, profile, cause);
	free(section);
	freezero_str(text);
	free(path);
	return (c);
}

/* ---------------------------------------------- the metadata service */

static void
aws_auth_answer(struct aws_auth *a, const char *cause)
{
	struct aws_waiter	*w;

	while ((w = TAILQ_FIRST(&a->waiters)) != NULL) {
		TAILQ_REMOVE(&a->waiters, w, entry);
		w->cb(cause == NULL ? a->creds : NULL, cause, w->arg);
		free(w);
	}
}

static void
aws_auth_refresh_cb(struct ev_loop *loop, void *arg)
{
	struct aws_auth	*a = arg;

	(void)loop;
	a->refresh = NULL;
	if (a->xfer == 0) {
		a->step = AWS_STEP_TOKEN;
		aws_auth_fetch(a);
	}
}

/* "2026-11-26T12:00:00Z" as ms since the epoch, or -1. */
static int64_t
aws_iso_time(const char *s)
{
	struct tm	 tm;
	const char	*e;

	memset(&tm, 0, sizeof tm);
	if (s == NULL || (e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return (-1);
	if (*e == '.')
		e += 1 + strspn(e + 1, "0123456789");
	if (strcmp(e, "Z") != 0 && strcmp(e, "+00:00") != 0)
		return (-1);
	return ((int64_t)timegm(&tm) * 1000);
}

static void
aws_auth_fail(struct aws_auth *a, const char *why)
{
	char	*cause;

	xasprintf(&cause, "no AWS credentials: none in the environment or "
	    "for profile %s in the shared files, and the instance metadata "
	    "service at %s %s", a->profile, a->imds, why);
	log_warn("aws: %s", cause);
	aws_auth_answer(a, cause);
	free(cause);
	/* Credentials that still hold are kept; try again before they end. */
	if (a->creds != NULL && a->refresh == NULL &&
	    ev_time(a->loop) < a->creds->expires)
		a->refresh = ev_timer_add(a->loop, AWS_CREDS_RETRY_MS,
		    aws_auth_refresh_cb, a);
}

static void
aws_auth_got_creds(struct aws_auth *a, const char *body)
{
	json_t		*j;
	json_error_t	 jerr;
	const char	*code, *id, *secret, *token, *exp;
	char		*source;
	int64_t		 expires, now = ev_time(a->loop);

	if ((j = json_loads(body, 0, &jerr)) == NULL) {
		aws_auth_fail(a, "answered credentials that are not JSON");
		return;
	}
	code = json_string_value(json_object_get(j, "Code"));
	id = json_string_value(json_object_get(j, "AccessKeyId"));
	secret = json_string_value(json_object_get(j, "SecretAccessKey"));
	token = json_string_value(json_object_get(j, "Token"));
	exp = json_string_value(json_object_get(j, "Expiration"));
	expires = aws_iso_time(exp);
	if (code == NULL || strcmp(code, "Success") != 0 || id == NULL ||
	    secret == NULL || expires < 0) {
		aws_auth_fail(a, "answered credentials without Code "
		    "\"Success\", AccessKeyId, SecretAccessKey and "
		    "Expiration");
		json_decref(j);
		return;
	}
	xasprintf(&source, "instance role %s", a->role);
	aws_creds_free(a->creds);
	a->creds = aws_creds_make(id, secret, token, expires, source);
	free(source);
	json_decref(j);
	log_info("aws: credentials of %s, valid for %lld s",
	    a->creds->source, (long long)(expires - now) / 1000);
	if (a->refresh != NULL)
		ev_timer_del(a->refresh);
	a->refresh = ev_timer_add(a->loop, expires - now >
	    2 * AWS_CREDS_REFRESH_MS ? expires - now - AWS_CREDS_REFRESH_MS :
	    (expires - now) / 2 > 1000 ? (expires - now) / 2 : 1000,
	    aws_auth_refresh_cb, a);
	aws_auth_answer(a, NULL);
}

static void
aws_auth_http_cb(struct http *h, const struct http_response *r, void *arg)
{
	struct aws_auth	*a = arg;
	char		*body, *why;

	(void)h;
	a->xfer = 0;
	if (!r->ok) {
		xasprintf(&why, "did not answer (%s)", r->cause);
		aws_auth_fail(a, why);
		free(why);
		return;
	}
	if (r->status != 200) {
		xasprintf(&why, "answered HTTP %ld to the %s request",
		    r->status, a->step == AWS_STEP_TOKEN ? "session token" :
		    a->step == AWS_STEP_ROLE ? "role name" : "credentials");
		aws_auth_fail(a, why);
		free(why);
		return;
	}
	body = buf_detach(r->body, NULL);
	switch (a->step) {
	case AWS_STEP_TOKEN:
		freezero_str(a->imds_token);
		a->imds_token = xstrdup(aws_trim(body));
		a->step = AWS_STEP_ROLE;
		aws_auth_fetch(a);
		break;
	case AWS_STEP_ROLE:
		free(a->role);
		body[strcspn(body, "\r\n")] = '\0';
		a->role = xstrdup(aws_trim(body));
		if (*a->role == '\0' || strchr(a->role, '/') != NULL) {
			aws_auth_fail(a, "names no role: attach an instance "
			    "profile to this instance");
			break;
		}
		a->step = AWS_STEP_CREDS;
		aws_auth_fetch(a);
		break;
	default:
		aws_auth_got_creds(a, body);
		break;
	}
	freezero_str(body);
}

/* The next request of the metadata dialogue (a->step says which). */
static void
aws_auth_fetch(struct aws_auth *a)
{
	struct http_request	 req;
	const char		*hdrs[2] = { NULL, NULL };
	char			*url, *hdr, *cause = NULL;

	memset(&req, 0, sizeof req);
	req.timeout_ms = AWS_IMDS_TIMEOUT_MS;
	req.max_size = AWS_IMDS_MAX;
	req.headers = hdrs;
	switch (a->step) {
	case AWS_STEP_TOKEN:
		req.method = "PUT";
		xasprintf(&url, "%s/latest/api/token", a->imds);
		xasprintf(&hdr, "X-aws-ec2-metadata-token-ttl-seconds: %s",
		    AWS_IMDS_TOKEN_TTL);
		break;
	case AWS_STEP_ROLE:
		xasprintf(&url, "%s/latest/meta-data/iam/security-credentials/",
		    a->imds);
		xasprintf(&hdr, "X-aws-ec2-metadata-token: %s", a->imds_token);
		break;
	default:
		xasprintf(&url, "%s/latest/meta-data/iam/security-credentials/"
		    "%s", a->imds, a->role);
		xasprintf(&hdr, "X-aws-ec2-metadata-token: %s", a->imds_token);
		break;
	}
	hdrs[0] = hdr;
	req.url = url;
	a->xfer = http_submit(a->http, &req, aws_auth_http_cb, a, &cause);
	freezero_str(hdr);
	free(url);
	if (a->xfer == 0) {
		aws_auth_fail(a, cause);
		free(cause);
	}
}

struct aws_auth *
aws_auth_create(struct ev_loop *loop, struct http *http, const char *profile,
    const char *imds)
{
	struct aws_auth	*a = xcalloc(1, sizeof *a);
	size_t		 len;

	a->loop = loop;
	a->http = http;
	if (profile == NULL && ((profile = getenv("AWS_PROFILE")) == NULL ||
	    *profile == '\0'))
		profile = "default";
	a->profile = xstrdup(profile);
	if (imds == NULL && ((imds = getenv(
	    "AWS_EC2_METADATA_SERVICE_ENDPOINT")) == NULL || *imds == '\0'))
		imds = "http://169.254.169.254";
	a->imds = xstrdup(imds);
	len = strlen(a->imds);
	while (len > 0 && a->imds[len - 1] == '/')
		a->imds[--len] = '\0';
	TAILQ_INIT(&a->waiters);
	return (a);
}

void
aws_auth_free(struct aws_auth *a)
{
	struct aws_waiter	*w;

	if (a == NULL)
		return;
	if (a->xfer != 0)
		http_cancel(a->http, a->xfer);
	if (a->refresh != NULL)
		ev_timer_del(a->refresh);
	while ((w = TAILQ_FIRST(&a->waiters)) != NULL) {
		TAILQ_REMOVE(&a->waiters, w, entry);
		free(w);
	}
	aws_creds_free(a->creds);
	freezero_str(a->imds_token);
	free(a->role);
	free(a->profile);
	free(a->imds);
	free(a);
}

/*
 * Call cb with credentials: at once when the environment, a shared file
 * or a fresh enough fetch has them, else when the metadata service has
 * answered; cb must not free a. Static credentials are looked up again on each call, so a
 * changed file is seen without a restart.
 */
void
aws_auth_get(struct aws_auth *a, aws_auth_cb cb, void *arg)
{
	struct aws_creds	*c;
	struct aws_waiter	*w;
	char			*cause = NULL;

	if ((c = aws_creds_static(a->profile, &cause)) != NULL ||
	    cause != NULL) {
		cb(c, cause, arg);
		aws_creds_free(c);
		free(cause);
		return;
	}
	if (a->creds != NULL && ev_time(a->loop) < a->creds->expires -
	    AWS_CREDS_REFRESH_MS / 5) {
		cb(a->creds, NULL, arg);
		return;
	}
	w = xcalloc(1, sizeof *w);
	w->cb = cb;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&a->waiters, w, entry);
	if (a->xfer == 0) {
		a->step = AWS_STEP_TOKEN;
		aws_auth_fetch(a);
	}
}
