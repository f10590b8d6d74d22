/*
 * What GitHub shows of a build: one commit status per task (context
 * "PREFIX:PHASE/TASK"), one for the build ("PREFIX"), and as a GitHub App
 * one check run per task as well.
 *
 * The engine says what each context should show (report_task,
 * report_build) inside the same transaction as the state change, so the
 * store's reports table always holds what GitHub ought to have. This
 * file posts every report whose wanted state differs from the one GitHub
 * last accepted, oldest first, so:
 * - a state is posted once: a report is due only while GitHub has a
 *   different state, and a description change alone is never posted;
 * - when a task passes before its "pending" went out, only the final state
 *   goes: GitHub never shows a state that is already over;
 * - nothing is lost to an outage or a restart: a failed post is retried
 *   with backoff (next_at in the store), and a daemon that starts posts
 *   whatever the last one did not;
 * - GitHub's refusals that retrying cannot mend (404, 422) are logged with
 *   GitHub's message and not retried.
 */

#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

#define REPORT_INFLIGHT		8
#define REPORT_DESC_MAX		140	/* GitHub's limit */
#define REPORT_LOG_TAIL		4096	/* of a failed task's log */

struct report_post {
	struct report		*rp;
	struct report_row	*row;
	char			*sent;		/* the state posted */
	uint64_t		 call;
};

struct report {
	struct ev_loop		*loop;
	struct db		*db;
	struct github		*gh;
	const struct config	**conf;
	struct report_post	*posts[REPORT_INFLIGHT];
	int			 dirty;
	struct ev_timer		*timer;
	int64_t			 backlog;
};

static const struct config *
rp_conf(struct report *rp)
{
	return (*rp->conf);
}

/* Is GitHub told about this project at all? */
static int
report_on(struct report *rp)
{
	return (rp != NULL && github_enabled(rp->gh));
}

/* GitHub takes 140 characters; cut at a character, not in one. */
static char *
report_desc(const char *s)
{
	size_t	 n;
	char	*d;

	if (strlen(s) <= REPORT_DESC_MAX)
		return (xstrdup(s));
	n = REPORT_DESC_MAX - 3;
	while (n > 0 && ((u_char)s[n] & 0xc0) == 0x80)
		n--;
	d = xmalloc(n + 4);
	memcpy(d, s, n);
	memcpy(d + n, "...", 4);
	return (d);
}

static void
report_want(struct report *rp, struct report_row *r)
{
	char	*d;

	d = report_desc(r->description != NULL ? r->description : "");
	free(r->description);
	r->description = d;
	if (db_report_want(rp->db, r, ev_time(rp->loop)) == 0)
		rp->dirty = 1;
}

static char *
report_duration(const struct task *t)
{
	int64_t	 s;
	char	*d;

	s = t->started_at != 0 && t->finished_at >= t->started_at ?
	    (t->finished_at - t->started_at + 500) / 1000 : 0;
	if (s >= 60)
		xasprintf(&d, "%lldm %02llds", (long long)(s / 60),
		    (long long)(s % 60));
	else
		xasprintf(&d, "%llds", (long long)s);
	return (d);
}

/* The status a task should show: state and description. */
static const char *
report_task_status(const struct task *t, char **desc)
{
	const struct build	*b = t->build;
	const char		*why = t->reason != NULL ? t->reason : NULL;
	char			*dur;

	switch (t->state) {
	case TASK_WAITING:
		*desc = xstrdup("waiting for the earlier phases");
		return ("pending");
	case TASK_QUEUED:
		/* Only a retry has a reason: it says why it runs again. */
		*desc = xstrdup(why != NULL ? why : "queued");
		return ("pending");
	case TASK_RUNNING:
		*desc = xstrdup("running");
		return ("pending");
	case TASK_PASSED:
		dur = report_duration(t);
		xasprintf(desc, "passed in %s", dur);
		free(dur);
		return ("success");
	case TASK_FAILED:
		if (!t->critical) {
			xasprintf(desc, "failed, not critical: %s",
			    why != NULL ? why : "non-zero exit");
			return ("success");
		}
		xasprintf(desc, "failed: %s", why != NULL ? why :
		    "non-zero exit");
		return ("failure");
	case TASK_ERRORED:
		xasprintf(desc, "error: %s", why != NULL ? why :
		    "the task could not run");
		return ("error");
	case TASK_CANCELLED:
		if (b->reason != NULL && strncmp(b->reason, "cancelled", 9) ==
		    0)
			*desc = xstrdup(b->reason);
		else
			xasprintf(desc, "cancelled%s%s", why != NULL ? ": " :
			    "", why != NULL ? why : "");
		return ("error");
	case TASK_SKIPPED:
		*desc = xstrdup("not run: an earlier task stopped the build");
		return ("error");
	}
	*desc = xstrdup("");
	return ("error");
}

/* A check run's status[:conclusion] for a task. */
static const char *
report_task_check(const struct task *t)
{
	switch (t->state) {
	case TASK_WAITING:
	case TASK_QUEUED:
		return ("queued");
	case TASK_RUNNING:
		return ("in_progress");
	case TASK_PASSED:
		return ("completed:success");
	case TASK_FAILED:
		return (t->critical ? "completed:failure" :
		    "completed:neutral");
	case TASK_ERRORED:
		return ("completed:failure");
	case TASK_CANCELLED:
		return ("completed:cancelled");
	case TASK_SKIPPED:
		return ("completed:skipped");
	}
	return ("completed:failure");
}

/*
 * A task's name on GitHub, "PHASE/TASK" from its slug ("phase" or
 * "phase:subtask"), as the 2017 service named its contexts.
 */
static char *
report_task_name(const struct task *t)
{
	const char	*colon;
	char		*name;

	if ((colon = strchr(t->slug, ':')) != NULL)
		xasprintf(&name, "%.*s/%s", (int)(colon - t->slug), t->slug,
		    colon + 1);
	else
		xasprintf(&name, "%s/%s", t->slug, t->slug);
	return (name);
}

char *
report_context(const struct config *conf, const struct task *t)
{
	char	*name, *ctx;

	name = report_task_name(t);
	xasprintf(&ctx, "%s:%s", conf->github_context, name);
	free(name);
	return (ctx);
}

/* The last lines of a task's log, for a failed check run's summary. */
static char *
report_log_tail(struct report *rp, const struct task *t)
{
	char		*path, *text, *p;
	struct stat	 sb;
	off_t		 off;
	ssize_t		 n;
	int		 fd;

	xasprintf(&path, "%s/logs/%lld/%lld.log", rp_conf(rp)->state_dir,
	    (long long)t->build->id, (long long)t->id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd == -1)
		return (NULL);
	if (fstat(fd, &sb) != 0) {
		close(fd);
		return (NULL);
	}
	off = sb.st_size > REPORT_LOG_TAIL ? sb.st_size - REPORT_LOG_TAIL : 0;
	text = xmalloc(REPORT_LOG_TAIL + 1);
	n = pread(fd, text, REPORT_LOG_TAIL, off);
	close(fd);
	if (n <= 0) {
		free(text);
		return (NULL);
	}
	text[n] = '\0';
	/* Start at a whole line when the tail was cut. */
	p = text;
	if (off > 0 && (p = strchr(text, '\n')) != NULL)
		p++;
	else
		p = text;
	xasprintf(&path, "The last lines of the log:\n\n```\n%s%s```\n", p,
	    n > 0 && text[n - 1] != '\n' ? "\n" : "");
	free(text);
	return (path);
}

/*
 * Say what GitHub should show for a task: called by the engine whenever
 * the task's state changes, inside its transaction.
 */
void
report_task(struct report *rp, const struct task *t)
{
	const struct config	*conf;
	const struct build	*b = t->build;
	struct report_row	 r;

	if (!report_on(rp))
		return;
	conf = rp_conf(rp);
	memset(&r, 0, sizeof r);
	r.kind = "status";
	r.repo = b->project;
	r.sha = b->sha;
	r.context = report_context(conf, t);
	r.build_id = b->id;
	r.installation = b->installation;
	r.state = (char *)report_task_status(t, &r.description);
	/*
	 * A task queued again (an infrastructure retry) stays pending, but
	 * its contributor should read why it runs again.
	 */
	r.repost = t->state == TASK_QUEUED && t->reason != NULL;
	xasprintf(&r.target_url, "%s/builds/%lld/tasks/%s/log",
	    conf->public_url, (long long)b->id, t->slug);
	report_want(rp, &r);
	free(r.description);
	r.description = NULL;

	if (github_is_app_auth(rp->gh)) {
		r.kind = "check";
		free(r.context);
		r.context = report_task_name(t);
		r.state = (char *)report_task_check(t);
		report_task_status(t, &r.description);
		if (t->state == TASK_FAILED || t->state == TASK_ERRORED)
			r.summary = report_log_tail(rp, t);
		report_want(rp, &r);
		free(r.description);
		free(r.summary);
	}
	free(r.context);
	free(r.target_url);
}

/* A finished build's GitHub state, and its description if it has none. */
static const char *report_build_final[][2] = {
	[BUILD_PASSED] = { "success", "passed" },
	[BUILD_FAILED] = { "failure", "failed" },
	[BUILD_ERRORED] = { "error", "errored" },
	[BUILD_CANCELLED] = { "error", "cancelled" },
};

/* The build's own context; called on every change of the build's state. */
void
report_build(struct report *rp, const struct build *b)
{
	const struct config	*conf;
	struct report_row	 r;

	if (!report_on(rp))
		return;
	conf = rp_conf(rp);
	memset(&r, 0, sizeof r);
	r.kind = "status";
	r.repo = b->project;
	r.sha = b->sha;
	r.context = conf->github_context;
	r.build_id = b->id;
	r.installation = b->installation;
	switch (b->state) {
	case BUILD_FETCHING:
		r.state = "pending";
		if (b->approval != NULL && strcmp(b->approval, "required") ==
		    0)
			xasprintf(&r.description, "awaiting approval: a pull "
			    "request from a fork by %s", b->sender != NULL ?
			    b->sender : "someone");
		else
			r.description = xstrdup("reading beekeeper.yml");
		break;
	case BUILD_RUNNING:
		r.state = "pending";
		xasprintf(&r.description, "running phase %u of %u",
		    b->phase + 1, build_nphases(b));
		break;
	default:
		/* Finished: its result, in GitHub's words and ours. */
		r.state = (char *)report_build_final[b->state][0];
		r.description = xstrdup(b->reason != NULL ? b->reason :
		    report_build_final[b->state][1]);
		break;
	}
	xasprintf(&r.target_url, "%s/builds/%lld", conf->public_url,
	    (long long)b->id);
	report_want(rp, &r);
	free(r.description);
	free(r.target_url);
}

static void
report_post_free(struct report_post *p)
{
	size_t	 i;

	for (i = 0; i < REPORT_INFLIGHT; i++) {
		if (p->rp->posts[i] == p)
			p->rp->posts[i] = NULL;
	}
	report_row_free(p->row);
	free(p->sent);
	free(p);
}

/* GitHub's words for a refusal: its message, and the first error's. */
static char *
report_refusal(const struct github_response *gr)
{
	const char	*msg, *detail;
	json_t		*err;
	char		*why;

	msg = json_string_value(json_object_get(gr->json, "message"));
	err = json_array_get(json_object_get(gr->json, "errors"), 0);
	detail = json_string_value(json_object_get(err, "message"));
	if (detail == NULL && err != NULL)
		detail = json_string_value(json_object_get(err, "field"));
	xasprintf(&why, "GitHub refused it (%ld%s%s%s%s)", gr->status,
	    msg != NULL ? ": " : "", msg != NULL ? msg : "",
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	return (why);
}

static void
report_posted(const struct github_response *gr, void *arg)
{
	struct report_post	*p = arg;
	struct report		*rp = p->rp;
	struct report_row	*r = p->row;
	char			*why = NULL;
	int64_t			 remote = 0;

	if (gr->status == 200 || gr->status == 201) {
		if (strcmp(r->kind, "check") == 0)
			remote = json_integer_value(json_object_get(gr->json,
			    "id"));
		db_report_posted(rp->db, r->id, p->sent, remote, NULL);
		log_debug("report: %s %s %.12s %s: %s", r->kind, r->repo,
		    r->sha, r->context, p->sent);
	} else if (gr->status == 0 || gr->status >= 500 ||
	    gr->status == 401 || gr->status == 403) {
		/*
		 * Outages, and credentials that an operator can mend: keep
		 * trying, less and less often.
		 */
		xasprintf(&why, "%s", gr->cause != NULL ? gr->cause :
		    "GitHub refused the credentials");
		if (gr->status != 0 && gr->cause == NULL) {
			free(why);
			xasprintf(&why, "GitHub answered %ld", gr->status);
		}
		db_report_retry(rp->db, r->id, ev_time(rp->loop) +
		    github_backoff(r->attempts), why);
		log_warn("report: %s %s %.12s %s: %s; will try again",
		    r->kind, r->repo, r->sha, r->context, why);
	} else {
		/* Retrying cannot mend this; say so and go on. */
		why = report_refusal(gr);
		db_report_posted(rp->db, r->id, p->sent, 0, why);
		log_warn("report: %s %s %.12s %s not posted: %s", r->kind,
		    r->repo, r->sha, r->context, why);
	}
	free(why);
	rp->dirty = 1;
	report_post_free(p);
}

static char *
report_body(struct report_row *r, char **method, char **path)
{
	json_t		*j, *out;
	const char	*colon, *title;
	char		*status, *text;

	j = json_object();
	if (strcmp(r->kind, "status") == 0) {
		json_object_set_new(j, "state", json_string(r->state));
		json_object_set_new(j, "context", json_string(r->context));
		json_object_set_new(j, "description",
		    json_string(r->description));
		if (r->target_url != NULL)
			json_object_set_new(j, "target_url",
			    json_string(r->target_url));
		*method = xstrdup("POST");
		xasprintf(path, "/repos/%s/statuses/%s", r->repo, r->sha);
	} else {
		colon = strchr(r->state, ':');
		status = colon != NULL ? xstrndup(r->state, colon - r->state) :
		    xstrdup(r->state);
		if (r->remote_id == 0) {
			json_object_set_new(j, "name", json_string(r->context));
			json_object_set_new(j, "head_sha", json_string(r->sha));
			xasprintf(&text, "%lld", (long long)r->build_id);
			json_object_set_new(j, "external_id",
			    json_string(text));
			free(text);
			*method = xstrdup("POST");
			xasprintf(path, "/repos/%s/check-runs", r->repo);
		} else {
			*method = xstrdup("PATCH");
			xasprintf(path, "/repos/%s/check-runs/%lld", r->repo,
			    (long long)r->remote_id);
		}
		json_object_set_new(j, "status", json_string(status));
		if (colon != NULL)
			json_object_set_new(j, "conclusion",
			    json_string(colon + 1));
		if (r->target_url != NULL)
			json_object_set_new(j, "details_url",
			    json_string(r->target_url));
		title = r->description != NULL && *r->description != '\0' ?
		    r->description : status;
		out = json_object();
		json_object_set_new(out, "title", json_string(title));
		json_object_set_new(out, "summary", json_string(
		    r->summary != NULL ? r->summary : title));
		json_object_set_new(j, "output", out);
		free(status);
	}
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return (text);
}

static int
report_busy(struct report *rp, int64_t id, size_t *slot)
{
	size_t	 i;
	int	 free_slot = -1;

	for (i = 0; i < REPORT_INFLIGHT; i++) {
		if (rp->posts[i] == NULL) {
			if (free_slot == -1)
				free_slot = i;
		} else if (rp->posts[i]->row->id == id)
			return (1);
	}
	if (free_slot == -1)
		return (1);
	*slot = free_slot;
	return (0);
}

static void
report_send(struct report_row *r, void *arg)
{
	struct report		*rp = arg;
	struct report_post	*p;
	struct github_call	 gc;
	char			*method, *path, *body;
	size_t			 slot;

	if (report_busy(rp, r->id, &slot)) {
		report_row_free(r);
		return;
	}
	p = xcalloc(1, sizeof *p);
	p->rp = rp;
	p->row = r;
	p->sent = xstrdup(r->state);
	rp->posts[slot] = p;
	body = report_body(r, &method, &path);
	memset(&gc, 0, sizeof gc);
	gc.method = method;
	gc.repo = r->repo;
	gc.path = path;
	gc.body = body;
	gc.attempts = 1;	/* the store keeps the retries */
	p->call = github_call(rp->gh, &gc, report_posted, p);
	free(method);
	free(path);
	free(body);
}

static void
report_timer_fire(struct ev_loop *loop, void *arg)
{
	struct report	*rp = arg;

	(void)loop;
	rp->timer = NULL;
	rp->dirty = 1;
}

/* Once a turn, if anything changed: post what is due. */
static void
report_before_sleep(struct ev_loop *loop, void *arg)
{
	struct report	*rp = arg;
	int64_t		 count, next_at, now = ev_time(loop);
	u_int		 room = 0;
	size_t		 i;

	if (!rp->dirty || !report_on(rp))
		return;
	rp->dirty = 0;
	for (i = 0; i < REPORT_INFLIGHT; i++)
		room += rp->posts[i] == NULL;
	if (room > 0)
		db_reports_due(rp->db, now, REPORT_INFLIGHT, report_send, rp);
	if (db_reports_backlog(rp->db, &count, &next_at) != 0)
		return;
	if (count != rp->backlog) {
		if (count == 0 && rp->backlog > 0)
			log_info("report: GitHub has every status");
		rp->backlog = count;
	}
	/* The earliest deferred one wakes us; posts in flight do too. */
	ev_timer_del(rp->timer);
	rp->timer = NULL;
	if (count > 0 && next_at > now)
		rp->timer = ev_timer_add(loop, next_at - now,
		    report_timer_fire, rp);
}

int64_t
report_backlog(struct report *rp)
{
	return (rp != NULL ? rp->backlog : 0);
}

struct report *
report_create(struct ev_loop *loop, struct db *db, struct github *gh,
    const struct config **conf)
{
	struct report	*rp;

	rp = xcalloc(1, sizeof *rp);
	rp->loop = loop;
	rp->db = db;
	rp->gh = gh;
	rp->conf = conf;
	rp->dirty = 1;		/* what the last run did not post */
	ev_before_sleep(loop, report_before_sleep, rp);
	return (rp);
}

void
report_free(struct report *rp)
{
	size_t	 i;

	if (rp == NULL)
		return;
	for (i = 0; i < REPORT_INFLIGHT; i++) {
		if (rp->posts[i] != NULL) {
			github_cancel(rp->gh, rp->posts[i]->call);
			report_post_free(rp->posts[i]);
		}
	}
	ev_timer_del(rp->timer);
	free(rp);
}
