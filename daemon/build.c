/*
 * The build engine: change records in, builds and their tasks out. A
 * queued change from an approved project becomes a build for its head
 * commit, which cancels the older builds of the same pull request or
 * branch; a closed pull request stops its builds. A build fetches its
 * commit, reads beekeeper.yml there, plans it, and runs it phase by phase:
 * the tasks of a phase run in parallel on their profiles' pools; an error
 * or a critical failure stops the pipeline, a non-critical failure does
 * not, and the build's result is the worst of its tasks', a non-critical
 * failure counting as a pass that says so (the 2017 "qualified pass").
 *
 * Every state is in the store before anything acts on it, and in the
 * running daemon each state machine changes in one function
 * (build_set_state, task_set_state, which refuse to leave a finished
 * state); only the resume at start rewrites what the last run left. So a
 * daemon killed at any point resumes: at start, builds still fetching
 * fetch again, queued tasks are queued again, and a task that was running
 * (its process died with the daemon, or is killed now) runs once more,
 * marked as an infrastructure retry; a second loss is an error.
 */

#include "config.h"

#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

#define PIPELINE_FILE		"beekeeper.yml"
#define PIPELINE_FILE_MAX	(1024 * 1024)
/* 5xx and network errors: about eight minutes of backoff in all. */
#define ENGINE_GITHUB_ATTEMPTS	10
#define ENGINE_INFRA_RETRIES	3	/* lost machines, per task */

struct engine {
	struct ev_loop		*loop;
	struct db		*db;
	const struct config	**conf;
	struct source		*source;
	struct pools		*pools;
	struct github		*gh;
	struct report		*report;
	struct trust		*trust;
	struct vars		*vars;		/* the stored layer */
	LIST_HEAD(, fetch_ctx)	 fetches;
	struct archives		*archives;
	TAILQ_HEAD(, build)	 builds;	/* not finished */
	int			 in_batch;	/* a transaction is open */
	int			 pending;	/* changes may be queued */
	size_t			 taken;		/* changes taken this turn */
	int64_t			*fresh;		/* builds made this turn */
	size_t			 nfresh;
};

static const char *build_state_names[] = {
	[BUILD_FETCHING] = "fetching",
	[BUILD_RUNNING] = "running",
	[BUILD_PASSED] = "passed",
	[BUILD_FAILED] = "failed",
	[BUILD_ERRORED] = "errored",
	[BUILD_CANCELLED] = "cancelled",
};

static const char *task_state_names[] = {
	[TASK_WAITING] = "waiting",
	[TASK_QUEUED] = "queued",
	[TASK_RUNNING] = "running",
	[TASK_PASSED] = "passed",
	[TASK_FAILED] = "failed",
	[TASK_ERRORED] = "errored",
	[TASK_CANCELLED] = "cancelled",
	[TASK_SKIPPED] = "skipped",
};

static void	engine_check(struct engine *, struct build *);

static int
state_index(const char **names, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (strcmp(names[i], name) == 0)
			return (i);
	}
	return (-1);
}

const char *
build_state_name(enum build_state s)
{
	return (build_state_names[s]);
}

int
build_state_parse(const char *name, enum build_state *s)
{
	int	 i;

	if ((i = state_index(build_state_names, nitems(build_state_names),
	    name)) == -1)
		return (-1);
	*s = i;
	return (0);
}

const char *
task_state_name(enum task_state s)
{
	return (task_state_names[s]);
}

int
task_state_parse(const char *name, enum task_state *s)
{
	int	 i;

	if ((i = state_index(task_state_names, nitems(task_state_names),
	    name)) == -1)
		return (-1);
	*s = i;
	return (0);
}

int
task_finished(const struct task *t)
{
	return (t->state >= TASK_PASSED);
}

int
build_finished(const struct build *b)
{
	return (b->state >= BUILD_PASSED);
}

static void
task_free(struct task *t)
{
	free(t->phase_name);
	free(t->slug);
	free(t->name);
	free(t->image);
	free(t->run);
	free(t->profile);
	free(t->environment);
	free(t->reason);
	free(t->instance_id);
	free(t);
}

void
build_free(struct build *b)
{
	size_t	 i;

	if (b == NULL)
		return;
	for (i = 0; i < b->ntasks; i++)
		task_free(b->tasks[i]);
	free(b->tasks);
	free(b->project);
	free(b->clone_url);
	free(b->event);
	free(b->ref);
	free(b->sha);
	free(b->reason);
	free(b->sender);
	free(b->approval);
	free(b);
}

static void
set_reason(char **field, const char *reason)
{
	free(*field);
	*field = reason != NULL ? xstrdup(reason) : NULL;
}

/* Store a task's change and publish it. */
static void
task_save(struct engine *e, struct task *t)
{
	db_task_update(e->db, t);
	bus_task(t);
}

/* Store a build's change and publish it. */
static void
build_save(struct engine *e, struct build *b)
{
	db_build_update(e->db, b);
	bus_build(b);
}

/*
 * The one place a task changes state: the transition must go forward
 * (a finished task never changes again), then it is stored and logged.
 */
static void
task_set_state(struct engine *e, struct task *t, enum task_state state,
    const char *reason)
{
	int64_t	 now = ev_time(e->loop);

	if (task_finished(t))
		fatalx("task %lld: %s -> %s", (long long)t->id,
		    task_state_names[t->state], task_state_names[state]);
	t->state = state;
	if (reason != NULL || state == TASK_QUEUED)
		set_reason(&t->reason, reason);
	if (state == TASK_QUEUED)
		t->queued_at = now;
	else if (state == TASK_RUNNING)
		t->started_at = now;
	else if (task_finished(t))
		t->finished_at = now;
	task_save(e, t);
	report_task(e->report, t);
	log_info("build %lld: task %s %s%s%s", (long long)t->build->id,
	    t->slug, task_state_names[state], reason != NULL ? ": " : "",
	    reason != NULL ? reason : "");
}

/* The one place a build changes state; see task_set_state. */
static void
build_set_state(struct engine *e, struct build *b, enum build_state state,
    const char *reason)
{
	int64_t	 now = ev_time(e->loop);

	if (build_finished(b))
		fatalx("build %lld: %s -> %s", (long long)b->id,
		    build_state_names[b->state], build_state_names[state]);
	b->state = state;
	if (reason != NULL)
		set_reason(&b->reason, reason);
	if (state == BUILD_RUNNING && b->started_at == 0)
		b->started_at = now;
	if (build_finished(b))
		b->finished_at = now;
	build_save(e, b);
	report_build(e->report, b);
	log_info("build %lld: %s %s at %.12s %s%s%s", (long long)b->id,
	    b->project, b->pr != 0 ? "pull request" : b->ref, b->sha,
	    build_state_names[state], reason != NULL ? ": " : "",
	    reason != NULL ? reason : "");
	if (build_finished(b)) {
		TAILQ_REMOVE(&e->builds, b, entry);
		build_free(b);
	}
}

/* A build that cannot go on: every task not yet finished goes with it. */
static void
build_error(struct engine *e, struct build *b, const char *reason)
{
	size_t	 i;

	db_begin(e->db);
	for (i = 0; i < b->ntasks; i++) {
		if (!task_finished(b->tasks[i]))
			task_set_state(e, b->tasks[i], TASK_SKIPPED, NULL);
	}
	build_set_state(e, b, BUILD_ERRORED, reason);
	db_commit(e->db);
}

static void
engine_start_phase(struct engine *e, struct build *b, u_int phase)
{
	struct task	*t;
	char		*cause = NULL;
	size_t		 i;

	b->phase = phase;
	build_save(e, b);
	for (i = 0; i < b->ntasks; i++) {
		t = b->tasks[i];
		if (t->phase != phase || t->state != TASK_WAITING)
			continue;
		if (pools_enqueue(e->pools, t, &cause) != 0) {
			task_set_state(e, t, TASK_ERRORED, cause);
			free(cause);
			cause = NULL;
			continue;
		}
		task_set_state(e, t, TASK_QUEUED, NULL);
	}
}

/* How many phases a build's plan has. */
u_int
build_nphases(const struct build *b)
{
	size_t	 i;
	u_int	 n = 0;

	for (i = 0; i < b->ntasks; i++) {
		if (b->tasks[i]->phase + 1 > n)
			n = b->tasks[i]->phase + 1;
	}
	return (n);
}

/*
 * After any task of a build ends: when its phase is over, either start
 * the next or finish the build with the worst result of its tasks. A
 * build being cancelled says so in its stored reason ("cancelled: ..."),
 * so the mark survives a restart while its last tasks are stopping.
 */
static void
engine_check(struct engine *e, struct build *b)
{
	struct task		*t;
	enum build_state	 result = BUILD_PASSED;
	const char		*why = NULL, *lenient = NULL;
	char			*reason;
	size_t			 i;
	int			 stop = 0, cancelled = b->reason != NULL &&
				    b->state == BUILD_RUNNING &&
				    strncmp(b->reason, "cancelled", 9) == 0;

	if (b->state != BUILD_RUNNING)
		return;
	for (i = 0; i < b->ntasks; i++) {
		t = b->tasks[i];
		if (t->phase == b->phase && !task_finished(t))
			return;
		if (t->phase > b->phase || !task_finished(t))
			continue;
		if (t->state == TASK_ERRORED ||
		    t->state == TASK_CANCELLED ||
		    (t->state == TASK_FAILED && t->critical))
			stop = 1;
	}
	if (!stop && !cancelled && b->phase + 1 < build_nphases(b)) {
		engine_start_phase(e, b, b->phase + 1);
		engine_check(e, b);
		return;
	}
	for (i = 0; i < b->ntasks; i++) {
		t = b->tasks[i];
		if (t->state == TASK_WAITING)
			task_set_state(e, t, TASK_SKIPPED, NULL);
		if (t->state == TASK_ERRORED && result < BUILD_ERRORED) {
			result = BUILD_ERRORED;
			why = t->slug;
		} else if (t->state == TASK_FAILED && t->critical &&
		    result < BUILD_FAILED) {
			result = BUILD_FAILED;
			why = t->slug;
		} else if (t->state == TASK_FAILED && lenient == NULL)
			lenient = t->slug;
	}
	if (cancelled)
		build_set_state(e, b, BUILD_CANCELLED, NULL);
	else if (why != NULL) {
		xasprintf(&reason, "%s %s", why, result == BUILD_ERRORED ?
		    "errored" : "failed");
		build_set_state(e, b, result, reason);
		free(reason);
	} else if (lenient != NULL) {
		/* The 2017 service's "qualified pass". */
		xasprintf(&reason, "passed, though %s failed (not critical)",
		    lenient);
		build_set_state(e, b, BUILD_PASSED, reason);
		free(reason);
	} else
		build_set_state(e, b, BUILD_PASSED, NULL);
}

/* Make the build's tasks from its plan, in one transaction, and start. */
static void
engine_plan(struct engine *e, struct build *b, struct pipeline *pl)
{
	struct pipeline_phase	*ph;
	struct pipeline_task	*pt;
	struct task		*t;
	json_t			*env;
	size_t			 i, j, k;
	char			*reason;

	db_begin(e->db);
	for (i = 0; i < pl->nphases; i++) {
		ph = &pl->phases[i];
		for (j = 0; j < ph->ntasks; j++) {
			pt = &ph->tasks[j];
			t = xcalloc(1, sizeof *t);
			t->build = b;
			t->phase = i;
			t->phase_name = xstrdup(ph->name);
			t->slug = xstrdup(pt->slug);
			t->name = xstrdup(pt->name);
			t->image = pt->image != NULL ? xstrdup(pt->image) :
			    NULL;
			t->run = pt->run != NULL ? xstrdup(pt->run) : NULL;
			t->profile = xstrdup(pt->profile);
			t->critical = pt->critical;
			t->timeout_ms = pt->timeout_ms;
			env = json_object();
			for (k = 0; k < pt->nenv; k++)
				json_object_set_new(env, pt->env[k].name,
				    json_string(pt->env[k].value));
			t->environment = json_dumps(env, JSON_COMPACT |
			    JSON_PRESERVE_ORDER);
			json_decref(env);
			t->state = TASK_WAITING;
			t->exit_status = -1;
			t->attempt = 1;
			db_task_insert(e->db, t);
			bus_task(t);
			b->tasks = xreallocarray(b->tasks, b->ntasks + 1,
			    sizeof *b->tasks);
			b->tasks[b->ntasks++] = t;
			report_task(e->report, t);
		}
	}
	if (b->ntasks == 0) {
		xasprintf(&reason, "%s has no %s pipeline: nothing to run",
		    PIPELINE_FILE, b->event);
		build_set_state(e, b, BUILD_PASSED, reason);
		free(reason);
	} else {
		build_set_state(e, b, BUILD_RUNNING, NULL);
		engine_start_phase(e, b, 0);
		engine_check(e, b);
	}
	db_commit(e->db);
}

static struct build *
engine_find(struct engine *e, int64_t id)
{
	struct build	*b;

	TAILQ_FOREACH(b, &e->builds, entry) {
		if (b->id == id)
			return (b);
	}
	return (NULL);
}

/* A pipeline file being read; the engine frees those left at its end. */
struct fetch_ctx {
	struct engine		*e;
	int64_t			 build_id;
	uint64_t		 call;		/* GitHub's, or 0 */
	LIST_ENTRY(fetch_ctx)	 entry;
};

static void
fetch_ctx_free(struct fetch_ctx *fc)
{
	LIST_REMOVE(fc, entry);
	free(fc);
}

static void
fetch_read(const char *data, size_t len, const char *cause, void *arg)
{
	struct fetch_ctx	*fc = arg;
	struct engine		*e = fc->e;
	struct build		*b;
	struct pipeline		*plan;
	enum pipeline_event	 event;
	char			*err = NULL;

	if ((b = engine_find(e, fc->build_id)) == NULL ||
	    b->state != BUILD_FETCHING) {
		if (b != NULL)
			b->busy = 0;
		fetch_ctx_free(fc);
		return;
	}
	if (data == NULL) {
		b->busy = 0;
		build_error(e, b, cause);
		fetch_ctx_free(fc);
		return;
	}
	if (pipeline_event_parse(b->event, &event) != 0)
		event = PIPELINE_PUSH;
	if ((plan = pipeline_parse(PIPELINE_FILE, data, len, event,
	    &err)) == NULL) {
		b->busy = 0;
		build_error(e, b, err);
		free(err);
		fetch_ctx_free(fc);
		return;
	}
	b->busy = 0;
	engine_plan(e, b, plan);
	pipeline_free(plan);
	fetch_ctx_free(fc);
}

/* The pipeline file from GitHub's contents API, as fetch_read wants it. */
static void
fetch_contents(const struct github_response *gr, void *arg)
{
	struct fetch_ctx	*fc = arg;
	struct build		*b;
	char			*cause = NULL;

	fc->call = 0;
	if (gr->status == 200 && gr->body != NULL) {
		buf_add(gr->body, "", 1);	/* NUL-terminated for YAML */
		fetch_read(gr->body->data, gr->body->len - 1, NULL, fc);
		return;
	}
	if ((b = engine_find(fc->e, fc->build_id)) == NULL) {
		fetch_ctx_free(fc);
		return;
	}
	if (gr->cause != NULL)
		xasprintf(&cause, "cannot read %s from GitHub: %s",
		    PIPELINE_FILE, gr->cause);
	else if (gr->status == 404)
		xasprintf(&cause, "no %s in %s at %.12s: add one to build "
		    "this repository", PIPELINE_FILE, b->project, b->sha);
	else
		xasprintf(&cause, "cannot read %s from GitHub: it answered "
		    "%ld", PIPELINE_FILE, gr->status);
	fetch_read(NULL, 0, cause, fc);
	free(cause);
}

/*
 * Read the pipeline file at the build's commit, then plan it: from GitHub
 * when the daemon has credentials, otherwise from the repository's mirror,
 * fetching the commit first only if it is not there yet.
 */
static void
engine_fetch(struct engine *e, struct build *b)
{
	struct fetch_ctx	*fc;
	struct github_call	 gc;
	char			*cause = NULL, *path;

	/* Only now: a fork's build first says it awaits approval. */
	report_build(e->report, b);
	fc = xcalloc(1, sizeof *fc);
	fc->e = e;
	fc->build_id = b->id;
	LIST_INSERT_HEAD(&e->fetches, fc, entry);
	b->busy = 1;
	if (github_enabled(e->gh)) {
		xasprintf(&path, "/repos/%s/contents/%s?ref=%s", b->project,
		    PIPELINE_FILE, b->sha);
		memset(&gc, 0, sizeof gc);
		gc.repo = b->project;
		gc.path = path;
		gc.accept = "application/vnd.github.raw+json";
		gc.raw = 1;
		gc.max_size = PIPELINE_FILE_MAX;
		gc.attempts = ENGINE_GITHUB_ATTEMPTS;
		fc->call = github_call(e->gh, &gc, fetch_contents, fc);
		free(path);
		return;
	}
	if (source_read_fetching(e->source, b->project, b->clone_url, b->sha,
	    PIPELINE_FILE, PIPELINE_FILE_MAX, fetch_read, fc, &cause) != 0) {
		b->busy = 0;
		build_error(e, b, cause);
		free(cause);
		fetch_ctx_free(fc);
	}
}

/* A fork's build waits: only an admin can let it run. */
static void
engine_hold(struct engine *e, struct build *b)
{
	set_reason(&b->approval, "required");
	build_save(e, b);
	report_build(e->report, b);
	log_info("build %lld: waits for an admin's approval: pull request "
	    "from a fork by %s, who is not a collaborator of %s",
	    (long long)b->id, b->sender != NULL ? b->sender : "(unknown)",
	    b->project);
}

/* What GitHub said of a fork's author, for engine_start. */
static void
engine_collab_done(int yes, void *arg, int64_t build_id)
{
	struct engine	*e = arg;
	struct build	*b;

	if ((b = engine_find(e, build_id)) != NULL &&
	    b->state == BUILD_FETCHING && b->busy) {
		b->busy = 0;
		if (yes == 1)
			engine_fetch(e, b);
		else
			engine_hold(e, b);
	}
}

/*
 * Start a new build: a pull request from a fork whose author is not a
 * collaborator waits for approval (unless forks are trusted); any other
 * reads its pipeline.
 */
static void
engine_start(struct engine *e, struct build *b)
{
	const struct config	*conf = *e->conf;

	if (!b->fork || b->pr == 0 || conf->github_trust_forks ||
	    b->approval != NULL) {
		engine_fetch(e, b);
		return;
	}
	switch (trust_collaborator(e->trust, b->project, b->sender,
	    engine_collab_done, e, b->id)) {
	case 1:
		engine_fetch(e, b);
		break;
	case 0:
		engine_hold(e, b);
		break;
	default:
		b->busy = 1;	/* GitHub is asked; the answer comes later */
		break;
	}
}

/*
 * An admin lets a waiting build run (and, if it is a fork's, have the
 * project's secrets). Returns 0, or -1 with *cause saying why not.
 */
int
engine_approve_build(struct engine *e, int64_t id, const char *who,
    char **cause)
{
	struct build	*b;

	if ((b = engine_find(e, id)) == NULL) {
		xasprintf(cause, "build %lld is not running or waiting",
		    (long long)id);
		return (-1);
	}
	if (b->approval == NULL || strcmp(b->approval, "required") != 0) {
		xasprintf(cause, "build %lld does not need approval",
		    (long long)id);
		return (-1);
	}
	set_reason(&b->approval, "approved");
	build_save(e, b);
	log_info("build %lld: approved by %s", (long long)id, who);
	engine_fetch(e, b);
	return (0);
}

/*
 * Approve a project: its newest held change is built. Returns 1 if it
 * was not approved before, 0 if it was, -1 on a store error.
 */
int
engine_approve_project(struct engine *e, const char *repo, const char *who)
{
	int	 rv;

	if ((rv = db_project_approve(e->db, repo, ev_time(e->loop))) > 0) {
		log_info("project %s: approved by %s", repo, who);
		e->pending = 1;
		bus_project(repo);
	}
	return (rv);
}

/* The configuration was (re)loaded: approve the projects it lists. */
void
engine_config_changed(struct engine *e)
{
	const struct config	*conf = *e->conf;
	size_t			 i;

	for (i = 0; i < conf->napproved; i++)
		engine_approve_project(e, conf->approved[i],
		    "the configuration");
}

int
engine_github_mode(struct engine *e)
{
	return (github_enabled(e->gh));
}

/*
 * Stop a build: tasks not started are cancelled, running ones are asked
 * to stop and the build ends when the last of them has.
 */
static void
engine_cancel(struct engine *e, struct build *b, const char *why)
{
	struct task	*t;
	size_t		 i;
	int		 running = 0;
	char		*reason;

	xasprintf(&reason, "cancelled: %s", why);
	if (b->state == BUILD_FETCHING) {
		build_set_state(e, b, BUILD_CANCELLED, reason);
		free(reason);
		return;
	}
	set_reason(&b->reason, reason);
	free(reason);
	build_save(e, b);
	for (i = 0; i < b->ntasks; i++) {
		t = b->tasks[i];
		if (t->state == TASK_WAITING)
			task_set_state(e, t, TASK_CANCELLED, NULL);
		else if (t->state == TASK_QUEUED) {
			pools_dequeue(e->pools, t);
			task_set_state(e, t, TASK_CANCELLED, NULL);
		} else if (t->state == TASK_RUNNING) {
			running = 1;
			t->cancelling = 1;
			pools_cancel(e->pools, t);
		}
	}
	if (!running) {
		for (i = 0; i < b->ntasks; i++) {
			if (!task_finished(b->tasks[i]))
				task_set_state(e, b->tasks[i], TASK_CANCELLED,
				    NULL);
		}
		build_set_state(e, b, BUILD_CANCELLED, NULL);
	}
}

/* Same pull request, or same branch or tag when neither is a PR. */
static int
engine_same_line(const struct build *b, const struct change_row *c,
    const char *event)
{
	if (strcmp(b->project, c->repo) != 0)
		return (0);
	if (c->pr != 0)
		return (b->pr == c->pr);
	return (b->pr == 0 && strcmp(b->event, event) == 0 &&
	    b->ref != NULL && c->ref != NULL && strcmp(b->ref, c->ref) == 0);
}

static void
engine_change(struct change_row *c, void *arg)
{
	struct engine		*e = arg;
	const struct config	*conf = *e->conf;
	struct build		*b, *next;
	const char		*event;
	char			*state, *reason;
	int			 closed;

	e->taken++;
	/* The first change of a turn opens the turn's transaction. */
	if (!e->in_batch) {
		db_begin(e->db);
		e->in_batch = 1;
	}
	if ((state = db_project_state(e->db, c->repo)) == NULL) {
		db_project_register(e->db, c->repo, c->clone_url, NULL,
		    conf->auto_approve, ev_time(e->loop));
		bus_project(c->repo);
		state = xstrdup(conf->auto_approve ? "approved" : "pending");
	}
	github_installation_seen(e->gh, c->repo, c->installation);
	if (strcmp(state, "approved") != 0) {
		xasprintf(&reason, "project %s is %s, not approved", c->repo,
		    state);
		if (strcmp(state, "pending") == 0)
			db_change_hold(e->db, c->id, reason);
		else
			db_change_done(e->db, c->id, "ignored", reason);
		log_info("change %lld: %s", (long long)c->id, reason);
		free(reason);
		goto out;
	}
	if (strcmp(c->event, "pull_request") == 0)
		event = "pull_request";
	else if (c->ref_type != NULL && strcmp(c->ref_type, "tag") == 0)
		event = "tag";
	else
		event = "push";
	closed = c->action != NULL && strcmp(c->action, "closed") == 0;
	if (strcmp(event, "push") == 0 && c->ref != NULL &&
	    !trust_push_builds(conf, c->repo, c->ref, c->default_branch,
	    &reason)) {
		db_change_done(e->db, c->id, "ignored", reason);
		log_info("change %lld: %s", (long long)c->id, reason);
		free(reason);
		goto out;
	}

	for (b = TAILQ_FIRST(&e->builds); b != NULL; b = next) {
		next = TAILQ_NEXT(b, entry);
		if (!engine_same_line(b, c, event) || build_finished(b) ||
		    (b->reason != NULL && strncmp(b->reason, "cancelled",
		    9) == 0))
			continue;
		if (closed)
			engine_cancel(e, b, "the pull request was closed");
		else {
			xasprintf(&reason, "superseded by %.12s", c->sha);
			engine_cancel(e, b, reason);
			free(reason);
		}
	}
	if (closed) {
		db_change_done(e->db, c->id, "done", "pull request closed");
		goto out;
	}

	b = xcalloc(1, sizeof *b);
	b->change_id = c->id;
	b->project = xstrdup(c->repo);
	b->clone_url = c->clone_url != NULL ? xstrdup(c->clone_url) : NULL;
	b->event = xstrdup(event);
	b->ref = c->ref != NULL ? xstrdup(c->ref) : NULL;
	b->pr = c->pr;
	b->sha = xstrdup(c->sha);
	b->fork = c->fork;
	b->sender = c->sender != NULL ? xstrdup(c->sender) : NULL;
	b->installation = c->installation;
	b->state = BUILD_FETCHING;
	b->created_at = ev_time(e->loop);
	if (db_build_insert(e->db, b) != 0) {
		build_free(b);
		goto out;
	}
	bus_build(b);
	db_change_done(e->db, c->id, "done", NULL);
	TAILQ_INSERT_TAIL(&e->builds, b, entry);
	e->fresh = xreallocarray(e->fresh, e->nfresh + 1, sizeof *e->fresh);
	e->fresh[e->nfresh++] = b->id;
	log_info("build %lld: %s %s %s at %.12s", (long long)b->id, b->project,
	    event, b->pr != 0 ? "pull request" : b->ref, b->sha);

out:
	free(state);
	change_row_free(c);
}

/*
 * Turn queued changes into builds, all in one transaction (a burst of
 * deliveries costs one fsync here too), fetch the new builds once that
 * is committed, then let the pools schedule.
 */
static void
engine_before_sleep(struct ev_loop *loop, void *arg)
{
	struct engine	*e = arg;
	struct build	*b;
	size_t		 i;

	/*
	 * The store is asked only when the intake has stored something
	 * since, not on every turn of the loop; a full page of changes
	 * means there may be more.
	 */
	if (!e->pending) {
		pools_schedule(e->pools);
		return;
	}
	e->taken = 0;
	db_changes_queued(e->db, engine_change, e);
	e->pending = e->taken >= DB_CHANGES_PAGE;
	if (e->in_batch) {
		db_commit(e->db);
		e->in_batch = 0;
	}
	for (i = 0; i < e->nfresh; i++) {
		if ((b = engine_find(e, e->fresh[i])) != NULL &&
		    b->state == BUILD_FETCHING && !b->busy)
			engine_start(e, b);
	}
	e->nfresh = 0;
	pools_schedule(e->pools);
}

void
engine_task_started(struct engine *e, struct task *t, long pid)
{
	t->pid = pid;
	set_reason(&t->instance_id, t->instance != NULL ?
	    instance_id(t->instance) : NULL);
	task_set_state(e, t, TASK_RUNNING, NULL);
}

/*
 * The machine under a running task went away (a spot interruption, an
 * instance lost): the task is queued again as an infrastructure retry,
 * which GitHub shows as pending with the reason, not as a failure; after
 * ENGINE_INFRA_RETRIES of them it is an error that says so.
 */
void
engine_task_retry(struct engine *e, struct task *t, const char *why)
{
	char	*reason, *cause = NULL;

	pools_task_ended(e->pools, t);
	t->pid = 0;
	db_begin(e->db);
	if (t->cancelling)
		task_set_state(e, t, TASK_CANCELLED, "cancelled");
	else if (t->infra_retry >= ENGINE_INFRA_RETRIES) {
		xasprintf(&reason, "%s, and it had been retried %u times "
		    "already for the same kind of failure", why,
		    t->infra_retry);
		task_set_state(e, t, TASK_ERRORED, reason);
		free(reason);
	} else {
		t->infra_retry++;
		t->attempt++;
		xasprintf(&reason, "infrastructure retry: %s", why);
		if (pools_enqueue(e->pools, t, &cause) != 0) {
			task_set_state(e, t, TASK_ERRORED, cause);
			free(cause);
		} else
			task_set_state(e, t, TASK_QUEUED, reason);
		free(reason);
	}
	engine_check(e, t->build);
	db_commit(e->db);
}

void
engine_task_done(struct engine *e, struct task *t, enum task_state state,
    int status, const char *reason)
{
	struct build	*b = t->build;

	pools_task_ended(e->pools, t);
	t->exit_status = status;
	t->pid = 0;
	if (t->cancelling && state != TASK_PASSED)
		state = TASK_CANCELLED;
	db_begin(e->db);
	task_set_state(e, t, state, reason);
	engine_check(e, b);
	db_commit(e->db);
}

/* The intake stored new deliveries: look for changes on this turn. */
void
engine_wake(void *arg)
{
	struct engine	*e = arg;

	e->pending = 1;
}

struct build *
engine_build(struct engine *e, int64_t id)
{
	return (engine_find(e, id));
}

struct source *
engine_source(struct engine *e)
{
	return (e->source);
}

struct archives *
engine_archives(struct engine *e)
{
	return (e->archives);
}

struct pools *
engine_pools(struct engine *e)
{
	return (e->pools);
}

struct vars *
engine_vars(struct engine *e)
{
	return (e->vars);
}

/* Reports GitHub does not have yet. */
int64_t
engine_report_backlog(struct engine *e)
{
	return (report_backlog(e->report));
}

/*
 * An operator stops a build. Returns 0, or -1 with *cause saying why
 * not.
 */
int
engine_cancel_build(struct engine *e, int64_t id, const char *who,
    char **cause)
{
	struct build	*b;
	char		*why;

	if ((b = engine_find(e, id)) == NULL) {
		xasprintf(cause, "build %lld is not running: it has finished, "
		    "or there is no such build", (long long)id);
		return (-1);
	}
	if (b->reason != NULL && strncmp(b->reason, "cancelled", 9) == 0) {
		xasprintf(cause, "build %lld is being cancelled already",
		    (long long)id);
		return (-1);
	}
	xasprintf(&why, "stopped by %s", who);
	log_info("build %lld: %s", (long long)id, why);
	db_begin(e->db);
	engine_cancel(e, b, why);
	db_commit(e->db);
	free(why);
	return (0);
}

/* "pull request #4" or "branch main": a build's line, for sentences. */
static char *
retry_line(const struct build *b)
{
	char	*s;

	if (b->pr != 0)
		xasprintf(&s, "pull request #%lld", (long long)b->pr);
	else
		xasprintf(&s, "%s %s", strcmp(b->event, "tag") == 0 ? "tag" :
		    "branch", b->ref != NULL ? b->ref : "(none)");
	return (s);
}

/*
 * Which tasks of the old build a retry runs again: all of them, or the
 * one named and those its end kept from finishing (skipped or cancelled,
 * in its phase or later). The others are carried over as they ended.
 */
static int
retry_reruns(const struct task *t, const struct task *one)
{
	if (one == NULL || t == one)
		return (1);
	return (t->phase >= one->phase && (t->state == TASK_SKIPPED ||
	    t->state == TASK_CANCELLED));
}

/*
 * A task of the retry nb, from o of the build it repeats: waiting to run
 * again, its attempt counted on when it had run; or carried over as it
 * ended, with its log, so the new build is whole on its own.
 */
static void
retry_task(struct engine *e, struct build *nb, const struct task *o,
    int rerun)
{
	const char	*dir = (*e->conf)->state_dir;
	struct task	*t;
	char		*from, *to;

	t = xcalloc(1, sizeof *t);
	t->build = nb;
	t->phase = o->phase;
	t->phase_name = xstrdup(o->phase_name);
	t->slug = xstrdup(o->slug);
	t->name = xstrdup(o->name);
	t->image = o->image != NULL ? xstrdup(o->image) : NULL;
	t->run = o->run != NULL ? xstrdup(o->run) : NULL;
	t->profile = xstrdup(o->profile);
	t->critical = o->critical;
	t->timeout_ms = o->timeout_ms;
	t->environment = xstrdup(o->environment != NULL ? o->environment :
	    "{}");
	t->attempt = o->attempt;
	t->exit_status = -1;
	t->state = TASK_WAITING;
	if (rerun && o->started_at != 0)
		t->attempt++;
	else if (!rerun) {
		t->state = o->state;
		t->exit_status = o->exit_status;
		t->reason = o->reason != NULL ? xstrdup(o->reason) : NULL;
		t->instance_id = o->instance_id != NULL ?
		    xstrdup(o->instance_id) : NULL;
		t->queued_at = o->queued_at;
		t->started_at = o->started_at;
		t->finished_at = o->finished_at;
	}
	db_task_insert(e->db, t);
	task_save(e, t);
	nb->tasks = xreallocarray(nb->tasks, nb->ntasks + 1,
	    sizeof *nb->tasks);
	nb->tasks[nb->ntasks++] = t;
	report_task(e->report, t);
	if (rerun || o->started_at == 0)
		return;
	xasprintf(&to, "%s/logs/%lld", dir, (long long)nb->id);
	if (mkdir(to, 0750) != 0 && errno != EEXIST)
		log_warn("build %lld: %s: %s", (long long)nb->id, to,
		    strerror(errno));
	free(to);
	xasprintf(&from, "%s/logs/%lld/%lld.log", dir,
	    (long long)o->build->id, (long long)o->id);
	xasprintf(&to, "%s/logs/%lld/%lld.log", dir, (long long)nb->id,
	    (long long)t->id);
	if (link(from, to) != 0 && errno != ENOENT)
		log_warn("build %lld: the log of %s: %s", (long long)nb->id,
		    t->slug, strerror(errno));
	free(from);
	free(to);
}

/*
 * Whether an operator may retry build o (and its task slug, if given):
 * NULL, or the task (with slug), with *one set; -1 with *cause if not.
 */
static int
retry_check(struct engine *e, const struct build *o, const char *slug,
    const struct task **one, char **cause)
{
	struct buf	 b;
	char		*line;
	int64_t		 newer;
	size_t		 i;

	*one = NULL;
	for (i = 0; slug != NULL && i < o->ntasks; i++) {
		if (strcmp(o->tasks[i]->slug, slug) == 0)
			*one = o->tasks[i];
	}
	if (slug != NULL && *one == NULL) {
		buf_init(&b, 0);
		buf_printf(&b, "build %lld has no task '%s' (its tasks: ",
		    (long long)o->id, slug);
		for (i = 0; i < o->ntasks; i++)
			buf_printf(&b, "%s%s", i > 0 ? ", " : "",
			    o->tasks[i]->slug);
		buf_addstr(&b, o->ntasks == 0 ? "none)" : ")");
		*cause = buf_detach(&b, NULL);
		return (-1);
	}
	if (engine_find(e, o->id) != NULL) {
		if (*one != NULL && !task_finished(*one))
			xasprintf(cause, "task %s of build %lld is still %s: "
			    "wait for it to end, or cancel the build first "
			    "(beekeeper cancel %lld)", slug, (long long)o->id,
			    task_state_names[(*one)->state], (long long)o->id);
		else
			xasprintf(cause, "build %lld is still %s: wait for "
			    "it to finish, or cancel it first (beekeeper "
			    "cancel %lld)", (long long)o->id,
			    build_state_names[o->state], (long long)o->id);
		return (-1);
	}
	if (*one != NULL && (*one)->state == TASK_PASSED) {
		xasprintf(cause, "task %s of build %lld passed: only a task "
		    "that failed, errored or was cancelled is retried (retry "
		    "the whole build to run it again)", slug, (long long)o->id);
		return (-1);
	}
	if (*one != NULL && (*one)->state == TASK_SKIPPED) {
		xasprintf(cause, "task %s of build %lld never ran (skipped): "
		    "retry the task that stopped the pipeline, and it runs "
		    "again if that one passes", slug, (long long)o->id);
		return (-1);
	}
	/* A retry must not put an older commit's result back on the line. */
	if ((newer = db_build_newer(e->db, o)) != 0) {
		if (newer < 0) {
			xasprintf(cause, "the store failed: %s",
			    db_error(e->db));
			return (-1);
		}
		line = retry_line(o);
		xasprintf(cause, "build %lld of %s %s is newer than build "
		    "%lld: retry build %lld instead, so that an older run does "
		    "not replace its result", (long long)newer, o->project,
		    line, (long long)o->id, (long long)newer);
		free(line);
		return (-1);
	}
	return (0);
}

/*
 * An operator runs a finished build again, as a new build of the same
 * change: every task, or only task slug (with what its end kept from
 * running), the others carried over as they ended. The new build reuses
 * the old one's plan, so it runs what the old one planned; one that was
 * never planned (its pipeline could not be read) reads it again. A
 * fork's build keeps an admin's approval, and nothing more. Returns the
 * new build's id, or -1 with *cause saying why not.
 */
int64_t
engine_retry_build(struct engine *e, int64_t id, const char *slug,
    const char *who, char **cause)
{
	struct build		*o, *nb;
	const struct task	*one;
	size_t			 i;
	int64_t			 nid;
	u_int			 phase = UINT_MAX;

	if ((o = db_build_get(e->db, id)) == NULL) {
		xasprintf(cause, "no build %lld", (long long)id);
		return (-1);
	}
	if (retry_check(e, o, slug, &one, cause) != 0) {
		build_free(o);
		return (-1);
	}
	nb = xcalloc(1, sizeof *nb);
	nb->change_id = o->change_id;
	nb->project = xstrdup(o->project);
	nb->clone_url = o->clone_url != NULL ? xstrdup(o->clone_url) : NULL;
	nb->event = xstrdup(o->event);
	nb->ref = o->ref != NULL ? xstrdup(o->ref) : NULL;
	nb->pr = o->pr;
	nb->sha = xstrdup(o->sha);
	nb->fork = o->fork;
	nb->sender = o->sender != NULL ? xstrdup(o->sender) : NULL;
	nb->installation = o->installation;
	if (o->approval != NULL && strcmp(o->approval, "approved") == 0)
		nb->approval = xstrdup("approved");
	nb->retry_of = o->id;
	nb->state = BUILD_FETCHING;
	nb->created_at = ev_time(e->loop);
	db_begin(e->db);
	if (db_build_insert(e->db, nb) != 0) {
		db_rollback(e->db);
		xasprintf(cause, "the store failed: %s", db_error(e->db));
		build_free(nb);
		build_free(o);
		return (-1);
	}
	nid = nb->id;
	bus_build(nb);
	TAILQ_INSERT_TAIL(&e->builds, nb, entry);
	log_info("build %lld: retry of build %lld%s%s by %s", (long long)nid,
	    (long long)id, slug != NULL ? ", task " : "",
	    slug != NULL ? slug : "", who);
	if (o->ntasks == 0) {
		db_commit(e->db);
		build_free(o);
		engine_start(e, nb);
		return (nid);
	}
	for (i = 0; i < o->ntasks; i++) {
		retry_task(e, nb, o->tasks[i], retry_reruns(o->tasks[i], one));
		if (nb->tasks[i]->state == TASK_WAITING &&
		    nb->tasks[i]->phase < phase)
			phase = nb->tasks[i]->phase;
	}
	build_free(o);
	build_set_state(e, nb, BUILD_RUNNING, NULL);
	engine_start_phase(e, nb, phase);
	engine_check(e, nb);	/* may finish and free nb */
	db_commit(e->db);
	return (nid);
}

/*
 * A process group left by a task of the last run, if it is still there
 * and still a group of that leader: it dies now, so no task runs twice
 * at the same time.
 */
static void
engine_kill_leftover(long pid)
{
	char	 path[64], *stat, *cause = NULL, *p;
	long	 pgrp;

	if (pid <= 1)
		return;
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if ((stat = util_read_file(path, 4096, NULL, &cause)) == NULL) {
		free(cause);
		return;
	}
	/* pid (comm) state ppid pgrp: comm may hold spaces and parens. */
	if ((p = strrchr(stat, ')')) != NULL &&
	    sscanf(p + 1, " %*c %*d %ld", &pgrp) == 1 && pgrp == pid) {
		log_warn("killing process group %ld left by the last run", pid);
		kill(-pid, SIGKILL);
	}
	free(stat);
}

static void
engine_resume_build(struct build *b, void *arg)
{
	struct engine	*e = arg;
	struct task	*t;
	char		*cause = NULL;
	size_t		 i;

	TAILQ_INSERT_TAIL(&e->builds, b, entry);
	github_installation_seen(e->gh, b->project, b->installation);
	if (b->state == BUILD_FETCHING) {
		if (b->approval != NULL && strcmp(b->approval, "required") ==
		    0)
			return;
		log_info("build %lld: fetching again after a restart",
		    (long long)b->id);
		engine_start(e, b);
		return;
	}
	db_begin(e->db);
	for (i = 0; i < b->ntasks; i++) {
		t = b->tasks[i];
		if (t->state == TASK_RUNNING) {
			engine_kill_leftover(t->pid);
			t->pid = 0;
			if (t->infra_retry) {
				t->state = TASK_ERRORED;
				t->finished_at = ev_time(e->loop);
				set_reason(&t->reason, "lost twice when the "
				    "daemon stopped while it ran");
				task_save(e, t);
				report_task(e->report, t);
				continue;
			}
			t->infra_retry = 1;
			t->attempt++;
			t->state = TASK_QUEUED;
			t->queued_at = ev_time(e->loop);
			set_reason(&t->reason, "infrastructure retry: the "
			    "daemon stopped while it ran");
			task_save(e, t);
			log_info("build %lld: task %s retried after a restart",
			    (long long)b->id, t->slug);
		}
		if (t->state == TASK_QUEUED &&
		    pools_enqueue(e->pools, t, &cause) != 0) {
			t->state = TASK_WAITING;
			task_set_state(e, t, TASK_ERRORED, cause);
			free(cause);
			cause = NULL;
		}
	}
	engine_check(e, b);
	db_commit(e->db);
}

/* Take up the builds of the last run; see the comment at the top. */
int
engine_resume(struct engine *e)
{
	return (db_builds_active(e->db, engine_resume_build, e));
}

struct engine *
engine_create(struct ev_loop *loop, struct db *db,
    const struct config **conf, struct github *gh, char **cause)
{
	static const char	*dirs[] = { "archives", "logs", "workspaces" };
	struct engine		*e;
	char			*path;
	size_t			 i;

	for (i = 0; i < nitems(dirs); i++) {
		xasprintf(&path, "%s/%s", (*conf)->state_dir, dirs[i]);
		if (mkdir(path, 0750) != 0 && errno != EEXIST) {
			xasprintf(cause, "%s: %s", path, strerror(errno));
			free(path);
			return (NULL);
		}
		free(path);
	}
	e = xcalloc(1, sizeof *e);
	if ((e->vars = vars_create(db, cause)) == NULL) {
		free(e);
		return (NULL);
	}
	e->loop = loop;
	e->db = db;
	e->conf = conf;
	e->pending = 1;		/* what the last run left queued */
	e->gh = gh;
	e->report = report_create(loop, db, gh, conf);
	TAILQ_INIT(&e->builds);
	LIST_INIT(&e->fetches);

	if ((e->source = source_create(loop, (*conf)->state_dir, cause)) ==
	    NULL) {
		report_free(e->report);
		vars_free(e->vars);
		free(e);
		return (NULL);
	}
	e->pools = pools_create(e, loop, db, conf);
	e->archives = archives_create(loop, gh, e->source, conf);
	e->trust = trust_create(loop, gh, conf);
	/* Probed once here, at start, not in the middle of a task's start. */
	log_info("local tasks run %s", sandbox_bwrap_works() ?
	    "in bubblewrap" : "without a sandbox: bwrap does not work here");
	ev_before_sleep(loop, engine_before_sleep, e);
	return (e);
}

void
engine_free(struct engine *e)
{
	struct build		*b;
	struct fetch_ctx	*fc;
	size_t			 i;

	if (e == NULL)
		return;
	/*
	 * Running tasks die, and so do those a driver has taken but not yet
	 * started (their tree is still being unpacked or downloaded).
	 */
	TAILQ_FOREACH(b, &e->builds, entry) {
		for (i = 0; i < b->ntasks; i++) {
			if (b->tasks[i]->state == TASK_RUNNING ||
			    b->tasks[i]->run_state != NULL)
				pools_abandon(e->pools, b->tasks[i]);
		}
	}
	source_free(e->source);
	while ((fc = LIST_FIRST(&e->fetches)) != NULL) {
		if (fc->call != 0)
			github_cancel(e->gh, fc->call);
		fetch_ctx_free(fc);
	}
	pools_free(e->pools);
	report_free(e->report);
	trust_free(e->trust);
	archives_free(e->archives);
	vars_free(e->vars);
	free(e->fresh);
	while ((b = TAILQ_FIRST(&e->builds)) != NULL) {
		TAILQ_REMOVE(&e->builds, b, entry);
		build_free(b);
	}
	free(e);
}
