/*
 * The daemon's HTTP client: libcurl's multi socket API driven by the event
 * loop. curl tells us which descriptors to watch (http_socket_cb) and when
 * to wake it (http_timer_cb); the loop calls curl_multi_socket_action()
 * back and nothing here ever blocks or starts a thread of its own.
 *
 * This is a transport only: one request, one answer, no retries, no
 * redirects, no rate-limit policy and no parsing of bodies. HTTP/1.1 with
 * the multi handle's connection cache, so requests to one host reuse a
 * connection.
 *
 * Invariants:
 * - A callback is never called from inside one of curl's callbacks.
 *   Finished transfers are taken off the multi handle and moved to the
 *   done queue after curl_multi_socket_action() returns; only then are
 *   their callbacks called, so a callback may submit, cancel or even free.
 * - Every transfer is on exactly one of h->active (in the multi handle) or
 *   h->done (waiting for its callback); http_cancel and http_free remove
 *   it from either without calling its callback.
 * - Causes name the host and port only, never the URL: URLs may carry
 *   signatures or tokens.
 */

#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "daemon.h"

/* Response headers beyond this are refused: a peer cannot make us hoard. */
#define HTTP_HEADERS_MAX	(64 * 1024)

struct http_sock {
	struct http		*h;
	curl_socket_t		 fd;
	struct ev_io		*io;
	LIST_ENTRY(http_sock)	 entry;
};

struct http_xfer {
	struct http		*h;
	uint64_t		 id;
	CURL			*easy;
	struct curl_slist	*hdrs;
	http_cb			 cb;
	void			*arg;

	char			*method;
	char			*hostport;	/* for causes */
	uint64_t		 timeout_ms;
	size_t			 max_size;
	int			 too_big;
	int			 hdrs_too_big;
	CURLcode		 result;
	char			 errbuf[CURL_ERROR_SIZE];

	struct buf		 body;
	struct http_header	*rhdrs;
	size_t			 nrhdrs;
	size_t			 rhdrs_bytes;

	TAILQ_ENTRY(http_xfer)	 entry;
};
TAILQ_HEAD(http_xfers, http_xfer);

struct http {
	struct ev_loop		*loop;
	CURLM			*multi;
	struct ev_timer		*timer;
	uint64_t		 next_id;
	struct http_xfers	 active;
	struct http_xfers	 done;
	LIST_HEAD(, http_sock)	 socks;
	int			 dispatching;
	int			 dead;		/* freed during a callback */
	int			 closing;	/* inside curl_multi_cleanup */
};

static u_int	http_users;	/* curl_global_init references */

static void	http_run(struct http *, curl_socket_t);
static void	http_destroy(struct http *);

static void
http_header_clear(struct http_xfer *x)
{
	size_t	 i;

	for (i = 0; i < x->nrhdrs; i++) {
		free(x->rhdrs[i].name);
		free(x->rhdrs[i].value);
	}
	free(x->rhdrs);
	x->rhdrs = NULL;
	x->nrhdrs = 0;
}

static void
http_xfer_free(struct http_xfer *x)
{
	if (x->easy != NULL)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->hdrs);
	http_header_clear(x);
	buf_release(&x->body);
	free(x->method);
	free(x->hostport);
	free(x);
}

static size_t
http_write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct http_xfer	*x = arg;

	n *= size;
	if (buf_add(&x->body, p, n) != 0) {
		x->too_big = 1;
		return (0);
	}
	return (n);
}

/*
 * One header line at a time. A status line starts a new response (after
 * a 100 Continue, say), so the headers collected so far are dropped.
 */
static size_t
http_header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct http_xfer	*x = arg;
	struct http_header	*hh;
	size_t			 len, nlen;
	const char		*colon, *v;

	len = n *= size;
	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		http_header_clear(x);
		x->rhdrs_bytes = 0;
		return (n);
	}
	x->rhdrs_bytes += n;
	if (x->rhdrs_bytes > HTTP_HEADERS_MAX) {
		x->hdrs_too_big = 1;
		return (0);
	}
	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
		len--;
	if (len == 0 || (colon = memchr(p, ':', len)) == NULL)
		return (n);
	nlen = colon - p;
	while (nlen > 0 && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
		nlen--;
	if (nlen == 0)
		return (n);
	v = colon + 1;
	while (v < p + len && (*v == ' ' || *v == '\t'))
		v++;
	while (len > (size_t)(v - p) && (p[len - 1] == ' ' ||
	    p[len - 1] == '\t'))
		len--;

	x->rhdrs = xreallocarray(x->rhdrs, x->nrhdrs + 1, sizeof *x->rhdrs);
	hh = &x->rhdrs[x->nrhdrs++];
	hh->name = xstrndup(p, nlen);
	hh->value = xstrndup(v, len - (v - p));
	return (n);
}

static void
http_io_cb(struct ev_loop *loop, int fd, void *arg)
{
	struct http_sock	*s = arg;

	(void)loop;
	(void)fd;
	/* ev does not say which events fired; curl checks itself with 0. */
	http_run(s->h, s->fd);
}

static int
http_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
    void *socketp)
{
	struct http		*h = userp;
	struct http_sock	*s = socketp;
	int			 events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			ev_io_del(s->io);
			LIST_REMOVE(s, entry);
			free(s);
			curl_multi_assign(h->multi, fd, NULL);
		}
		return (0);
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= EV_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= EV_WRITE;
	if (s == NULL) {
		s = xcalloc(1, sizeof *s);
		s->h = h;
		s->fd = fd;
		s->io = ev_io_add(h->loop, fd, events, http_io_cb, s);
		LIST_INSERT_HEAD(&h->socks, s, entry);
		curl_multi_assign(h->multi, fd, s);
	} else
		ev_io_set(s->io, events);
	return (0);
}

static void
http_timer_fire(struct ev_loop *loop, void *arg)
{
	struct http	*h = arg;

	(void)loop;
	h->timer = NULL;	/* ev frees a timer once it fires */
	http_run(h, CURL_SOCKET_TIMEOUT);
}

/* curl wants to be woken in ms (0: on the next turn; -1: never). */
static int
http_timer_cb(CURLM *multi, long ms, void *userp)
{
	struct http	*h = userp;

	(void)multi;
	ev_timer_del(h->timer);
	h->timer = NULL;
	if (ms >= 0 && !h->closing)
		h->timer = ev_timer_add(h->loop, (uint64_t)ms,
		    http_timer_fire, h);
	return (0);
}

static char *
http_cause(struct http_xfer *x)
{
	char	*cause;
	long	 oserr = 0;

	if (x->too_big) {
		xasprintf(&cause, "response from %s larger than %zu bytes",
		    x->hostport, x->max_size);
		return (cause);
	}
	if (x->hdrs_too_big) {
		xasprintf(&cause, "response headers from %s larger than %d "
		    "bytes", x->hostport, HTTP_HEADERS_MAX);
		return (cause);
	}
	switch (x->result) {
	case CURLE_FILESIZE_EXCEEDED:
		xasprintf(&cause, "response from %s larger than %zu bytes",
		    x->hostport, x->max_size);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		if (x->timeout_ms % 1000 == 0)
			xasprintf(&cause, "%s %s timed out after %llu s",
			    x->method, x->hostport,
			    (unsigned long long)x->timeout_ms / 1000);
		else
			xasprintf(&cause, "%s %s timed out after %llu ms",
			    x->method, x->hostport,
			    (unsigned long long)x->timeout_ms);
		break;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
		if (oserr == ECONNREFUSED)
			xasprintf(&cause, "connect to %s refused",
			    x->hostport);
		else if (oserr != 0)
			xasprintf(&cause, "connect to %s: %s", x->hostport,
			    strerror((int)oserr));
		else
			xasprintf(&cause, "connect to %s failed", x->hostport);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		xasprintf(&cause, "cannot resolve %s", x->hostport);
		break;
	default:
		xasprintf(&cause, "%s %s: %s", x->method, x->hostport,
		    x->errbuf[0] != '\0' ? x->errbuf :
		    curl_easy_strerror(x->result));
		break;
	}
	return (cause);
}

/* Call one finished transfer's callback, then free it. */
static void
http_finish(struct http *h, struct http_xfer *x)
{
	struct http_response	 r;
	char			*cause = NULL;

	memset(&r, 0, sizeof r);
	r.id = x->id;
	r.body = &x->body;
	if (x->result == CURLE_OK && !x->too_big && !x->hdrs_too_big) {
		r.ok = 1;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
		r.headers = x->rhdrs;
		r.nheaders = x->nrhdrs;
	} else {
		cause = http_cause(x);
		r.cause = cause;
		buf_reset(&x->body);
	}
	x->cb(h, &r, x->arg);
	free(cause);
	http_xfer_free(x);
}

/*
 * Let curl act on fd (or its timers), move what finished to the done
 * queue, then call the callbacks with curl out of the way.
 */
static void
http_run(struct http *h, curl_socket_t fd)
{
	struct http_xfer	*x;
	CURLMsg			*m;
	int			 running, left;

	curl_multi_socket_action(h->multi, fd, 0, &running);
	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		x = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &x);
		if (x == NULL)
			continue;
		x->result = m->data.result;
		curl_multi_remove_handle(h->multi, x->easy);
		TAILQ_REMOVE(&h->active, x, entry);
		TAILQ_INSERT_TAIL(&h->done, x, entry);
	}
	if (h->dispatching)
		return;
	h->dispatching = 1;
	while (!h->dead && (x = TAILQ_FIRST(&h->done)) != NULL) {
		TAILQ_REMOVE(&h->done, x, entry);
		http_finish(h, x);
	}
	h->dispatching = 0;
	if (h->dead)
		http_destroy(h);
}

struct http *
http_create(struct ev_loop *loop, char **cause)
{
	struct http	*h;

	if (http_users++ == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		http_users--;
		xasprintf(cause, "curl_global_init failed");
		return (NULL);
	}
	h = xcalloc(1, sizeof *h);
	h->loop = loop;
	h->next_id = 1;
	TAILQ_INIT(&h->active);
	TAILQ_INIT(&h->done);
	LIST_INIT(&h->socks);
	if ((h->multi = curl_multi_init()) == NULL) {
		xasprintf(cause, "curl_multi_init failed");
		free(h);
		if (--http_users == 0)
			curl_global_cleanup();
		return (NULL);
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return (h);
}

/*
 * Abort everything in flight without callbacks. Called from a callback,
 * the rest waits until the dispatch loop in http_run unwinds.
 */
void
http_free(struct http *h)
{
	struct http_xfer	*x;

	if (h == NULL || h->dead)
		return;
	while ((x = TAILQ_FIRST(&h->active)) != NULL) {
		TAILQ_REMOVE(&h->active, x, entry);
		curl_multi_remove_handle(h->multi, x->easy);
		http_xfer_free(x);
	}
	while ((x = TAILQ_FIRST(&h->done)) != NULL) {
		TAILQ_REMOVE(&h->done, x, entry);
		http_xfer_free(x);
	}
	if (h->dispatching)
		h->dead = 1;
	else
		http_destroy(h);
}

static void
http_destroy(struct http *h)
{
	struct http_sock	*s;

	h->closing = 1;
	curl_multi_cleanup(h->multi);
	while ((s = LIST_FIRST(&h->socks)) != NULL) {
		ev_io_del(s->io);
		LIST_REMOVE(s, entry);
		free(s);
	}
	ev_timer_del(h->timer);
	if (--http_users == 0)
		curl_global_cleanup();
	free(h);
}

/* "host:port" of url for causes, or a placeholder if it does not parse. */
static char *
http_hostport(const char *url)
{
	CURLU	*u;
	char	*host = NULL, *port = NULL, *s;

	if ((u = curl_url()) == NULL)
		return (xstrdup("(unknown)"));
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port,
	    CURLU_DEFAULT_PORT) != CURLUE_OK)
		s = xstrdup("(bad URL)");
	else
		xasprintf(&s, "%s:%s", host, port);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return (s);
}

static int
http_setup(struct http_xfer *x, const struct http_request *req, char **cause)
{
	CURL		*e = x->easy;
	const char	*const *hp;
	CURLcode	 rc = CURLE_OK;

#define SET(opt, val) do {						\
	if (rc == CURLE_OK)						\
		rc = curl_easy_setopt(e, (opt), (val));			\
} while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PRIVATE, x);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SET(CURLOPT_WRITEFUNCTION, http_write_cb);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_HEADERFUNCTION, http_header_cb);
	SET(CURLOPT_HEADERDATA, x);
	if (req->timeout_ms != 0)
		SET(CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	if (req->max_size != 0)
		SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_size);

	if (strcmp(x->method, "GET") == 0 && req->body == NULL)
		SET(CURLOPT_HTTPGET, 1L);
	else if (strcmp(x->method, "HEAD") == 0)
		SET(CURLOPT_NOBODY, 1L);
	else {
		if (req->body != NULL || strcmp(x->method, "POST") == 0) {
			SET(CURLOPT_POSTFIELDSIZE_LARGE,
			    (curl_off_t)req->bodylen);
			SET(CURLOPT_COPYPOSTFIELDS,
			    req->body != NULL ? req->body : "");
		}
		SET(CURLOPT_CUSTOMREQUEST, x->method);
	}

	/* No "Expect: 100-continue" round trip before a body. */
	x->hdrs = curl_slist_append(x->hdrs, "Expect:");
	for (hp = req->headers; hp != NULL && *hp != NULL; hp++) {
		if (strchr(*hp, ':') == NULL || strpbrk(*hp, "\r\n") != NULL) {
			xasprintf(cause, "bad header: %s", *hp);
			return (-1);
		}
		x->hdrs = curl_slist_append(x->hdrs, *hp);
	}
	SET(CURLOPT_HTTPHEADER, x->hdrs);
#undef SET
	if (rc != CURLE_OK) {
		xasprintf(cause, "%s %s: %s", x->method, x->hostport,
		    curl_easy_strerror(rc));
		return (-1);
	}
	return (0);
}

/*
 * Start req; cb is called once from the loop unless the request is
 * cancelled or http is freed first. req and what it points to are copied.
 * Returns the request's id (never 0), or 0 with *cause set.
 */
uint64_t
http_submit(struct http *h, const struct http_request *req, http_cb cb,
    void *arg, char **cause)
{
	struct http_xfer	*x;

	if (req->url == NULL) {
		xasprintf(cause, "no URL");
		return (0);
	}
	x = xcalloc(1, sizeof *x);
	x->h = h;
	x->cb = cb;
	x->arg = arg;
	x->method = xstrdup(req->method != NULL ? req->method : "GET");
	x->hostport = http_hostport(req->url);
	x->timeout_ms = req->timeout_ms;
	x->max_size = req->max_size;
	buf_init(&x->body, req->max_size);
	if ((x->easy = curl_easy_init()) == NULL) {
		xasprintf(cause, "curl_easy_init failed");
		http_xfer_free(x);
		return (0);
	}
	if (http_setup(x, req, cause) != 0) {
		http_xfer_free(x);
		return (0);
	}
	if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK) {
		xasprintf(cause, "%s %s: cannot add transfer", x->method,
		    x->hostport);
		http_xfer_free(x);
		return (0);
	}
	x->id = h->next_id++;
	TAILQ_INSERT_TAIL(&h->active, x, entry);
	return (x->id);
}

/* Drop a request without its callback; returns -1 if id is unknown. */
int
http_cancel(struct http *h, uint64_t id)
{
	struct http_xfer	*x;

	TAILQ_FOREACH(x, &h->active, entry) {
		if (x->id == id) {
			TAILQ_REMOVE(&h->active, x, entry);
			curl_multi_remove_handle(h->multi, x->easy);
			http_xfer_free(x);
			return (0);
		}
	}
	TAILQ_FOREACH(x, &h->done, entry) {
		if (x->id == id) {
			TAILQ_REMOVE(&h->done, x, entry);
			http_xfer_free(x);
			return (0);
		}
	}
	return (-1);
}

/* The first header called name, any case; borrowed, NULL if none. */
const char *
http_response_header(const struct http_response *r, const char *name)
{
	size_t	 i;

	for (i = 0; i < r->nheaders; i++) {
		if (strcasecmp(r->headers[i].name, name) == 0)
			return (r->headers[i].value);
	}
	return (NULL);
}
