/*
 * beekeeper run: a checkout's pipeline on this machine, without a daemon.
 * run.c owns its own event loop, the temporary directory of the run (one
 * workspace and one log per task), the children it spawns, the streaming
 * of logs to the terminal and the summary.
 *
 * Invariants:
 * - Phases run in order, the tasks of a phase at once. A phase starts
 *   only when every task of the one before has ended; if one of them
 *   errored or failed while critical, the rest are skipped.
 * - A task's workspace is a fresh copy of DIR's tree made by cp -a
 *   (uncommitted changes and .git included, so a task sees exactly the
 *   checkout), and is removed when the task ends. With bubblewrap the
 *   run's directory is hidden from the task, so it sees only its own
 *   workspace and not its siblings' or their logs.
 * - Output goes to the task's log file; the 100 ms tick prints complete
 *   lines with a "slug | " prefix, and the end of a task prints the rest,
 *   so lines of tasks that run at once never interleave mid-line.
 * - The loop stops only when no child of ours is left: every task's
 *   process group has been reaped and every workspace removed.
 */

#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "tui.h"

#define RUN_FILE_MAX	(1024 * 1024)
#define RUN_TICK_MS	100
#define RUN_PATH	"PATH=/usr/local/bin:/usr/bin:/bin"

enum run_result {
	RUN_PENDING,
	RUN_ACTIVE,
	RUN_PASSED,
	RUN_FAILED,
	RUN_ERRORED,
	RUN_SKIPPED,
	RUN_CANCELLED
};
static const char *run_result_names[] = {
	[RUN_PENDING] = "pending",
	[RUN_ACTIVE] = "running",
	[RUN_PASSED] = "passed",
	[RUN_FAILED] = "failed",
	[RUN_ERRORED] = "errored",
	[RUN_SKIPPED] = "skipped",
	[RUN_CANCELLED] = "cancelled"
};

struct run;

struct run_task {
	struct run			*run;
	const struct pipeline_task	*t;
	size_t				 phase;
	enum run_result			 result;
	char				*ws;
	char				*log_path;
	int				 logfd;		/* for streaming */
	struct buf			 partial;	/* an unfinished line */
	struct proc			*proc;		/* cp, then the task */
	int				 copying;
	int				 exited;
	int				 status;
	int				 signo;
	int				 timed_out;
	uint64_t			 elapsed_ms;
	char				*reason;
};

struct run {
	struct ev_loop		*loop;
	struct pipeline		*pl;
	const char		*file;
	enum pipeline_event	 event;
	char			*dir;		/* absolute */
	char			*root;		/* the run's temporary directory */
	int			 bwrap;
	FILE			*out;		/* the stream: stdout, or stderr
						   with --json */
	struct run_task		*tasks;
	size_t			 ntasks;
	size_t			 phase;		/* the one running */
	int			 started;
	int			 stopped;	/* later phases are skipped */
	int			 interrupted;
	int			 cleaned;	/* root being removed */
	size_t			 nprocs;	/* children of ours alive */
	struct ev_timer		*tick;
	char			*sha;
	char			*owner;
	char			*project;
	size_t			 ngit;		/* git probes not done */
};

static void	run_next_phase(struct run *);
static void	run_maybe_done(struct run *);

/* Print the complete lines of the new bytes of a log; all with final. */
static void
run_stream(struct run_task *rt, int final)
{
	char	 data[8192], *nl, *s;
	ssize_t	 n;
	size_t	 len;

	if (rt->logfd == -1)
		return;
	while ((n = read(rt->logfd, data, sizeof data)) > 0)
		buf_add(&rt->partial, data, n);
	s = rt->partial.data;
	len = rt->partial.len;
	while (len != 0 && (nl = memchr(s, '\n', len)) != NULL) {
		fprintf(rt->run->out, "%s | %.*s\n", rt->t->slug,
		    (int)(nl - s), s);
		len -= nl + 1 - s;
		s = nl + 1;
	}
	if (final && len != 0) {
		fprintf(rt->run->out, "%s | %.*s\n", rt->t->slug, (int)len, s);
		len = 0;
	}
	if (len != rt->partial.len) {
		memmove(rt->partial.data, s, len);
		rt->partial.len = len;
		rt->partial.data[len] = '\0';
	}
	fflush(rt->run->out);
}

static void
run_tick(struct ev_loop *loop, void *arg)
{
	struct run	*r = arg;
	size_t		 i;

	for (i = 0; i < r->ntasks; i++)
		run_stream(&r->tasks[i], 0);
	r->tick = ev_timer_add(loop, RUN_TICK_MS, run_tick, r);
}

static void
run_rm_done(struct proc *p, const struct proc_result *res, void *arg)
{
	struct run	*r = arg;

	(void)p;
	(void)res;
	r->nprocs--;
	run_maybe_done(r);
}

/* Remove a path with rm -rf from the loop: a workspace can be large. */
static void
run_remove(struct run *r, const char *path)
{
	char		*argv[] = { "/bin/rm", "-rf", (char *)path, NULL };
	struct proc_spec spec;
	char		*cause = NULL;

	memset(&spec, 0, sizeof spec);
	spec.argv = argv;
	if (proc_spawn(r->loop, &spec, run_rm_done, r, &cause) == NULL) {
		fprintf(stderr, "beekeeper run: %s\n", cause);
		free(cause);
		return;
	}
	r->nprocs++;
}

/* The task is over, one way or another: report it and move on. */
static void
run_task_end(struct run_task *rt, enum run_result result)
{
	struct run	*r = rt->run;

	rt->result = result;
	rt->proc = NULL;
	run_stream(rt, 1);
	if (rt->reason != NULL)
		fprintf(r->out, "%s | beekeeper: %s\n", rt->t->slug,
		    rt->reason);
	fprintf(r->out, "%s | beekeeper: %s\n", rt->t->slug,
	    run_result_names[result]);
	fflush(r->out);
	if (rt->ws != NULL)
		run_remove(r, rt->ws);
	if ((result == RUN_FAILED && rt->t->critical) || result == RUN_ERRORED)
		r->stopped = 1;
	run_maybe_done(r);
}

static void
run_task_done(struct proc *p, const struct proc_result *res, void *arg)
{
	struct run_task	*rt = arg;
	enum run_result	 result;

	(void)p;
	rt->run->nprocs--;
	rt->exited = res->exited;
	rt->status = res->status;
	rt->signo = res->signo;
	rt->timed_out = res->timed_out;
	rt->elapsed_ms = res->elapsed_ms;
	if (res->cancelled)
		result = RUN_CANCELLED;
	else if (res->exited && res->status == 0 && !res->timed_out)
		result = RUN_PASSED;
	else
		result = RUN_FAILED;
	if (res->timed_out)
		xasprintf(&rt->reason, "timed out after %llus",
		    (unsigned long long)rt->t->timeout_ms / 1000);
	run_task_end(rt, result);
}

static int
run_env_set(char **env, size_t n, char *entry)
{
	size_t	 i, len = strcspn(entry, "=");

	for (i = 0; i < n; i++) {
		if (strncmp(env[i], entry, len + 1) == 0) {
			free(env[i]);
			env[i] = entry;
			return (0);
		}
	}
	env[n] = entry;
	return (1);
}

/* PRODUCT.md's task environment, as far as it means anything here. */
static char **
run_task_env(struct run_task *rt)
{
	struct run	*r = rt->run;
	char		**env, *e;
	size_t		 n = 0, i;

	env = xcalloc(rt->t->nenv + 10, sizeof *env);
	xasprintf(&env[n++], "TASK=%s", rt->t->slug);
	xasprintf(&env[n++], "SHA=%s", r->sha != NULL ? r->sha : "");
	xasprintf(&env[n++], "GITHUB_OWNER=%s",
	    r->owner != NULL ? r->owner : "");
	xasprintf(&env[n++], "GITHUB_PROJECT_NAME=%s",
	    r->project != NULL ? r->project : "");
	env[n++] = xstrdup("GITHUB_PR_NUMBER=");
	env[n++] = xstrdup("CODE_URL=");
	env[n++] = xstrdup(RUN_PATH);
	xasprintf(&env[n++], "HOME=%s", rt->ws);
	env[n++] = xstrdup("LANG=C.UTF-8");
	for (i = 0; i < rt->t->nenv; i++) {
		xasprintf(&e, "%s=%s", rt->t->env[i].name,
		    rt->t->env[i].value);
		n += run_env_set(env, n, e);
	}
	return (env);
}

static void
run_env_free(char **env)
{
	size_t	 i;

	for (i = 0; env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

/* The workspace is ready: run the task itself. */
static void
run_task_exec(struct run_task *rt)
{
	struct run		*r = rt->run;
	struct sandbox_spec	 ss;
	struct proc_spec	 spec;
	const char		*hide[] = { r->root };
	char			**argv, **env, *cause = NULL;

	memset(&ss, 0, sizeof ss);
	ss.workspace = rt->ws;
	ss.hide = hide;
	ss.nhide = nitems(hide);
	ss.run = rt->t->run;
	ss.image = rt->t->image;
	ss.bwrap = r->bwrap;
	if ((argv = sandbox_argv(&ss, &cause)) == NULL) {
		rt->reason = cause;
		run_task_end(rt, RUN_ERRORED);
		return;
	}
	env = run_task_env(rt);
	memset(&spec, 0, sizeof spec);
	spec.argv = argv;
	spec.envp = env;
	spec.cwd = rt->ws;
	spec.log_path = rt->log_path;
	spec.timeout_ms = rt->t->timeout_ms;
	rt->proc = proc_spawn(r->loop, &spec, run_task_done, rt, &cause);
	sandbox_argv_free(argv);
	run_env_free(env);
	if (rt->proc == NULL) {
		rt->reason = cause;
		run_task_end(rt, RUN_ERRORED);
		return;
	}
	r->nprocs++;
}

static void
run_copy_done(struct proc *p, const struct proc_result *res, void *arg)
{
	struct run_task	*rt = arg;
	char		*out;

	(void)p;
	rt->run->nprocs--;
	rt->copying = 0;
	rt->proc = NULL;
	if (res->cancelled) {
		run_task_end(rt, RUN_CANCELLED);
		return;
	}
	if (!res->exited || res->status != 0) {
		out = res->output->data;
		out[strcspn(out, "\n")] = '\0';
		xasprintf(&rt->reason, "cannot copy %s: %s", rt->run->dir,
		    *out != '\0' ? out : "cp failed");
		run_task_end(rt, RUN_ERRORED);
		return;
	}
	run_task_exec(rt);
}

/* A fresh workspace and log, then a copy of the tree into it. */
static void
run_task_start(struct run_task *rt, size_t idx)
{
	struct run		*r = rt->run;
	struct proc_spec	 spec;
	char			*argv[5], *src, *cause = NULL;

	rt->result = RUN_ACTIVE;
	xasprintf(&rt->ws, "%s/%zu", r->root, idx);
	xasprintf(&rt->log_path, "%s/%zu.log", r->root, idx);
	fprintf(r->out, "%s | beekeeper: started\n", rt->t->slug);
	if (mkdir(rt->ws, 0700) != 0) {
		xasprintf(&rt->reason, "cannot create %s: %s", rt->ws,
		    strerror(errno));
		free(rt->ws);
		rt->ws = NULL;
		run_task_end(rt, RUN_ERRORED);
		return;
	}
	rt->logfd = open(rt->log_path, O_RDONLY|O_CREAT|O_CLOEXEC, 0600);
	xasprintf(&src, "%s/.", r->dir);
	argv[0] = "/bin/cp";
	argv[1] = "-a";
	argv[2] = src;
	argv[3] = rt->ws;
	argv[4] = NULL;
	memset(&spec, 0, sizeof spec);
	spec.argv = argv;
	rt->copying = 1;
	rt->proc = proc_spawn(r->loop, &spec, run_copy_done, rt, &cause);
	free(src);
	if (rt->proc == NULL) {
		rt->copying = 0;
		rt->reason = cause;
		run_task_end(rt, RUN_ERRORED);
		return;
	}
	r->nprocs++;
}

/* Start the next phase with a task to run, or skip what is left. */
static void
run_next_phase(struct run *r)
{
	size_t	 i, next = SIZE_MAX;

	for (i = 0; i < r->ntasks; i++) {
		if (r->tasks[i].result != RUN_PENDING)
			continue;
		if (r->stopped || r->interrupted)
			r->tasks[i].result = RUN_SKIPPED;
		else if (next == SIZE_MAX)
			next = r->tasks[i].phase;
	}
	if (next == SIZE_MAX)
		return;
	r->phase = next;
	fprintf(r->out, "beekeeper: phase %zu: %s\n", next + 1,
	    r->pl->phases[next].name);
	for (i = 0; i < r->ntasks; i++) {
		if (r->tasks[i].phase == next &&
		    r->tasks[i].result == RUN_PENDING)
			run_task_start(&r->tasks[i], i);
	}
}

/* A phase is over when none of its tasks is active. */
static void
run_maybe_done(struct run *r)
{
	size_t	 i;

	if (!r->started)
		return;
	for (i = 0; i < r->ntasks; i++) {
		if (r->tasks[i].result == RUN_ACTIVE)
			return;
	}
	run_next_phase(r);
	for (i = 0; i < r->ntasks; i++) {
		if (r->tasks[i].result == RUN_ACTIVE)
			return;
	}
	if (r->nprocs != 0)
		return;
	/* Last, the run's directory, with the logs: print what is left. */
	if (!r->cleaned) {
		r->cleaned = 1;
		for (i = 0; i < r->ntasks; i++)
			run_stream(&r->tasks[i], 1);
		run_remove(r, r->root);
		if (r->nprocs != 0)
			return;
	}
	ev_stop(r->loop);
}

/* Ctrl-C: ask every task to stop; a second one kills them at once. */
static void
run_signal(struct ev_loop *loop, int signo, void *arg)
{
	struct run	*r = arg;
	size_t		 i;
	int		 how;

	(void)loop;
	how = r->interrupted ? PROC_KILL_NOW : PROC_KILL_TERM;
	if (!r->interrupted)
		fprintf(stderr, "beekeeper run: %s, cancelling\n",
		    strsignal(signo));
	r->interrupted = 1;
	for (i = 0; i < r->ntasks; i++) {
		if (r->tasks[i].proc != NULL)
			proc_kill(r->tasks[i].proc, how);
	}
	if (!r->started) {
		r->started = 1;
		run_maybe_done(r);
	}
}

/* "owner/project" from git@host:owner/project.git or a URL. */
static void
run_parse_remote(struct run *r, char *url)
{
	char	*s, *slash;
	size_t	 len;

	url[strcspn(url, "\r\n")] = '\0';
	len = strlen(url);
	while (len != 0 && url[len - 1] == '/')
		url[--len] = '\0';
	if (len > 4 && strcmp(url + len - 4, ".git") == 0)
		url[len - 4] = '\0';
	if ((slash = strrchr(url, '/')) == NULL)
		return;
	*slash = '\0';
	r->project = xstrdup(slash + 1);
	s = strrchr(url, '/');
	if (strrchr(url, ':') != NULL && (s == NULL || strrchr(url, ':') > s))
		s = strrchr(url, ':');
	r->owner = xstrdup(s != NULL ? s + 1 : url);
}

/* Both git probes are in (or failed): the pipeline can start. */
static void
run_git_end(struct run *r)
{
	if (--r->ngit != 0)
		return;
	if (!r->started) {
		r->started = 1;
		run_next_phase(r);
	}
	run_maybe_done(r);
}

static void
run_sha_done(struct proc *p, const struct proc_result *res, void *arg)
{
	struct run	*r = arg;
	char		*out = res->output->data;

	(void)p;
	r->nprocs--;
	out[strcspn(out, "\r\n")] = '\0';
	if (res->exited && res->status == 0 && *out != '\0')
		r->sha = xstrdup(out);
	run_git_end(r);
}

static void
run_remote_done(struct proc *p, const struct proc_result *res, void *arg)
{
	struct run	*r = arg;

	(void)p;
	r->nprocs--;
	if (res->exited && res->status == 0)
		run_parse_remote(r, res->output->data);
	run_git_end(r);
}

/* git -C DIR ARGS, output captured; a missing git is just no answer. */
static void
run_git(struct run *r, const char *a1, const char *a2, const char *a3,
    proc_exit_cb cb)
{
	char		*argv[] = { "git", "-C", r->dir, (char *)a1,
			    (char *)a2, (char *)a3, NULL };
	char		*envp[] = { RUN_PATH, "LANG=C", NULL };
	struct proc_spec spec;
	char		*cause = NULL;

	memset(&spec, 0, sizeof spec);
	spec.argv = argv;
	spec.envp = envp;
	r->ngit++;
	if (proc_spawn(r->loop, &spec, cb, r, &cause) == NULL) {
		log_debug("run: %s", cause);
		free(cause);
		r->ngit--;
		return;
	}
	r->nprocs++;
}

static const char *
run_exit_text(const struct run_task *rt, char *tmp, size_t len)
{
	if (rt->timed_out)
		return ("timed out");
	if (rt->result == RUN_PENDING || rt->result == RUN_SKIPPED ||
	    rt->proc != NULL || (!rt->exited && rt->signo == 0))
		return ("-");
	if (rt->exited)
		snprintf(tmp, len, "%d", rt->status);
	else
		snprintf(tmp, len, "signal %d", rt->signo);
	return (tmp);
}

static void
run_summary_text(struct run *r, int passed)
{
	const struct run_task	*rt;
	char			 tmp[32], dur[32];
	size_t			 i;

	printf("\n%-24s %-9s %-10s %s\n", "TASK", "RESULT", "EXIT",
	    "DURATION");
	for (i = 0; i < r->ntasks; i++) {
		rt = &r->tasks[i];
		if (rt->elapsed_ms != 0 || rt->exited || rt->signo != 0)
			snprintf(dur, sizeof dur, "%llu.%02llus",
			    (unsigned long long)rt->elapsed_ms / 1000,
			    (unsigned long long)rt->elapsed_ms % 1000 / 10);
		else
			snprintf(dur, sizeof dur, "-");
		printf("%-24s %-9s %-10s %s%s%s\n", rt->t->slug,
		    run_result_names[rt->result],
		    run_exit_text(rt, tmp, sizeof tmp), dur,
		    rt->result == RUN_FAILED && !rt->t->critical ?
		    "  (not critical)" : "",
		    rt->result == RUN_ERRORED ? "  (error)" : "");
	}
	printf("\npipeline %s\n", r->interrupted ? "cancelled" :
	    passed ? "passed" : "failed");
}

static void
run_summary_json(struct run *r, int passed, int status)
{
	const struct run_task	*rt;
	json_t			*tasks, *doc;
	size_t			 i;

	tasks = json_array();
	for (i = 0; i < r->ntasks; i++) {
		rt = &r->tasks[i];
		json_array_append_new(tasks, json_pack("{s:s, s:s, s:s, s:b, "
		    "s:o, s:o, s:b, s:I, s:s?}",
		    "slug", rt->t->slug,
		    "phase", r->pl->phases[rt->phase].name,
		    "result", run_result_names[rt->result],
		    "critical", rt->t->critical,
		    "exit", rt->exited ? json_integer(rt->status) :
		    json_null(),
		    "signal", rt->signo != 0 ? json_integer(rt->signo) :
		    json_null(),
		    "timed_out", rt->timed_out,
		    "duration_ms", (json_int_t)rt->elapsed_ms,
		    "reason", rt->reason));
	}
	doc = json_pack("{s:s, s:s, s:s?, s:b, s:b, s:b, s:i, s:o}",
	    "file", r->file, "event", pipeline_event_name(r->event),
	    "sha", r->sha, "sandbox", r->bwrap, "passed", passed,
	    "cancelled", r->interrupted, "status", status, "tasks", tasks);
	json_dumpf(doc, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(doc);
}

static int
run_usage(void)
{
	const struct cmd_entry	*ce = cmd_find("run");

	fprintf(stderr, "usage: beekeeper %s %s\n", ce->name, ce->usage);
	return (1);
}

/* The tasks to run, in pipeline order; only SLUG's with --task. */
static int
run_select(struct run *r, const char *slug)
{
	const struct pipeline_phase	*ph;
	struct run_task			*rt;
	size_t				 i, j, n = 0;

	for (i = 0; i < r->pl->nphases; i++)
		n += r->pl->phases[i].ntasks;
	r->tasks = xcalloc(n == 0 ? 1 : n, sizeof *r->tasks);
	for (i = 0; i < r->pl->nphases; i++) {
		ph = &r->pl->phases[i];
		for (j = 0; j < ph->ntasks; j++) {
			if (slug != NULL && strcmp(slug, ph->tasks[j].slug) != 0)
				continue;
			rt = &r->tasks[r->ntasks++];
			rt->run = r;
			rt->t = &ph->tasks[j];
			rt->phase = i;
			rt->logfd = -1;
			buf_init(&rt->partial, 0);
		}
	}
	if (slug != NULL && r->ntasks == 0) {
		fprintf(stderr, "beekeeper run: no task %s in the %s pipeline "
		    "of %s\n", slug, pipeline_event_name(r->event), r->file);
		return (-1);
	}
	return (0);
}

static void
run_release(struct run *r)
{
	struct run_task	*rt;
	size_t		 i;

	for (i = 0; i < r->ntasks; i++) {
		rt = &r->tasks[i];
		if (rt->logfd != -1)
			close(rt->logfd);
		buf_release(&rt->partial);
		free(rt->ws);
		free(rt->log_path);
		free(rt->reason);
	}
	free(r->tasks);
	pipeline_free(r->pl);
	free(r->dir);
	free(r->root);
	free(r->sha);
	free(r->owner);
	free(r->project);
}

/*
 * beekeeper run: exit 0 when no task errored and no critical task failed
 * (a failed task that is not critical shows in the summary but does not
 * fail the run, as it does not fail a build); 1 otherwise, or for a file
 * that cannot be planned; 130 when interrupted.
 */
int
cmd_run(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "event", required_argument, NULL, 'e' },
		{ "task", required_argument, NULL, 't' },
		{ "no-sandbox", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct run			 r;
	const char			*dir = ".", *slug = NULL, *tmp;
	char				 real[PATH_MAX], *file, *text;
	char				*cause = NULL;
	size_t				 len, i;
	int				 ch, nosandbox = 0, passed, status;

	memset(&r, 0, sizeof r);
	r.event = PIPELINE_PUSH;
	while ((ch = getopt_long(argc, argv, "e:t:nj", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'e':
			if (pipeline_event_parse(optarg, &r.event) != 0) {
				fprintf(stderr, "beekeeper run: unknown event "
				    "'%s' (push, pull_request or tag)\n",
				    optarg);
				return (1);
			}
			break;
		case 't':
			slug = optarg;
			break;
		case 'n':
			nosandbox = 1;
			break;
		case 'j':
			json_output = 1;
			break;
		default:
			return (run_usage());
		}
	}
	if (argc - optind > 1)
		return (run_usage());
	if (argc - optind == 1)
		dir = argv[optind];
	if (realpath(dir, real) == NULL) {
		fprintf(stderr, "beekeeper run: %s: %s\n", dir,
		    strerror(errno));
		return (1);
	}

	xasprintf(&file, "%s/beekeeper.yml", dir);
	if ((text = util_read_file(file, RUN_FILE_MAX, &len, &cause)) ==
	    NULL) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		free(file);
		return (1);
	}
	r.pl = pipeline_parse(file, text, len, r.event, &cause);
	free(text);
	if (r.pl == NULL) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		free(file);
		return (1);
	}
	r.file = file;
	r.dir = xstrdup(real);
	r.out = json_output ? stderr : stdout;
	if (run_select(&r, slug) != 0) {
		run_release(&r);
		free(file);
		return (1);
	}

	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	xasprintf(&r.root, "%s/beekeeper-run.XXXXXX", tmp);
	if (mkdtemp(r.root) == NULL) {
		fprintf(stderr, "beekeeper run: mkdtemp %s: %s\n", r.root,
		    strerror(errno));
		run_release(&r);
		free(file);
		return (1);
	}
	if (!nosandbox) {
		r.bwrap = sandbox_bwrap_works();
		if (!r.bwrap)
			fprintf(stderr, "beekeeper run: bubblewrap does not "
			    "work here (is /usr/bin/bwrap installed?); tasks "
			    "run without a sandbox\n");
	}

	r.loop = ev_create();
	ev_signal_add(r.loop, SIGINT, run_signal, &r);
	ev_signal_add(r.loop, SIGTERM, run_signal, &r);
	r.tick = ev_timer_add(r.loop, RUN_TICK_MS, run_tick, &r);
	r.ngit = 1;
	run_git(&r, "rev-parse", "--verify", "HEAD", run_sha_done);
	run_git(&r, "config", "--get", "remote.origin.url", run_remote_done);
	run_git_end(&r);
	ev_run(r.loop);

	ev_timer_del(r.tick);

	passed = !r.interrupted;
	for (i = 0; i < r.ntasks; i++) {
		if (r.tasks[i].result == RUN_ERRORED ||
		    (r.tasks[i].result == RUN_FAILED &&
		    r.tasks[i].t->critical))
			passed = 0;
	}
	status = r.interrupted ? 130 : passed ? 0 : 1;
	if (json_output)
		run_summary_json(&r, passed, status);
	else
		run_summary_text(&r, passed);
	fflush(stdout);
	ev_free(r.loop);
	run_release(&r);
	free(file);
	return (status);
}
