/*
 * The HTTP client against a real server on 127.0.0.1: libmicrohttpd with
 * its own threads, in this test only, so the client's loop stays the only
 * thing on the main thread. Statuses, headers, bodies, timeouts, refused
 * connections, size caps, many transfers at once, cancels, callbacks that
 * submit, and freeing with requests in flight. Every wait is bounded.
 */

#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "daemon.h"
#include "tap.h"

struct upload {
	struct buf	 b;
};

struct done {
	int		 fired;
	int		 ok;
	long		 status;
	char		*cause;
	char		*body;
	size_t		 bodylen;
	char		*hdr[4];	/* values of want[] below */
};

static const char	*want[4] = {
	"x-ratelimit-remaining", "RETRY-AFTER", "X-Echo-Custom", "Content-Type"
};

static u_short		 port;
static int		 connections;	/* opened by clients, atomic */
static char		 base[64];

static enum MHD_Result
send_text(struct MHD_Connection *c, u_int status, const char *text,
    size_t len)
{
	struct MHD_Response	*resp;
	enum MHD_Result		 rv;

	resp = MHD_create_response_from_buffer(len, (void *)text,
	    MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(resp, "X-RateLimit-Remaining", "42");
	MHD_add_response_header(resp, "Retry-After", "7");
	rv = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return (rv);
}

static ssize_t
chunked_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	size_t	 total = (size_t)(uintptr_t)cls, n;

	if (pos >= total)
		return (MHD_CONTENT_READER_END_OF_STREAM);
	n = total - pos < max ? total - pos : max;
	memset(out, 'z', n);
	return ((ssize_t)n);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct upload	*u = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (u != NULL) {
		buf_release(&u->b);
		free(u);
		*con_cls = NULL;
	}
}

static void
notify_conn(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)c;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		__atomic_add_fetch(&connections, 1, __ATOMIC_SEQ_CST);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data,
    size_t *datalen, void **con_cls)
{
	struct upload		*u = *con_cls;
	struct MHD_Response	*resp;
	struct buf		 b;
	const char		*v;
	enum MHD_Result		 rv;
	size_t			 n;

	(void)cls;
	(void)version;
	if (u == NULL) {
		u = xcalloc(1, sizeof *u);
		buf_init(&u->b, 0);
		*con_cls = u;
		return (MHD_YES);
	}
	if (*datalen != 0) {
		buf_add(&u->b, data, *datalen);
		*datalen = 0;
		return (MHD_YES);
	}

	if (strcmp(url, "/hello") == 0)
		return (send_text(c, 200, "hello, world", 12));
	if (strcmp(url, "/404") == 0)
		return (send_text(c, 404, "not here", 8));
	if (strcmp(url, "/500") == 0)
		return (send_text(c, 500, "broken", 6));
	if (strncmp(url, "/slow/", 6) == 0) {
		usleep(strtoul(url + 6, NULL, 10) * 1000);
		return (send_text(c, 200, url, strlen(url)));
	}
	if (strncmp(url, "/big/", 5) == 0) {
		n = strtoul(url + 5, NULL, 10);
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN,
		    4096, chunked_reader, (void *)(uintptr_t)n, NULL);
		rv = MHD_queue_response(c, 200, resp);
		MHD_destroy_response(resp);
		return (rv);
	}
	if (strncmp(url, "/sized/", 7) == 0) {
		n = strtoul(url + 7, NULL, 10);
		buf_init(&b, 0);
		while (b.len < n)
			buf_add(&b, "y", 1);
		rv = send_text(c, 200, b.data, b.len);
		buf_release(&b);
		return (rv);
	}
	if (strcmp(url, "/echo") == 0) {
		buf_init(&b, 0);
		buf_printf(&b, "%s ", method);
		if (u->b.len != 0)
			buf_add(&b, u->b.data, u->b.len);
		resp = MHD_create_response_from_buffer(b.len, b.data,
		    MHD_RESPMEM_MUST_COPY);
		buf_release(&b);
		v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    "X-Custom");
		MHD_add_response_header(resp, "X-Echo-Custom",
		    v != NULL ? v : "(none)");
		v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    "Content-Type");
		MHD_add_response_header(resp, "Content-Type",
		    v != NULL ? v : "(none)");
		rv = MHD_queue_response(c, 200, resp);
		MHD_destroy_response(resp);
		return (rv);
	}
	return (send_text(c, 400, "?", 1));
}

static struct MHD_Daemon *
server_start(void)
{
	struct MHD_Daemon		*d;
	struct sockaddr_in		 sin;
	const union MHD_DaemonInfo	*di;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, handler, NULL,
	    MHD_OPTION_SOCK_ADDR, &sin,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	    MHD_OPTION_NOTIFY_CONNECTION, notify_conn, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, (u_int)30,
	    MHD_OPTION_END);
	if (d == NULL)
		return (NULL);
	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	port = di->port;
	snprintf(base, sizeof base, "http://127.0.0.1:%u", port);
	return (d);
}

static void
done_reset(struct done *d)
{
	size_t	 i;

	free(d->cause);
	free(d->body);
	for (i = 0; i < 4; i++)
		free(d->hdr[i]);
	memset(d, 0, sizeof *d);
}

static void
done_cb(struct http *h, const struct http_response *r, void *arg)
{
	struct done	*d = arg;
	const char	*v;
	size_t		 i;

	(void)h;
	d->fired++;
	d->ok = r->ok;
	d->status = r->status;
	if (r->cause != NULL)
		d->cause = xstrdup(r->cause);
	d->body = buf_detach(r->body, &d->bodylen);
	for (i = 0; i < 4; i++) {
		if ((v = http_response_header(r, want[i])) != NULL)
			d->hdr[i] = xstrdup(v);
	}
}

/* Keeps every turn short, so the waits below can check their deadline. */
static void
tick(struct ev_loop *loop, void *arg)
{
	(void)arg;
	ev_timer_add(loop, 20, tick, NULL);
}

/* Turn the loop until *flag reaches n or ms have passed. */
static int
wait_for(struct ev_loop *loop, int *flag, int n, uint64_t ms)
{
	uint64_t	 deadline = util_mono_ms() + ms;
	int		 turns = 0;

	while (*flag < n && util_mono_ms() < deadline && turns++ < 100000)
		ev_run_once(loop, 1);
	return (*flag >= n);
}

/* Turn the loop until all n have fired or ms have passed; how many did. */
static int
wait_all(struct ev_loop *loop, struct done *d, int n, uint64_t ms)
{
	uint64_t	 deadline = util_mono_ms() + ms;
	int		 i, fired;

	for (;;) {
		for (fired = 0, i = 0; i < n; i++)
			fired += d[i].fired;
		if (fired >= n || util_mono_ms() >= deadline)
			return (fired);
		ev_run_once(loop, 1);
	}
}

static uint64_t
get(struct http *h, const char *path, uint64_t timeout_ms, size_t max,
    struct done *d)
{
	struct http_request	 req;
	char			*url, *cause = NULL;
	uint64_t		 id;

	memset(&req, 0, sizeof req);
	if (strncmp(path, "http", 4) == 0)
		url = xstrdup(path);
	else
		xasprintf(&url, "%s%s", base, path);
	req.url = url;
	req.timeout_ms = timeout_ms;
	req.max_size = max;
	id = http_submit(h, &req, done_cb, d, &cause);
	if (id == 0) {
		printf("# http_submit %s: %s\n", url, cause);
		free(cause);
	}
	free(url);
	return (id);
}

static void
test_get(struct ev_loop *loop, struct http *h)
{
	struct done	 d;
	int		 before;

	memset(&d, 0, sizeof d);
	ok(get(h, "/hello", 5000, 0, &d) != 0, "GET submitted");
	ok(wait_for(loop, &d.fired, 1, 5000), "GET called back");
	ok(d.ok, "GET transport ok");
	is_int(d.status, 200, "GET status 200");
	is_str(d.body, "hello, world", "GET body");
	is_int(d.bodylen, 12, "GET body length");
	is_str(d.hdr[0], "42", "X-RateLimit-Remaining by lower-case name");
	is_str(d.hdr[1], "7", "Retry-After by upper-case name");
	ok(d.hdr[2] == NULL, "absent header is NULL");
	ok(d.fired == 1, "called back once");

	/* A second request to the same host reuses the connection. */
	before = __atomic_load_n(&connections, __ATOMIC_SEQ_CST);
	done_reset(&d);
	get(h, "/hello", 5000, 0, &d);
	ok(wait_for(loop, &d.fired, 1, 5000) && d.status == 200,
	    "second GET");
	is_int(__atomic_load_n(&connections, __ATOMIC_SEQ_CST), before,
	    "connection kept alive");
	done_reset(&d);
}

static void
test_post(struct ev_loop *loop, struct http *h)
{
	struct http_request	 req;
	struct done		 d;
	const char		*hdrs[] = { "Content-Type: application/json",
				    "X-Custom: bees", NULL };
	const char		*json = "{\"hive\": 1, \"bees\": [1, 2]}";
	char			*url, *cause = NULL, *want_body;

	memset(&d, 0, sizeof d);
	memset(&req, 0, sizeof req);
	xasprintf(&url, "%s/echo", base);
	req.method = "POST";
	req.url = url;
	req.headers = hdrs;
	req.body = json;
	req.bodylen = strlen(json);
	req.timeout_ms = 5000;
	ok(http_submit(h, &req, done_cb, &d, &cause) != 0, "POST submitted");
	free(url);
	ok(wait_for(loop, &d.fired, 1, 5000), "POST called back");
	is_int(d.status, 200, "POST status");
	xasprintf(&want_body, "POST %s", json);
	is_str(d.body, want_body, "POST body echoed");
	free(want_body);
	is_str(d.hdr[2], "bees", "custom header echoed");
	is_str(d.hdr[3], "application/json", "content type echoed");
	done_reset(&d);

	/* A PUT with a body goes through the custom method path. */
	xasprintf(&url, "%s/echo", base);
	req.method = "PUT";
	req.url = url;
	req.headers = NULL;
	req.body = "x";
	req.bodylen = 1;
	http_submit(h, &req, done_cb, &d, &cause);
	free(url);
	ok(wait_for(loop, &d.fired, 1, 5000), "PUT called back");
	is_str(d.body, "PUT x", "PUT body echoed");
	done_reset(&d);

	/* A header without a colon is refused at submit. */
	req.headers = (const char *[]){ "nonsense", NULL };
	req.url = base;
	ok(http_submit(h, &req, done_cb, &d, &cause) == 0,
	    "bad header refused");
	like(cause, "bad header", "bad header cause");
	free(cause);
}

static void
test_status(struct ev_loop *loop, struct http *h)
{
	struct done	 d;

	memset(&d, 0, sizeof d);
	get(h, "/404", 5000, 0, &d);
	ok(wait_for(loop, &d.fired, 1, 5000), "404 called back");
	ok(d.ok && d.cause == NULL, "404 is not a transport error");
	is_int(d.status, 404, "404 status");
	is_str(d.body, "not here", "404 body");
	done_reset(&d);

	get(h, "/500", 5000, 0, &d);
	ok(wait_for(loop, &d.fired, 1, 5000), "500 called back");
	ok(d.ok && d.cause == NULL, "500 is not a transport error");
	is_int(d.status, 500, "500 status");
	done_reset(&d);
}

static void
test_timeout(struct ev_loop *loop, struct http *h)
{
	struct done	 d;

	memset(&d, 0, sizeof d);
	get(h, "/slow/1500", 300, 0, &d);
	ok(wait_for(loop, &d.fired, 1, 5000), "slow server called back");
	ok(!d.ok, "timeout is a transport error");
	like(d.cause, "timed out after 300 ms", "timeout cause");
	done_reset(&d);

	get(h, "/slow/10", 2000, 0, &d);
	ok(wait_for(loop, &d.fired, 1, 5000) && d.status == 200,
	    "a fast answer inside its timeout");
	done_reset(&d);
}

static void
test_refused(struct ev_loop *loop, struct http *h)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;
	struct done		 d;
	char			*url, *want_cause;
	int			 fd;

	/* Bound but not listening: nothing can accept on this port. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		ok(0, "cannot bind a refusing port");
		return;
	}
	memset(&d, 0, sizeof d);
	xasprintf(&url, "http://127.0.0.1:%u/x", ntohs(sin.sin_port));
	get(h, url, 5000, 0, &d);
	free(url);
	ok(wait_for(loop, &d.fired, 1, 5000), "refused called back");
	ok(!d.ok, "refused is a transport error");
	xasprintf(&want_cause, "connect to 127.0.0.1:%u refused",
	    ntohs(sin.sin_port));
	is_str(d.cause, want_cause, "refused cause");
	free(want_cause);
	ok(d.bodylen == 0, "refused has no body");
	done_reset(&d);
	close(fd);
}

static void
test_max_size(struct ev_loop *loop, struct http *h)
{
	struct done	 d;

	memset(&d, 0, sizeof d);
	get(h, "/big/100000", 5000, 1000, &d);
	ok(wait_for(loop, &d.fired, 1, 5000), "chunked big called back");
	ok(!d.ok, "chunked over max fails");
	like(d.cause, "larger than 1000 bytes", "chunked over max cause");
	done_reset(&d);

	get(h, "/sized/5000", 5000, 1000, &d);
	ok(wait_for(loop, &d.fired, 1, 5000), "sized big called back");
	ok(!d.ok, "Content-Length over max fails");
	like(d.cause, "larger than 1000 bytes", "Content-Length over cause");
	done_reset(&d);

	get(h, "/sized/1000", 5000, 1000, &d);
	ok(wait_for(loop, &d.fired, 1, 5000) && d.ok && d.bodylen == 1000,
	    "exactly max is fine");
	done_reset(&d);
}

static void
test_many(struct ev_loop *loop, struct http *h)
{
	struct done	 d[20];
	char		 path[32];
	int		 i, fired = 0, good = 0;

	memset(d, 0, sizeof d);
	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof path, "/slow/%d", 100 + i);
		if (get(h, path, 10000, 0, &d[i]) == 0)
			break;
	}
	is_int(i, 20, "20 submitted");
	fired = wait_all(loop, d, 20, 10000);
	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof path, "/slow/%d", 100 + i);
		good += d[i].fired == 1 && d[i].ok && d[i].status == 200 &&
		    d[i].body != NULL && strcmp(d[i].body, path) == 0;
	}
	is_int(fired, 20, "20 in flight all called back");
	is_int(good, 20, "20 in flight all right");
	for (i = 0; i < 20; i++)
		done_reset(&d[i]);
}

struct chain {
	struct ev_loop	*loop;
	struct done	 second;
	int		 first;
	uint64_t	 victim;
	int		 cancelled;
};

static void
chain_cb(struct http *h, const struct http_response *r, void *arg)
{
	struct chain	*c = arg;

	(void)r;
	c->first++;
	c->cancelled = http_cancel(h, c->victim);
	get(h, "/hello", 5000, 0, &c->second);
}

static void
test_cancel(struct ev_loop *loop, struct http *h)
{
	struct http_request	 req;
	struct done		 d[5];
	struct chain		 c;
	char			*url, *cause = NULL;
	uint64_t		 ids[5];
	uint64_t		 deadline;
	int			 i;

	memset(d, 0, sizeof d);
	for (i = 0; i < 5; i++)
		ids[i] = get(h, "/slow/200", 5000, 0, &d[i]);
	is_int(http_cancel(h, ids[2]), 0, "cancel one of five");
	is_int(http_cancel(h, ids[2]), -1, "cancel it again is unknown");
	wait_all(loop, d, 5, 1000);	/* four fire; it waits out the rest */
	ok(d[0].fired && d[1].fired && d[3].fired && d[4].fired,
	    "the other four called back");
	is_int(d[2].fired, 0, "the cancelled one did not");
	for (i = 0; i < 5; i++)
		done_reset(&d[i]);

	/* A callback cancels another request and submits a new one. */
	memset(&c, 0, sizeof c);
	c.loop = loop;
	memset(&req, 0, sizeof req);
	xasprintf(&url, "%s/slow/50", base);
	req.url = url;
	req.timeout_ms = 5000;
	http_submit(h, &req, chain_cb, &c, &cause);
	free(url);
	c.victim = get(h, "/slow/1000", 5000, 0, &d[0]);
	ok(wait_for(loop, &c.second.fired, 1, 5000), "callback submitted");
	is_int(c.first, 1, "first called back once");
	is_int(c.cancelled, 0, "callback cancelled another");
	is_int(c.second.status, 200, "submitted from a callback");
	for (deadline = util_mono_ms() + 1200; util_mono_ms() < deadline;)
		ev_run_once(loop, 1);
	is_int(d[0].fired, 0, "cancelled from a callback: no call");
	done_reset(&c.second);
	done_reset(&d[0]);
}

static void
freeing_cb(struct http *h, const struct http_response *r, void *arg)
{
	int	*n = arg;

	(void)r;
	(*n)++;
	http_free(h);
}

static void
test_free(struct ev_loop *loop)
{
	struct http	*h;
	struct done	 d[5];
	char		*cause = NULL;
	int		 i, n = 0, fired = 0;
	uint64_t	 deadline;

	memset(d, 0, sizeof d);
	h = http_create(loop, &cause);
	for (i = 0; i < 5; i++)
		get(h, "/slow/300", 5000, 0, &d[i]);
	for (deadline = util_mono_ms() + 100; util_mono_ms() < deadline;)
		ev_run_once(loop, 1);
	http_free(h);
	for (deadline = util_mono_ms() + 500; util_mono_ms() < deadline;)
		ev_run_once(loop, 1);
	for (i = 0; i < 5; i++)
		fired += d[i].fired;
	is_int(fired, 0, "http_free in flight: no callbacks");

	/* Freed from inside a callback, with others still in flight. */
	h = http_create(loop, &cause);
	{
		struct http_request	 req;
		char			*url;

		memset(&req, 0, sizeof req);
		xasprintf(&url, "%s/hello", base);
		req.url = url;
		http_submit(h, &req, freeing_cb, &n, &cause);
		free(url);
	}
	for (i = 0; i < 3; i++)
		get(h, "/slow/500", 5000, 0, &d[i]);
	ok(wait_for(loop, &n, 1, 5000), "freeing callback called");
	for (deadline = util_mono_ms() + 800; util_mono_ms() < deadline;)
		ev_run_once(loop, 1);
	is_int(n, 1, "freeing callback called once");
	for (fired = 0, i = 0; i < 5; i++)
		fired += d[i].fired;
	is_int(fired, 0, "freed from a callback: no other callbacks");
	for (i = 0; i < 5; i++)
		done_reset(&d[i]);
	http_free(NULL);
	ok(1, "http_free(NULL)");
}

int
main(void)
{
	struct MHD_Daemon	*mhd;
	struct ev_loop		*loop;
	struct http		*h;
	char			*cause = NULL;

	if ((mhd = server_start()) == NULL)
		skip_all("cannot start a server on 127.0.0.1");
	loop = ev_create();
	tick(loop, NULL);
	h = http_create(loop, &cause);
	if (!ok(h != NULL, "http_create"))
		return (done_testing());

	test_get(loop, h);
	test_post(loop, h);
	test_status(loop, h);
	test_timeout(loop, h);
	test_refused(loop, h);
	test_max_size(loop, h);
	test_many(loop, h);
	test_cancel(loop, h);
	http_free(h);
	test_free(loop);

	ev_free(loop);
	MHD_stop_daemon(mhd);
	return (done_testing());
}
