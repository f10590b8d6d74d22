/*
 * The daemon's one GitHub API client: every call to GitHub goes through
 * here, asynchronously on the event loop (http.c), so one place knows the
 * credentials, the rate limit and how to back off.
 *
 * Credentials: a personal access token, or a GitHub App. As an App, a
 * call for a repository first needs that repository's installation (from
 * a delivery's "installation" field, or GET /repos/O/R/installation with
 * the App's JWT) and an installation token (POST
 * /app/installations/ID/access_tokens), cached until five minutes before
 * it expires. A 401 drops the cached token and tries once more.
 *
 * Limits: X-RateLimit-Remaining and -Reset, Retry-After and the secondary
 * limit (403 or 429 with either) hold every call until GitHub allows
 * more; held calls are not failed, only delayed. At most GITHUB_INFLIGHT
 * calls are in flight and mutations go one at a time, as GitHub asks.
 * 5xx answers and network errors are retried with jittered exponential
 * backoff, up to the call's attempts; what then fails is the caller's to
 * keep (reports are in the store, see report.c).
 *
 * Tokens and JWTs never reach a log line or a cause.
 */

#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "daemon.h"

#define GITHUB_INFLIGHT		4
#define GITHUB_TIMEOUT_MS	(30 * 1000)
#define GITHUB_MAX_JSON		(8 * 1024 * 1024)
#define GITHUB_BACKOFF_MS	1000
#define GITHUB_BACKOFF_MAX_MS	(5 * 60 * 1000)
#define GITHUB_SECONDARY_MS	(60 * 1000)	/* no Retry-After given */
#define GITHUB_TOKEN_MARGIN_MS	(5 * 60 * 1000)
#define GITHUB_ACCEPT		"application/vnd.github+json"
#define GITHUB_API_VERSION	"2022-11-28"

enum gh_stage {
	GH_WAIT,		/* queued, not sent */
	GH_INSTALLATION,	/* looking up the repository's installation */
	GH_TOKEN,		/* getting an installation token */
	GH_SEND,		/* the call itself */
	GH_REDIRECT		/* following a redirect, without credentials */
};

struct gh_install {
	char			*repo;
	int64_t			 id;
	LIST_ENTRY(gh_install)	 entry;
};

struct gh_token {
	int64_t			 installation;
	char			*token;
	int64_t			 expires_at;	/* unix ms */
	LIST_ENTRY(gh_token)	 entry;
};

struct gh_call {
	struct github		*gh;
	uint64_t		 id;
	char			*method;
	char			*repo;
	char			*path;
	char			*location;	/* a redirect's: may hold a token */
	char			*body;
	char			*accept;
	size_t			 max_size;
	u_int			 attempts;	/* allowed */
	/*
	 * Requests made: every one but a redirect's, less those refused for
	 * rate, so a lookup, a token and the call itself make three.
	 */
	u_int			 tries;
	int			 reauth;	/* a 401 was retried */
	int			 mutation;
	int			 raw;		/* the body is not JSON */
	int64_t			 installation;
	enum gh_stage		 stage;
	uint64_t		 not_before;	/* ev_now ms */
	uint64_t		 http_id;
	github_cb		 cb;
	void			*arg;
	TAILQ_ENTRY(gh_call)	 entry;
};
TAILQ_HEAD(gh_calls, gh_call);

struct github {
	struct ev_loop		*loop;
	const struct config	**conf;
	struct http		*http;
	struct jwt_key		*key;
	struct gh_calls		 calls;		/* waiting and in flight */
	u_int			 inflight;
	int			 mutating;
	uint64_t		 next_id;
	struct ev_timer		*timer;
	int			 kicking;

	/* Rate limit, as GitHub last said it. */
	int64_t			 remaining;	/* -1: unknown */
	int64_t			 reset_at;	/* unix ms */
	int64_t			 held_until;	/* unix ms; 0: not held */
	char			*held_why;

	LIST_HEAD(, gh_install)	 installs;
	LIST_HEAD(, gh_token)	 tokens;
};

static void	github_kick(struct github *);
static void	github_step(struct gh_call *);

static const struct config *
gh_conf(struct github *gh)
{
	return (*gh->conf);
}

static int
github_is_app(struct github *gh)
{
	return (gh_conf(gh)->github_app_id != NULL && gh->key != NULL);
}

int
github_enabled(struct github *gh)
{
	return (gh != NULL && (github_is_app(gh) ||
	    gh_conf(gh)->github_token != NULL));
}

int
github_is_app_auth(struct github *gh)
{
	return (gh != NULL && github_is_app(gh));
}

static void
gh_call_free(struct gh_call *c)
{
	free(c->method);
	free(c->repo);
	free(c->path);
	free(c->location);
	free(c->body);
	free(c->accept);
	free(c);
}

/* Jittered exponential backoff: half to all of base * 2^n, capped. */
uint64_t
github_backoff(u_int n)
{
	return (util_backoff(GITHUB_BACKOFF_MS, GITHUB_BACKOFF_MAX_MS, n));
}

static struct gh_install *
github_install_find(struct github *gh, const char *repo)
{
	struct gh_install	*in;

	LIST_FOREACH(in, &gh->installs, entry) {
		if (strcasecmp(in->repo, repo) == 0)
			return (in);
	}
	return (NULL);
}

/* A delivery named the repository's installation: remember it. */
void
github_installation_seen(struct github *gh, const char *repo, int64_t id)
{
	struct gh_install	*in;

	if (gh == NULL || repo == NULL || id <= 0)
		return;
	if ((in = github_install_find(gh, repo)) == NULL) {
		in = xcalloc(1, sizeof *in);
		in->repo = xstrdup(repo);
		LIST_INSERT_HEAD(&gh->installs, in, entry);
	}
	in->id = id;
}

static struct gh_token *
github_token_find(struct github *gh, int64_t installation)
{
	struct gh_token	*t;

	LIST_FOREACH(t, &gh->tokens, entry) {
		if (t->installation == installation)
			return (t);
	}
	return (NULL);
}

static void
github_token_drop(struct github *gh, int64_t installation)
{
	struct gh_token	*t;

	if ((t = github_token_find(gh, installation)) == NULL)
		return;
	LIST_REMOVE(t, entry);
	freezero(t->token, strlen(t->token));
	free(t);
}

/* A cached token good for five more minutes, or NULL. */
static const char *
github_token_valid(struct github *gh, int64_t installation)
{
	struct gh_token	*t;

	if ((t = github_token_find(gh, installation)) == NULL)
		return (NULL);
	if (t->expires_at - GITHUB_TOKEN_MARGIN_MS <= ev_time(gh->loop)) {
		github_token_drop(gh, installation);
		return (NULL);
	}
	return (t->token);
}

/* Parse GitHub's ISO 8601 "2026-11-26T08:00:00Z" to unix ms. */
static int64_t
github_parse_time(const char *s)
{
	struct tm	 tm;
	const char	*end;

	memset(&tm, 0, sizeof tm);
	if (s == NULL || (end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) ==
	    NULL || (*end != 'Z' && *end != '\0'))
		return (0);
	return ((int64_t)timegm(&tm) * 1000);
}

static void
github_hold(struct github *gh, int64_t until, const char *why)
{
	if (until <= gh->held_until)
		return;
	gh->held_until = until;
	free(gh->held_why);
	gh->held_why = xstrdup(why);
	log_warn("github: %s; calls wait %llds",
	    why, (long long)((until - ev_time(gh->loop) + 999) / 1000));
}

/*
 * Learn the rate limit from any answer; returns 1 if this answer was a
 * refusal for rate (the call is then held and sent again, not failed).
 */
static int
github_rate(struct github *gh, const struct http_response *r)
{
	const char	*rem, *reset, *ra;
	int64_t		 now = ev_time(gh->loop), until;
	long long	 v;
	char		*end;

	rem = http_response_header(r, "X-RateLimit-Remaining");
	reset = http_response_header(r, "X-RateLimit-Reset");
	ra = http_response_header(r, "Retry-After");
	if (rem != NULL) {
		v = strtoll(rem, &end, 10);
		if (*end == '\0' && v >= 0)
			gh->remaining = v;
	}
	if (reset != NULL) {
		v = strtoll(reset, &end, 10);
		if (*end == '\0' && v > 0)
			gh->reset_at = v * 1000;
	}
	if (r->status != 403 && r->status != 429) {
		/* The last call of the hour went through: wait for more. */
		if (gh->remaining == 0 && gh->reset_at > now)
			github_hold(gh, gh->reset_at, "rate limit used up");
		return (0);
	}
	if (ra != NULL) {
		v = strtoll(ra, &end, 10);
		if (*end != '\0' || v < 0)
			v = GITHUB_SECONDARY_MS / 1000;
		github_hold(gh, now + v * 1000, "GitHub asked us to slow "
		    "down (Retry-After)");
		return (1);
	}
	if (rem != NULL && gh->remaining == 0) {
		until = gh->reset_at > now ? gh->reset_at : now +
		    GITHUB_SECONDARY_MS;
		github_hold(gh, until, "rate limit exceeded");
		return (1);
	}
	if (r->status == 429 || (r->body != NULL && r->body->data != NULL &&
	    strstr(r->body->data, "secondary rate limit") != NULL)) {
		github_hold(gh, now + GITHUB_SECONDARY_MS,
		    "secondary rate limit");
		return (1);
	}
	return (0);
}

/* GitHub's own words for a failure: "message" of its JSON, if any. */
static char *
github_message(long status, const struct buf *body)
{
	json_t		*j;
	const char	*m = NULL;
	char		*s;

	j = body != NULL && body->data != NULL ? json_loadb(body->data,
	    body->len, 0, NULL) : NULL;
	if (j != NULL)
		m = json_string_value(json_object_get(j, "message"));
	xasprintf(&s, "GitHub answered %ld%s%s", status, m != NULL ? ": " :
	    "", m != NULL ? m : "");
	json_decref(j);
	return (s);
}

static void
github_finish(struct gh_call *c, long status, const char *cause,
    const struct http_response *r)
{
	struct github		*gh = c->gh;
	struct github_response	 gr;
	json_error_t		 jerr;

	TAILQ_REMOVE(&gh->calls, c, entry);
	memset(&gr, 0, sizeof gr);
	gr.status = status;
	gr.cause = cause;
	if (r != NULL && r->body != NULL) {
		gr.body = r->body;
		if (r->body->len > 0 && !c->raw)
			gr.json = json_loadb(r->body->data, r->body->len, 0,
			    &jerr);
		gr.http = r;
	}
	if (c->cb != NULL)
		c->cb(&gr, c->arg);
	json_decref(gr.json);
	gh_call_free(c);
}

/* After a failed try: again later, or give up with cause. */
static void
github_retry_or_fail(struct gh_call *c, long status, const char *cause,
    const struct http_response *r)
{
	if (c->tries < c->attempts) {
		/* From the start: a redirect's URL may have expired. */
		free(c->location);
		c->location = NULL;
		c->stage = GH_WAIT;
		c->not_before = ev_now(c->gh->loop) +
		    github_backoff(c->tries - 1);
		log_info("github: %s %s: %s; trying again (%u of %u)",
		    c->method, c->path, cause, c->tries + 1, c->attempts);
		return;
	}
	github_finish(c, status, cause, r);
}

static void
github_http_done(struct http *h, const struct http_response *r, void *arg)
{
	struct gh_call	*c = arg;
	struct github	*gh = c->gh;
	char		*cause = NULL;
	const char	*loc, *tok, *exp;
	json_t		*j;
	int64_t		 id;
	struct gh_token	*t;

	(void)h;
	c->http_id = 0;
	gh->inflight--;
	if (c->mutation && c->stage == GH_SEND)
		gh->mutating = 0;
	if (!r->ok) {
		xasprintf(&cause, "GitHub did not answer: %s", r->cause);
		github_retry_or_fail(c, 0, cause, NULL);
		goto out;
	}
	if (github_rate(gh, r)) {
		/* Held, not failed: the same step goes again after. */
		if (c->stage != GH_REDIRECT)
			c->tries--;
		c->stage = GH_WAIT;
		c->not_before = 0;
		goto out;
	}
	if (r->status >= 500) {
		cause = github_message(r->status, r->body);
		github_retry_or_fail(c, r->status, cause, r);
		goto out;
	}

	switch (c->stage) {
	case GH_INSTALLATION:
		j = r->status == 200 ? json_loadb(r->body->data, r->body->len,
		    0, NULL) : NULL;
		id = json_integer_value(json_object_get(j, "id"));
		json_decref(j);
		if (id <= 0) {
			xasprintf(&cause, "the GitHub App is not installed "
			    "on %s (GitHub answered %ld)", c->repo,
			    r->status);
			github_finish(c, r->status, cause, r);
			goto out;
		}
		github_installation_seen(gh, c->repo, id);
		c->stage = GH_WAIT;
		break;
	case GH_TOKEN:
		j = r->status == 201 ? json_loadb(r->body->data, r->body->len,
		    0, NULL) : NULL;
		tok = json_string_value(json_object_get(j, "token"));
		exp = json_string_value(json_object_get(j, "expires_at"));
		if (tok == NULL) {
			json_decref(j);
			cause = github_message(r->status, r->body);
			github_finish(c, r->status, cause, r);
			goto out;
		}
		github_token_drop(gh, c->installation);
		t = xcalloc(1, sizeof *t);
		t->installation = c->installation;
		t->token = xstrdup(tok);
		t->expires_at = github_parse_time(exp);
		if (t->expires_at == 0)
			t->expires_at = ev_time(gh->loop) + 60 * 60 * 1000;
		LIST_INSERT_HEAD(&gh->tokens, t, entry);
		json_decref(j);
		log_info("github: new token for installation %lld, valid "
		    "%llds", (long long)c->installation, (long long)
		    ((t->expires_at - ev_time(gh->loop)) / 1000));
		c->stage = GH_WAIT;
		break;
	case GH_SEND:
		if (r->status == 401 && github_is_app(gh) && !c->reauth) {
			/* Revoked or expired early: one new token. */
			c->reauth = 1;
			github_token_drop(gh, c->installation);
			c->stage = GH_WAIT;
			break;
		}
		if ((r->status == 301 || r->status == 302 ||
		    r->status == 307) && (loc = http_response_header(r,
		    "Location")) != NULL) {
			/*
			 * The tarball's host: its URL carries a token of its
			 * own, so no credentials of ours go with it, and it is
			 * never logged.
			 */
			free(c->location);
			c->location = xstrdup(loc);
			c->stage = GH_REDIRECT;
			github_step(c);
			break;
		}
		github_finish(c, r->status, NULL, r);
		break;
	case GH_REDIRECT:
		github_finish(c, r->status, r->status >= 300 ? "the archive "
		    "host refused the download" : NULL, r);
		break;
	case GH_WAIT:
		break;
	}
out:
	free(cause);
	github_kick(gh);
}

static int
github_submit(struct gh_call *c, const char *method, const char *url,
    const char *auth, const char *body, const char *accept)
{
	struct github		*gh = c->gh;
	struct http_request	 req;
	const char		*hdrs[6];
	char			*authh = NULL, *accepth, *cause = NULL;
	size_t			 n = 0;

	xasprintf(&accepth, "Accept: %s", accept);
	hdrs[n++] = accepth;
	hdrs[n++] = "X-GitHub-Api-Version: " GITHUB_API_VERSION;
	hdrs[n++] = "User-Agent: beekeeperd/" PACKAGE_VERSION;
	if (auth != NULL) {
		xasprintf(&authh, "Authorization: %s", auth);
		hdrs[n++] = authh;
	}
	if (body != NULL)
		hdrs[n++] = "Content-Type: application/json";
	hdrs[n] = NULL;
	memset(&req, 0, sizeof req);
	req.method = method;
	req.url = url;
	req.headers = hdrs;
	req.body = body;
	req.bodylen = body != NULL ? strlen(body) : 0;
	req.timeout_ms = GITHUB_TIMEOUT_MS;
	req.max_size = c->max_size != 0 ? c->max_size : GITHUB_MAX_JSON;
	c->http_id = http_submit(gh->http, &req, github_http_done, c, &cause);
	free(accepth);
	if (authh != NULL)
		freezero(authh, strlen(authh));
	if (c->http_id == 0) {
		github_finish(c, 0, cause, NULL);
		free(cause);
		return (-1);
	}
	gh->inflight++;
	return (0);
}

/* The App's JWT as an Authorization value, or NULL (call finished). */
static char *
github_jwt(struct gh_call *c)
{
	struct github	*gh = c->gh;
	char		*jwt, *cause = NULL, *auth;

	if ((jwt = jwt_sign(gh->key, gh_conf(gh)->github_app_id,
	    ev_time(gh->loop) / 1000, &cause)) == NULL) {
		github_finish(c, 0, cause, NULL);
		free(cause);
		return (NULL);
	}
	xasprintf(&auth, "Bearer %s", jwt);
	freezero(jwt, strlen(jwt));
	return (auth);
}

/* Move a call on: credentials first, then the call; see the top. */
static void
github_step(struct gh_call *c)
{
	struct github		*gh = c->gh;
	const struct config	*conf = gh_conf(gh);
	struct gh_install	*in;
	const char		*tok;
	char			*url, *auth = NULL;

	if (c->stage == GH_REDIRECT) {
		github_submit(c, "GET", c->location, NULL, NULL, c->accept);
		return;
	}
	if (github_is_app(gh) && c->repo != NULL) {
		if ((in = github_install_find(gh, c->repo)) == NULL) {
			if ((auth = github_jwt(c)) == NULL)
				return;
			c->stage = GH_INSTALLATION;
			c->tries++;
			xasprintf(&url, "%s/repos/%s/installation",
			    conf->github_api_url, c->repo);
			github_submit(c, "GET", url, auth, NULL,
			    GITHUB_ACCEPT);
			goto out;
		}
		c->installation = in->id;
		if ((tok = github_token_valid(gh, in->id)) == NULL) {
			/* Set before the call: github_auth_pending reads it. */
			if ((auth = github_jwt(c)) == NULL)
				return;
			c->stage = GH_TOKEN;
			c->tries++;
			xasprintf(&url, "%s/app/installations/%lld/"
			    "access_tokens", conf->github_api_url,
			    (long long)in->id);
			github_submit(c, "POST", url, auth, NULL,
			    GITHUB_ACCEPT);
			goto out;
		}
		xasprintf(&auth, "token %s", tok);
	} else if (conf->github_token != NULL)
		xasprintf(&auth, "token %s", conf->github_token);
	c->stage = GH_SEND;
	c->tries++;
	if (c->mutation)
		gh->mutating = 1;
	xasprintf(&url, "%s%s", conf->github_api_url, c->path);
	github_submit(c, c->method, url, auth, c->body, c->accept);
out:
	free(url);
	if (auth != NULL)
		freezero(auth, strlen(auth));
}

static void
github_timer_fire(struct ev_loop *loop, void *arg)
{
	struct github	*gh = arg;

	(void)loop;
	gh->timer = NULL;
	github_kick(gh);
}

/*
 * As an App, a call that needs a lookup or token another call is already
 * getting waits for that one rather than asking GitHub twice.
 */
static int
github_auth_pending(struct github *gh, struct gh_call *c)
{
	struct gh_call		*o;
	struct gh_install	*in;

	if (!github_is_app(gh) || c->repo == NULL)
		return (0);
	in = github_install_find(gh, c->repo);
	TAILQ_FOREACH(o, &gh->calls, entry) {
		if (o->stage == GH_INSTALLATION && in == NULL &&
		    strcasecmp(o->repo, c->repo) == 0)
			return (1);
		if (o->stage == GH_TOKEN && in != NULL &&
		    o->installation == in->id)
			return (1);
	}
	return (0);
}

/* Send what may be sent now; wake again when the next may. */
static void
github_kick(struct github *gh)
{
	struct gh_call	*c;
	uint64_t	 now = ev_now(gh->loop), wake;
	int64_t		 wall = ev_time(gh->loop);

	if (gh->kicking)
		return;
	gh->kicking = 1;
	if (gh->held_until != 0 && gh->held_until <= wall) {
		log_info("github: calls resume");
		gh->held_until = 0;
		free(gh->held_why);
		gh->held_why = NULL;
	}
	/*
	 * After each step the scan starts over: the step may have finished
	 * calls, and their callbacks made new ones. The list is short.
	 */
again:
	wake = 0;
	TAILQ_FOREACH(c, &gh->calls, entry) {
		if (c->stage != GH_WAIT)
			continue;
		if (gh->held_until != 0) {
			wake = now + (gh->held_until - wall);
			break;
		}
		if (c->not_before > now) {
			if (wake == 0 || c->not_before < wake)
				wake = c->not_before;
			continue;
		}
		if (gh->inflight >= GITHUB_INFLIGHT)
			break;
		if ((c->mutation && gh->mutating) ||
		    github_auth_pending(gh, c))
			continue;
		github_step(c);
		goto again;
	}
	ev_timer_del(gh->timer);
	gh->timer = NULL;
	if (wake != 0)
		gh->timer = ev_timer_add(gh->loop, wake > now ? wake - now : 0,
		    github_timer_fire, gh);
	gh->kicking = 0;
}

/*
 * Call GitHub: method and path (from "/repos/..."), an optional JSON
 * body, for repo (whose installation authenticates the call as an App).
 * cb is called once, from the loop, unless github_cancel comes first.
 * Returns the call's id, never 0.
 */
uint64_t
github_call(struct github *gh, const struct github_call *gc, github_cb cb,
    void *arg)
{
	struct gh_call	*c;

	c = xcalloc(1, sizeof *c);
	c->gh = gh;
	c->id = ++gh->next_id;
	c->method = xstrdup(gc->method != NULL ? gc->method : "GET");
	c->repo = gc->repo != NULL ? xstrdup(gc->repo) : NULL;
	c->path = xstrdup(gc->path);
	c->body = gc->body != NULL ? xstrdup(gc->body) : NULL;
	c->accept = xstrdup(gc->accept != NULL ? gc->accept : GITHUB_ACCEPT);
	c->max_size = gc->max_size;
	c->attempts = gc->attempts != 0 ? gc->attempts : 1;
	c->mutation = strcmp(c->method, "GET") != 0;
	c->raw = gc->raw;
	c->stage = GH_WAIT;
	c->cb = cb;
	c->arg = arg;
	TAILQ_INSERT_TAIL(&gh->calls, c, entry);
	github_kick(gh);
	return (c->id);
}

/* Forget a call: its callback is never called. */
void
github_cancel(struct github *gh, uint64_t id)
{
	struct gh_call	*c;

	TAILQ_FOREACH(c, &gh->calls, entry) {
		if (c->id != id)
			continue;
		if (c->http_id != 0) {
			http_cancel(gh->http, c->http_id);
			gh->inflight--;
			if (c->mutation && c->stage == GH_SEND)
				gh->mutating = 0;
		}
		TAILQ_REMOVE(&gh->calls, c, entry);
		gh_call_free(c);
		github_kick(gh);
		return;
	}
}

/* Rate-limit state for the bus and metrics. */
void
github_limits(struct github *gh, int64_t *remaining, int64_t *reset_at,
    int64_t *held_until)
{
	*remaining = gh->remaining;
	*reset_at = gh->reset_at;
	*held_until = gh->held_until;
}

/* Load the App's key again, after a reload changed it. */
int
github_reload(struct github *gh, char **cause)
{
	const struct config	*conf = gh_conf(gh);
	struct jwt_key		*key = NULL;

	if (conf->github_app_key != NULL && (key = jwt_key_load(
	    conf->github_app_key, conf->github_app_key_len, cause)) == NULL)
		return (-1);
	jwt_key_free(gh->key);
	gh->key = key;
	while (!LIST_EMPTY(&gh->tokens))
		github_token_drop(gh, LIST_FIRST(&gh->tokens)->installation);
	return (0);
}

struct github *
github_create(struct ev_loop *loop, const struct config **conf,
    char **cause)
{
	struct github	*gh;

	gh = xcalloc(1, sizeof *gh);
	gh->loop = loop;
	gh->conf = conf;
	gh->remaining = -1;
	TAILQ_INIT(&gh->calls);
	LIST_INIT(&gh->installs);
	LIST_INIT(&gh->tokens);
	if ((gh->http = http_create(loop, cause)) == NULL) {
		free(gh);
		return (NULL);
	}
	if (github_reload(gh, cause) != 0) {
		http_free(gh->http);
		free(gh);
		return (NULL);
	}
	if (github_is_app(gh))
		log_info("github: %s as App %s", (*conf)->github_api_url,
		    (*conf)->github_app_id);
	else if ((*conf)->github_token != NULL)
		log_info("github: %s with a token", (*conf)->github_api_url);
	else
		log_info("github: no credentials; statuses are not reported "
		    "and pipelines are read with git");
	return (gh);
}

void
github_free(struct github *gh)
{
	struct gh_call		*c;
	struct gh_install	*in;

	if (gh == NULL)
		return;
	while ((c = TAILQ_FIRST(&gh->calls)) != NULL) {
		TAILQ_REMOVE(&gh->calls, c, entry);
		gh_call_free(c);
	}
	http_free(gh->http);
	ev_timer_del(gh->timer);
	while ((in = LIST_FIRST(&gh->installs)) != NULL) {
		LIST_REMOVE(in, entry);
		free(in->repo);
		free(in);
	}
	while (!LIST_EMPTY(&gh->tokens))
		github_token_drop(gh, LIST_FIRST(&gh->tokens)->installation);
	jwt_key_free(gh->key);
	free(gh->held_why);
	free(gh);
}
