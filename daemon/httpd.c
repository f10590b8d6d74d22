/*
 * The HTTP server: libmicrohttpd in external mode inside the event loop.
 * MHD's epoll descriptor is one more fd in the loop; MHD_run() is called
 * when it is readable and whenever MHD says a deadline is due.
 *
 * This file owns the listening socket, routing by path and method, request
 * bodies (bounded per route), and answers. A route's end() either answers
 * at once or suspends the request (the webhook waits for its group commit)
 * and answers later with httpd_respond(), which resumes it. Every answer is
 * one line of text/plain, because the people who read them are looking at
 * GitHub's delivery page or a curl command.
 */

#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "daemon.h"

#define HTTPD_ROUTES_MAX	16
#define HTTPD_DEFAULT_BODY	(64 * 1024)
#define HTTPD_DROP_MAX		(256ULL * 1024 * 1024)

struct httpd {
	struct ev_loop		*loop;
	struct MHD_Daemon	*mhd;
	int			 fd;
	struct ev_io		*io;
	char			 address[128];
	struct {
		const struct httpd_route *route;
		void		*arg;
	}			 routes[HTTPD_ROUTES_MAX];
	u_int			 nroutes;
	u_int			 inflight;
	int			 resumed;	/* MHD must run this turn */
};

struct httpd_req {
	struct httpd		*h;
	struct MHD_Connection	*conn;
	const struct httpd_route *route;
	void			*arg;
	const char		*method;
	const char		*url;
	struct buf		 body;
	char			 remote[64];
	int			 ended;		/* end() was called */
	int			 too_large;	/* body passed the cap */
	uint64_t		 dropped;
	int			 suspended;
	int			 queued;
	u_int			 status;
	char			*text;
	const char		*content_type;
	int			 fd;		/* a file to send, or -1 */
	uint64_t		 offset;
	uint64_t		 size;
	const char		*allow;
	char			*hname;		/* one extra header */
	char			*hvalue;
	void			*data;
};

static void
httpd_logger(void *arg, const char *fmt, va_list ap)
{
	char	 msg[512];
	size_t	 len;

	vsnprintf(msg, sizeof msg, fmt, ap);
	len = strlen(msg);
	while (len > 0 && msg[len - 1] == '\n')
		msg[--len] = '\0';
	log_warn("http: %s", msg);
}

static void
httpd_queue(struct httpd_req *req)
{
	struct MHD_Response	*resp;

	if (req->fd != -1) {
		/* MHD owns the descriptor from here and closes it. */
		resp = MHD_create_response_from_fd_at_offset64(req->size,
		    req->fd, req->offset);
		if (resp == NULL)
			close(req->fd);
		req->fd = -1;
	} else
		resp = MHD_create_response_from_buffer(strlen(req->text),
		    req->text, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL) {
		log_error("http: cannot create a response");
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    req->content_type != NULL ? req->content_type :
	    "text/plain; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	if (req->allow != NULL) {
		/* HTTP lists methods with commas; routes, with spaces. */
		struct buf	 allow;
		const char	*p;

		buf_init(&allow, 0);
		for (p = req->allow; *p != '\0'; p++) {
			if (*p == ' ')
				buf_addstr(&allow, ", ");
			else
				buf_add(&allow, p, 1);
		}
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    allow.data);
		buf_release(&allow);
	}
	if (req->hname != NULL)
		MHD_add_response_header(resp, req->hname, req->hvalue);
	if (MHD_queue_response(req->conn, req->status, resp) != MHD_YES)
		log_warn("http: %s: cannot queue %u response", req->remote,
		    req->status);
	MHD_destroy_response(resp);
	req->queued = 1;
}

/* An answer is ready: a suspended request goes on, to have it queued. */
static void
httpd_resume(struct httpd_req *req)
{
	if (!req->suspended)
		return;
	req->suspended = 0;
	MHD_resume_connection(req->conn);
	req->h->resumed = 1;
}

/*
 * Answer a request with one line of text. Outside the access handler (the
 * request is suspended) the answer is kept and the request resumed; MHD
 * then calls the handler again, which queues it.
 */
void
httpd_respond(struct httpd_req *req, u_int status, const char *fmt, ...)
{
	va_list	 ap;
	char	*line;

	if (req->status != 0)
		return;
	va_start(ap, fmt);
	xvasprintf(&line, fmt, ap);
	va_end(ap);
	xasprintf(&req->text, "%s\n", line);
	free(line);
	req->status = status;
	httpd_resume(req);
}

/*
 * Answer with size bytes of the open file fd from offset (fd is ours to
 * close from now on).
 */
void
httpd_respond_file(struct httpd_req *req, u_int status, int fd,
    uint64_t offset, uint64_t size, const char *content_type)
{
	if (req->status != 0) {
		close(fd);
		return;
	}
	req->text = xstrdup("");
	req->fd = fd;
	req->offset = offset;
	req->size = size;
	req->content_type = content_type;
	req->status = status;
	httpd_resume(req);
}

/* Answer with a whole document of the given type (copied). */
void
httpd_respond_text(struct httpd_req *req, u_int status,
    const char *content_type, const char *text)
{
	if (req->status != 0)
		return;
	req->text = xstrdup(text);
	req->content_type = content_type;
	req->status = status;
	httpd_resume(req);
}

/* Add a header to the answer (one per request). */
void
httpd_set_header(struct httpd_req *req, const char *name, const char *value)
{
	free(req->hname);
	free(req->hvalue);
	req->hname = xstrdup(name);
	req->hvalue = xstrdup(value);
}

/* A URL query argument, or NULL. */
const char *
httpd_query(struct httpd_req *req, const char *name)
{
	return (MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
	    name));
}

const char *
httpd_url(struct httpd_req *req)
{
	return (req->url);
}

void
httpd_suspend(struct httpd_req *req)
{
	if (req->status != 0 || req->suspended)
		return;
	req->suspended = 1;
	MHD_suspend_connection(req->conn);
}

int
httpd_responded(struct httpd_req *req)
{
	return (req->status != 0);
}

const char *
httpd_method(struct httpd_req *req)
{
	return (req->method);
}

const char *
httpd_header(struct httpd_req *req, const char *name)
{
	return (MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
	    name));
}

const char *
httpd_remote(struct httpd_req *req)
{
	return (req->remote);
}

const struct buf *
httpd_body(struct httpd_req *req)
{
	return (&req->body);
}

/* Whether the body passed the route's cap (it was then not kept). */
int
httpd_too_large(struct httpd_req *req)
{
	return (req->too_large);
}

void
httpd_set_data(struct httpd_req *req, void *data)
{
	req->data = data;
}

void *
httpd_get_data(struct httpd_req *req)
{
	return (req->data);
}

static void
httpd_remote_address(struct httpd_req *req)
{
	const union MHD_ConnectionInfo	*ci;
	char				 host[NI_MAXHOST];

	util_strlcpy(req->remote, "unknown", sizeof req->remote);
	ci = MHD_get_connection_info(req->conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	if (getnameinfo(ci->client_addr, ci->client_addr->sa_family ==
	    AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
	    host, sizeof host, NULL, 0, NI_NUMERICHOST) == 0)
		util_strlcpy(req->remote, host, sizeof req->remote);
}

static int
httpd_method_allowed(const char *methods, const char *method)
{
	const char	*p = methods;
	size_t		 len = strlen(method);

	while ((p = strstr(p, method)) != NULL) {
		if ((p == methods || p[-1] == ' ') &&
		    (p[len] == '\0' || p[len] == ' '))
			return (1);
		p += len;
	}
	return (0);
}

/* The first call for a request: route it and let the route look first. */
static void
httpd_begin(struct httpd_req *req, const char *url)
{
	struct httpd	*h = req->h;
	const char	*path;
	u_int		 i;
	size_t		 max, len;

	/* A path ending in '/' takes everything below it. */
	for (i = 0; i < h->nroutes; i++) {
		path = h->routes[i].route->path;
		len = strlen(path);
		if (strcmp(path, url) == 0 || (len > 0 &&
		    path[len - 1] == '/' && strncmp(path, url, len) == 0))
			break;
	}
	req->url = url;
	if (i == h->nroutes) {
		log_info("http: %s %s %s: 404", req->remote, req->method, url);
		httpd_respond(req, MHD_HTTP_NOT_FOUND, "404 no such page: %s",
		    url);
		return;
	}
	req->route = h->routes[i].route;
	req->arg = h->routes[i].arg;
	if (!httpd_method_allowed(req->route->methods, req->method)) {
		log_info("http: %s %s %s: 405", req->remote, req->method, url);
		req->allow = req->route->methods;
		httpd_respond(req, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "405 method %s not allowed on %s (use %s)", req->method,
		    url, req->route->methods);
		return;
	}
	max = req->route->max_body != NULL ? req->route->max_body(req->arg) :
	    HTTPD_DEFAULT_BODY;
	buf_init(&req->body, max);
	if (req->route->begin != NULL)
		req->route->begin(req, req->arg);
}

static enum MHD_Result
httpd_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct httpd		*h = cls;
	struct httpd_req	*req = *con_cls;

	if (req == NULL) {
		req = xcalloc(1, sizeof *req);
		req->h = h;
		req->conn = conn;
		req->fd = -1;
		req->method = method;
		*con_cls = req;
		h->inflight++;
		httpd_remote_address(req);
		httpd_begin(req, url);
	} else if (*upload_size != 0) {
		/*
		 * Past the route's cap the rest is read and dropped: MHD
		 * cannot answer in the middle of a body, and end() answers
		 * 413 once it is over. A sender that goes on far past the
		 * cap is cut off without an answer.
		 */
		if (req->status != 0 || req->too_large ||
		    buf_add(&req->body, upload, *upload_size) != 0) {
			if (req->status == 0 && !req->too_large) {
				req->too_large = 1;
				buf_release(&req->body);
			}
			req->dropped += *upload_size;
			if (req->dropped > HTTPD_DROP_MAX) {
				log_warn("http: %s: body far over the limit, "
				    "connection closed", req->remote);
				return (MHD_NO);
			}
		}
		*upload_size = 0;
	} else if (!req->ended && req->status == 0) {
		req->ended = 1;
		if (req->route->end != NULL)
			req->route->end(req, req->arg);
		else
			httpd_respond(req, MHD_HTTP_NO_CONTENT, "204");
	}
	if (req->status != 0 && !req->queued && !req->suspended)
		httpd_queue(req);
	return (MHD_YES);
}

static void
httpd_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct httpd		*h = cls;
	struct httpd_req	*req = *con_cls;

	if (req == NULL)
		return;
	if (req->route != NULL && req->route->cancel != NULL)
		req->route->cancel(req, req->arg);
	buf_release(&req->body);
	if (req->fd != -1)
		close(req->fd);
	free(req->hname);
	free(req->hvalue);
	free(req->text);
	free(req);
	*con_cls = NULL;
	h->inflight--;
}

static void
httpd_ready(struct ev_loop *loop, int fd, void *arg)
{
	struct httpd	*h = arg;

	MHD_run(h->mhd);
}

static int
httpd_timeout(struct ev_loop *loop, void *arg)
{
	struct httpd		*h = arg;
	MHD_UNSIGNED_LONG_LONG	 t;

	if (h->resumed)
		return (0);
	if (h->mhd == NULL || MHD_get_timeout(h->mhd, &t) != MHD_YES)
		return (-1);
	return (t > INT_MAX ? INT_MAX : (int)t);
}

/*
 * Run MHD when its epoll descriptor cannot say so: a connection resumed
 * since the last run (its answer is waiting to be queued; resuming does
 * not wake the descriptor reliably), or MHD holds connections with data
 * already read or a deadline due. The timeout hook returns 0 while a
 * resumed connection waits, so the loop comes back here at once.
 */
static void
httpd_before_sleep(struct ev_loop *loop, void *arg)
{
	struct httpd		*h = arg;
	MHD_UNSIGNED_LONG_LONG	 t;

	if (h->mhd == NULL)
		return;
	if (h->resumed ||
	    (MHD_get_timeout(h->mhd, &t) == MHD_YES && t == 0)) {
		h->resumed = 0;
		MHD_run(h->mhd);
	}
}

static int
httpd_listen(struct httpd *h, const char *host, const char *port,
    char **cause)
{
	struct addrinfo		 hints, *res, *ai;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof ss;
	char			 nhost[NI_MAXHOST], nport[NI_MAXSERV];
	int			 fd = -1, on = 1, error, saved = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((error = getaddrinfo(host, port, &hints, &res)) != 0) {
		xasprintf(cause, "listen %s:%s: %s", host, port,
		    gai_strerror(error));
		return (-1);
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, SOMAXCONN) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		xasprintf(cause, "listen %s:%s: %s", host, port,
		    strerror(saved));
		return (-1);
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, sslen, nhost, sizeof nhost,
	    nport, sizeof nport, NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
		snprintf(h->address, sizeof h->address,
		    ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", nhost,
		    nport);
	} else
		snprintf(h->address, sizeof h->address, "%s:%s", host, port);
	h->fd = fd;
	return (0);
}

struct httpd *
httpd_create(struct ev_loop *loop, const char *host, const char *port,
    char **cause)
{
	struct httpd			*h;
	const union MHD_DaemonInfo	*di;

	h = xcalloc(1, sizeof *h);
	h->loop = loop;
	h->fd = -1;
	if (httpd_listen(h, host, port, cause) != 0)
		goto fail;
	h->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO |
	    MHD_USE_ERROR_LOG, 0, NULL, NULL, httpd_access, h,
	    MHD_OPTION_EXTERNAL_LOGGER, httpd_logger, h,
	    MHD_OPTION_LISTEN_SOCKET, h->fd,
	    MHD_OPTION_NOTIFY_COMPLETED, httpd_completed, h,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1000,
	    MHD_OPTION_END);
	if (h->mhd == NULL) {
		xasprintf(cause, "listen %s: cannot start the HTTP server",
		    h->address);
		goto fail;
	}
	di = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (di == NULL) {
		xasprintf(cause, "HTTP server has no epoll descriptor");
		goto fail;
	}
	h->io = ev_io_add(loop, di->epoll_fd, EV_READ, httpd_ready, h);
	ev_timeout_hook(loop, httpd_timeout, h);
	ev_before_sleep(loop, httpd_before_sleep, h);
	return (h);

fail:
	httpd_free(h);
	return (NULL);
}

void
httpd_free(struct httpd *h)
{
	if (h == NULL)
		return;
	ev_io_del(h->io);
	if (h->mhd != NULL)
		MHD_stop_daemon(h->mhd);
	h->mhd = NULL;
	if (h->fd != -1)
		close(h->fd);
	free(h);
}

void
httpd_route(struct httpd *h, const struct httpd_route *route, void *arg)
{
	if (h->nroutes == HTTPD_ROUTES_MAX)
		fatalx("httpd_route: too many routes");
	h->routes[h->nroutes].route = route;
	h->routes[h->nroutes].arg = arg;
	h->nroutes++;
}

/* Stop accepting new connections; requests under way go on. */
void
httpd_quiesce(struct httpd *h)
{
	MHD_socket	 fd;

	if (h->mhd == NULL || h->fd == -1)
		return;
	fd = MHD_quiesce_daemon(h->mhd);
	if (fd != MHD_INVALID_SOCKET) {
		close(fd);
		h->fd = -1;
	}
}

u_int
httpd_inflight(struct httpd *h)
{
	return (h->inflight);
}

const char *
httpd_address(struct httpd *h)
{
	return (h->address);
}
