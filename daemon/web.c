/*
 * What a build shows over HTTP, under /builds/:
 *
 *   GET /builds/ID                      a page for people: phases, tasks,
 *                                       states, durations, links to logs;
 *                                       it reloads itself while the build
 *                                       runs
 *   GET /builds/ID/code                 the commit's tree as a tar.gz: a
 *                                       task's CODE_URL
 *   GET /builds/ID/tasks/SLUG/log       a task's log as text/plain;
 *                                       ?offset=N gives the bytes from N,
 *                                       so a reader can follow it as it
 *                                       grows (X-Task-State says when to
 *                                       stop)
 *
 * and GET /badge/OWNER/REPO.svg?branch=B, the result of the project's
 * last finished build (of that branch) as an image for a README.
 *
 * Files are sent by libmicrohttpd from their descriptors, so a large log
 * or archive costs no memory here.
 */

#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "daemon.h"

struct web {
	struct engine		*engine;
	struct db		*db;
	const struct config	**conf;
};

/* Parse "/builds/ID/rest": the id and a pointer to "rest" (may be ""). */
static int
web_build_id(const char *url, int64_t *id, const char **rest)
{
	const char	*p = url + strlen("/builds/");
	char		*end;
	long long	 n;

	errno = 0;
	n = strtoll(p, &end, 10);
	if (end == p || errno != 0 || n <= 0)
		return (-1);
	*id = n;
	if (*end == '/')
		end++;
	else if (*end != '\0')
		return (-1);
	*rest = end;
	return (0);
}

static void
web_send_file(struct httpd_req *req, const char *path, uint64_t offset,
    const char *content_type)
{
	struct stat	 sb;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) != 0) {
		if (fd != -1)
			close(fd);
		httpd_respond(req, MHD_HTTP_NOT_FOUND, "404 nothing yet at "
		    "%s", httpd_url(req));
		return;
	}
	if (offset > (uint64_t)sb.st_size)
		offset = sb.st_size;
	httpd_respond_file(req, MHD_HTTP_OK, fd, offset,
	    (uint64_t)sb.st_size - offset, content_type);
}

static void
web_html(struct buf *b, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		switch (*s) {
		case '<':
			buf_addstr(b, "&lt;");
			break;
		case '>':
			buf_addstr(b, "&gt;");
			break;
		case '&':
			buf_addstr(b, "&amp;");
			break;
		case '"':
			buf_addstr(b, "&quot;");
			break;
		default:
			buf_add(b, s, 1);
			break;
		}
	}
}

static void
web_duration(struct buf *b, int64_t from, int64_t to)
{
	int64_t	 s;

	if (from == 0 || to == 0 || to < from) {
		buf_addstr(b, "-");
		return;
	}
	s = (to - from + 500) / 1000;
	if (s >= 60)
		buf_printf(b, "%lldm %02llds", (long long)s / 60,
		    (long long)s % 60);
	else
		buf_printf(b, "%llds", (long long)s);
}

/* The build page; while it runs, it asks the browser to reload it. */
static void
web_page(struct httpd_req *req, struct build *b, int64_t now)
{
	struct buf	 page;
	struct task	*t;
	size_t		 i;
	u_int		 phase = (u_int)-1;
	char		*text;

	buf_init(&page, 0);
	buf_addstr(&page, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "\n");
	if (!build_finished(b))
		buf_addstr(&page, "<meta http-equiv=\"refresh\" content=\"3\">"
		    "\n");
	buf_printf(&page, "<title>build %lld: ", (long long)b->id);
	web_html(&page, b->project);
	buf_printf(&page, " %s</title>\n<style>body{font-family:sans-serif}"
	    "td,th{padding:2px 8px;text-align:left}.passed{color:#070}"
	    ".failed,.errored{color:#b00}.running,.queued{color:#a60}"
	    "</style></head><body>\n<h1>Build %lld: <span class=\"%s\">%s"
	    "</span></h1>\n<p>", build_state_name(b->state),
	    (long long)b->id, build_state_name(b->state),
	    build_state_name(b->state));
	web_html(&page, b->project);
	if (b->pr != 0)
		buf_printf(&page, " pull request #%lld", (long long)b->pr);
	else {
		buf_printf(&page, " %s ", b->event);
		web_html(&page, b->ref);
	}
	buf_printf(&page, " at <code>%.12s</code>", b->sha);
	if (b->reason != NULL) {
		buf_addstr(&page, ": ");
		web_html(&page, b->reason);
	}
	buf_addstr(&page, "; ");
	web_duration(&page, b->started_at, b->finished_at != 0 ?
	    b->finished_at : now);
	buf_printf(&page, ". <a href=\"/builds/%lld/code\">source</a></p>\n"
	    "<table>\n", (long long)b->id);
	for (i = 0; i < b->ntasks; i++) {
		t = b->tasks[i];
		if (t->phase != phase) {
			phase = t->phase;
			buf_printf(&page, "<tr><th colspan=\"4\">phase %u: ",
			    phase + 1);
			web_html(&page, t->phase_name);
			buf_addstr(&page, "</th></tr>\n");
		}
		buf_printf(&page, "<tr><td><a href=\"/builds/%lld/tasks/",
		    (long long)b->id);
		web_html(&page, t->slug);
		buf_addstr(&page, "/log\">");
		web_html(&page, t->slug);
		buf_addstr(&page, "</a></td><td>");
		web_html(&page, t->name);
		buf_printf(&page, "</td><td class=\"%s\">%s%s",
		    task_state_name(t->state), task_state_name(t->state),
		    t->critical ? "" : " (not critical)");
		if (t->reason != NULL) {
			buf_addstr(&page, ": ");
			web_html(&page, t->reason);
		}
		buf_addstr(&page, "</td><td>");
		web_duration(&page, t->started_at, t->finished_at != 0 ?
		    t->finished_at : t->started_at != 0 ? now : 0);
		buf_addstr(&page, "</td></tr>\n");
	}
	buf_addstr(&page, "</table>\n</body></html>\n");
	text = buf_detach(&page, NULL);
	httpd_respond_text(req, MHD_HTTP_OK, "text/html; charset=utf-8", text);
	free(text);
}

/* The archive behind CODE_URL is made on the first request for it. */
static void
web_archived(int rv, const char *cause, void *arg)
{
	struct httpd_req	*req = arg;
	char			*path = httpd_get_data(req);

	httpd_set_data(req, NULL);
	if (rv != 0) {
		log_warn("http: cannot archive for %s: %s", httpd_url(req),
		    cause);
		httpd_respond(req, MHD_HTTP_SERVICE_UNAVAILABLE, "503 cannot "
		    "make the archive: %s", cause);
	} else
		web_send_file(req, path, 0, "application/gzip");
	free(path);
}

static void
web_code(struct httpd_req *req, struct web *w, struct build *b)
{
	struct stat	 sb;
	char		*path, *cause = NULL;

	path = archives_path(engine_archives(w->engine), b->project,
	    b->sha);
	if (stat(path, &sb) == 0) {
		web_send_file(req, path, 0, "application/gzip");
		free(path);
		return;
	}
	httpd_set_data(req, path);
	if (archives_get(engine_archives(w->engine), b->project, b->sha,
	    web_archived, req, &cause) != 0) {
		httpd_set_data(req, NULL);
		free(path);
		httpd_respond(req, MHD_HTTP_NOT_FOUND, "404 no source for "
		    "build %lld: %s", (long long)b->id, cause);
		free(cause);
		return;
	}
	httpd_suspend(req);
}

static void
web_end(struct httpd_req *req, void *arg)
{
	struct web		*w = arg;
	const struct config	*conf = *w->conf;
	struct build		*b;
	struct task		*t = NULL;
	const char		*rest, *slug, *off;
	char			*path, *end;
	uint64_t		 offset = 0;
	int64_t			 id;
	size_t			 i, len;

	if (web_build_id(httpd_url(req), &id, &rest) != 0) {
		httpd_respond(req, MHD_HTTP_NOT_FOUND, "404 no such page: %s",
		    httpd_url(req));
		return;
	}
	if ((b = db_build_get(w->db, id)) == NULL) {
		httpd_respond(req, MHD_HTTP_NOT_FOUND, "404 no build %lld",
		    (long long)id);
		return;
	}
	if (*rest == '\0') {
		web_page(req, b, util_wall_ms());
		goto out;
	}
	if (strcmp(rest, "code") == 0) {
		web_code(req, w, b);
		goto out;
	}
	len = strlen("tasks/");
	if (strncmp(rest, "tasks/", len) != 0 ||
	    (end = strrchr(rest, '/')) == NULL || strcmp(end, "/log") != 0) {
		httpd_respond(req, MHD_HTTP_NOT_FOUND, "404 no such page: %s",
		    httpd_url(req));
		goto out;
	}
	slug = rest + len;
	for (i = 0; i < b->ntasks; i++) {
		if (strlen(b->tasks[i]->slug) == (size_t)(end - slug) &&
		    strncmp(b->tasks[i]->slug, slug, end - slug) == 0)
			t = b->tasks[i];
	}
	if (t == NULL) {
		httpd_respond(req, MHD_HTTP_NOT_FOUND, "404 build %lld has no "
		    "task %.*s", (long long)id, (int)(end - slug), slug);
		goto out;
	}
	if ((off = httpd_query(req, "offset")) != NULL) {
		errno = 0;
		offset = strtoull(off, &end, 10);
		if (*off == '\0' || *end != '\0' || errno != 0) {
			httpd_respond(req, MHD_HTTP_BAD_REQUEST, "400 offset "
			    "must be a number of bytes");
			goto out;
		}
	}
	httpd_set_header(req, "X-Task-State", task_state_name(t->state));
	xasprintf(&path, "%s/logs/%lld/%lld.log", conf->state_dir,
	    (long long)id, (long long)t->id);
	web_send_file(req, path, offset, "text/plain; charset=utf-8");
	free(path);
out:
	build_free(b);
}

static void
web_badge(struct httpd_req *req, void *arg)
{
	static const struct {
		const char	*state;
		const char	*text;
		const char	*colour;
	} looks[] = {
		{ "passed", "passing", "#4c1" },
		{ "failed", "failing", "#e05d44" },
		{ "errored", "error", "#e05d44" },
	};
	struct web	*w = arg;
	const char	*text = "unknown", *colour = "#9f9f9f";
	char		*project, *svg, *state;
	size_t		 len, i;

	project = xstrdup(httpd_url(req) + strlen("/badge/"));
	len = strlen(project);
	if (len <= 4 || strcmp(project + len - 4, ".svg") != 0 ||
	    strchr(project, '/') == NULL) {
		httpd_respond(req, MHD_HTTP_NOT_FOUND, "404 a badge is "
		    "/badge/OWNER/REPO.svg");
		free(project);
		return;
	}
	project[len - 4] = '\0';
	state = db_build_latest(w->db, project, httpd_query(req, "branch"));
	for (i = 0; state != NULL && i < nitems(looks); i++) {
		if (strcmp(state, looks[i].state) == 0) {
			text = looks[i].text;
			colour = looks[i].colour;
		}
	}
	xasprintf(&svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" "
	    "width=\"96\" height=\"20\" role=\"img\" aria-label=\"build: %s\">"
	    "<title>build: %s</title>"
	    "<rect width=\"40\" height=\"20\" fill=\"#555\"/>"
	    "<rect x=\"40\" width=\"56\" height=\"20\" fill=\"%s\"/>"
	    "<g fill=\"#fff\" font-family=\"Verdana,sans-serif\" "
	    "font-size=\"11\"><text x=\"5\" y=\"14\">build</text>"
	    "<text x=\"45\" y=\"14\">%s</text></g></svg>\n",
	    text, text, colour, text);
	httpd_respond_text(req, MHD_HTTP_OK, "image/svg+xml", svg);
	free(svg);
	free(state);
	free(project);
}

static const struct httpd_route web_badge_route = {
	.path = "/badge/",
	.methods = "GET HEAD",
	.end = web_badge,
};

/* A request still waiting for its archive is gone: no callback comes. */
static void
web_cancel(struct httpd_req *req, void *arg)
{
	struct web	*w = arg;

	archives_cancel(engine_archives(w->engine), req);
	free(httpd_get_data(req));
	httpd_set_data(req, NULL);
}

static const struct httpd_route web_route = {
	.path = "/builds/",
	.methods = "GET HEAD",
	.end = web_end,
	.cancel = web_cancel,
};

struct web *
web_create(struct httpd *h, struct engine *e, struct db *db,
    const struct config **conf)
{
	struct web	*w;

	w = xcalloc(1, sizeof *w);
	w->engine = e;
	w->db = db;
	w->conf = conf;
	httpd_route(h, &web_route, w);
	httpd_route(h, &web_badge_route, w);
	return (w);
}

void
web_free(struct web *w)
{
	free(w);
}
