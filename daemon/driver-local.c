/*
 * The local driver: instances are workers on the daemon's own machine that
 * boot at once, and a task is a process tree on it. Each task gets a fresh
 * workspace (STATE_DIR/workspaces/TASK) holding the commit's tree, taken
 * from the build's archive, and runs `run:` with /bin/sh -c inside
 * bubblewrap when it works here (system read-only, workspace and a private
 * /tmp writable, the state directory and secret files invisible), in its
 * own process group. Output goes to STATE_DIR/logs/BUILD/TASK.log as it is
 * written. Cancel and timeout kill the whole group (common/proc.c); the
 * workspace is removed when the task ends.
 */

#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

#define LOCAL_UNPACK_TIMEOUT_MS	(5 * 60 * 1000)

enum local_step {
	LOCAL_UNPACKING,
	LOCAL_RUNNING,
};

struct local_run {
	struct instance	*in;
	struct task	*task;
	enum local_step	 step;
	struct proc	*proc;
	char		*workspace;
	int		 cancelled;
};

static int
local_launch(struct pool *p, struct instance *in, char **cause)
{
	pool_instance_ready(in);
	return (0);
}

static void
local_terminate(struct pool *p, struct instance *in)
{
}

static struct engine *
local_engine(struct local_run *lr)
{
	return (pools_engine(pool_pools(instance_pool(lr->in))));
}

static struct ev_loop *
local_loop(struct local_run *lr)
{
	return (pools_loop(pool_pools(instance_pool(lr->in))));
}

static const struct config *
local_config(struct local_run *lr)
{
	return (pools_config(pool_pools(instance_pool(lr->in))));
}

static void
local_removed(struct proc *proc, const struct proc_result *r, void *arg)
{
	if (!r->exited || r->status != 0)
		log_warn("local: could not remove workspace %s", (char *)arg);
	free(arg);
}

/* Remove the workspace in the background and report the task's end. */
static void
local_finish(struct local_run *lr, enum task_state state, int status,
    const char *reason)
{
	struct task		*t = lr->task;
	struct proc_spec	 spec;
	char			*argv[] = { "/bin/rm", "-rf", "--",
				    lr->workspace, NULL, NULL };
	char			*cause = NULL, *index;

	xasprintf(&index, "%s.index", lr->workspace);
	argv[4] = index;
	memset(&spec, 0, sizeof spec);
	spec.argv = argv;
	spec.timeout_ms = LOCAL_UNPACK_TIMEOUT_MS;
	if (proc_spawn(local_loop(lr), &spec, local_removed,
	    xstrdup(lr->workspace), &cause) == NULL) {
		log_warn("local: %s", cause);
		free(cause);
	}
	free(index);
	t->run_state = NULL;
	if (lr->cancelled && state != TASK_PASSED) {
		state = TASK_CANCELLED;
		reason = "cancelled";
	}
	engine_task_done(local_engine(lr), t, state, status, reason);
	free(lr->workspace);
	free(lr);
}

static void
local_env_add(char ***envp, size_t *n, const char *name, const char *value)
{
	*envp = xreallocarray(*envp, *n + 2, sizeof **envp);
	xasprintf(&(*envp)[*n], "%s=%s", name, value != NULL ? value : "");
	(*envp)[++*n] = NULL;
}

/*
 * The task's environment, as the 2017 service set it, for every driver:
 * what identifies the commit, then the admin's variables and secrets
 * (trust_task_vars), then the file's environment. masks gets the secrets
 * no output may show. The caller's to json_decref.
 */
json_t *
task_env(const struct config *conf, struct engine *e, struct task *t,
    const char ***masks, size_t *nmasks)
{
	struct build	*b = t->build;
	char		*owner, *slash, *url, num[32];
	json_t		*vars, *file, *v;
	const char	*k;

	/* Ours first; the file's environment may override them. */
	vars = json_object();
	owner = xstrdup(b->project);
	if ((slash = strchr(owner, '/')) != NULL)
		*slash++ = '\0';
	json_object_set_new(vars, "GITHUB_OWNER", json_string(owner));
	json_object_set_new(vars, "GITHUB_PROJECT_NAME",
	    json_string(slash != NULL ? slash : ""));
	free(owner);
	if (b->pr != 0)
		snprintf(num, sizeof num, "%lld", (long long)b->pr);
	else
		num[0] = '\0';
	json_object_set_new(vars, "GITHUB_PR_NUMBER", json_string(num));
	json_object_set_new(vars, "SHA", json_string(b->sha));
	xasprintf(&url, "%s/builds/%lld/code", conf->public_url,
	    (long long)b->id);
	json_object_set_new(vars, "CODE_URL", json_string(url));
	free(url);
	json_object_set_new(vars, "TASK", json_string(t->slug));
	json_object_set_new(vars, "LANG", json_string("C.UTF-8"));
	trust_task_vars(conf, engine_vars(e), t, vars, masks, nmasks);
	file = json_loads(t->environment != NULL ? t->environment : "{}", 0,
	    NULL);
	json_object_foreach(file, k, v) {
		if (json_is_string(v))
			json_object_set(vars, k, v);
	}
	json_decref(file);
	return (vars);
}

/* task_env, and the two variables the sandbox relies on, as envp. */
static char **
local_env(struct local_run *lr, const char ***masks, size_t *nmasks)
{
	char		**envp = NULL;
	size_t		 n = 0;
	json_t		*vars, *v;
	const char	*k;

	vars = task_env(local_config(lr), local_engine(lr), lr->task, masks,
	    nmasks);
	/* The file cannot change these. */
	json_object_set_new(vars, "PATH",
	    json_string("/usr/local/bin:/usr/bin:/bin"));
	json_object_set_new(vars, "HOME", json_string(lr->workspace));
	json_object_foreach(vars, k, v)
		local_env_add(&envp, &n, k, json_string_value(v));
	json_decref(vars);
	return (envp);
}

static void
local_env_free(char **envp)
{
	size_t	 i;

	for (i = 0; envp != NULL && envp[i] != NULL; i++)
		free(envp[i]);
	free(envp);
}

static void
local_exited(struct proc *proc, const struct proc_result *r, void *arg)
{
	struct local_run	*lr = arg;
	char			*reason = NULL;

	lr->proc = NULL;
	if (r->timed_out) {
		xasprintf(&reason, "timed out after %llus",
		    (unsigned long long)lr->task->timeout_ms / 1000);
		local_finish(lr, TASK_FAILED, -1, reason);
	} else if (r->cancelled)
		local_finish(lr, TASK_CANCELLED, -1, "cancelled");
	else if (r->exited && r->status == 0)
		local_finish(lr, TASK_PASSED, 0, NULL);
	else if (r->exited) {
		xasprintf(&reason, "exited with status %d", r->status);
		local_finish(lr, TASK_FAILED, r->status, reason);
	} else {
		xasprintf(&reason, "killed by signal %d", r->signo);
		local_finish(lr, TASK_FAILED, -1, reason);
	}
	free(reason);
}

static void
local_start(struct local_run *lr)
{
	const struct config	*conf = local_config(lr);
	struct task		*t = lr->task;
	struct sandbox_spec	 sb;
	struct proc_spec	 spec;
	const char		**hide = NULL, **masks = NULL;
	const struct profile	*pr;
	char			**argv, **envp, *log, *dir, *cause = NULL, *eq;
	const char		**names;
	size_t			 n, nhide = 0, nmasks = 0, i;

	envp = local_env(lr, &masks, &nmasks);
	for (n = 0; envp[n] != NULL; n++)
		;
	/* A container gets the same variables by name (docker run -e). */
	names = xcalloc(n + 1, sizeof *names);
	for (n = 0; envp[n] != NULL; n++) {
		names[n] = xstrdup(envp[n]);
		if ((eq = strchr(names[n], '=')) != NULL)
			*eq = '\0';
	}

	/* The store and every secret file stay out of the task's sight. */
	hide = xcalloc(4 + conf->nvars, sizeof *hide);
	hide[nhide++] = conf->state_dir;
	hide[nhide++] = conf->webhook_secret_file;
	if (conf->github_token_file != NULL)
		hide[nhide++] = conf->github_token_file;
	if (conf->github_app_key_file != NULL)
		hide[nhide++] = conf->github_app_key_file;
	for (i = 0; i < conf->nvars; i++) {
		if (conf->vars[i].file != NULL)
			hide[nhide++] = conf->vars[i].file;
	}
	memset(&sb, 0, sizeof sb);
	sb.workspace = lr->workspace;
	sb.hide = hide;
	sb.nhide = nhide;
	sb.run = t->run;
	sb.image = t->image;
	sb.bwrap = sandbox_bwrap_works();
	sb.env = names;
	sb.nenv = n;
	argv = sandbox_argv(&sb, &cause);
	for (n = 0; names[n] != NULL; n++)
		free((char *)names[n]);
	free(names);
	free(hide);
	if (argv == NULL) {
		free(masks);
		local_env_free(envp);
		local_finish(lr, TASK_ERRORED, -1, cause);
		free(cause);
		return;
	}
	xasprintf(&dir, "%s/logs/%lld", conf->state_dir,
	    (long long)t->build->id);
	if (mkdir(dir, 0750) != 0 && errno != EEXIST)
		log_warn("local: %s: %s", dir, strerror(errno));
	xasprintf(&log, "%s/%lld.log", dir, (long long)t->id);
	free(dir);

	pr = config_profile(conf, t->profile);
	memset(&spec, 0, sizeof spec);
	spec.argv = argv;
	spec.envp = envp;
	spec.cwd = lr->workspace;
	spec.log_path = log;
	spec.die_with_parent = 1;
	spec.mask = masks;
	spec.nmask = nmasks;
	spec.timeout_ms = t->timeout_ms != 0 ? t->timeout_ms :
	    pr != NULL ? pr->task_timeout_ms : 0;
	if (t->timeout_ms == 0)
		t->timeout_ms = spec.timeout_ms;
	lr->step = LOCAL_RUNNING;
	lr->proc = proc_spawn(local_loop(lr), &spec, local_exited, lr, &cause);
	sandbox_argv_free(argv);
	local_env_free(envp);
	free(masks);
	free(log);
	if (lr->proc == NULL) {
		local_finish(lr, TASK_ERRORED, -1, cause);
		free(cause);
		return;
	}
	engine_task_started(local_engine(lr), t, proc_pid(lr->proc));
}

static void
local_unpacked(struct proc *proc, const struct proc_result *r, void *arg)
{
	struct local_run	*lr = arg;
	char			*reason;

	lr->proc = NULL;
	if (lr->cancelled) {
		local_finish(lr, TASK_CANCELLED, -1, "cancelled");
		return;
	}
	if (!r->exited || r->status != 0) {
		xasprintf(&reason, "could not check out the commit's tree: %s",
		    r->output != NULL && r->output->len > 0 ?
		    r->output->data : "git checkout failed");
		local_finish(lr, TASK_ERRORED, -1, reason);
		free(reason);
		return;
	}
	local_start(lr);
}

/*
 * The commit's archive from GitHub is there: unpack it into the workspace
 * (GitHub's tarballs hold one top directory, OWNER-NAME-SHA).
 */
static void
local_archived(int rv, const char *cause, void *arg)
{
	struct local_run	*lr = arg;
	struct proc_spec	 spec;
	char			*path, *reason, *err = NULL;
	char			*argv[] = { "tar", "-x", "-z", "-f", NULL, "-C",
				    NULL, "--strip-components=1",
				    "--no-same-owner", NULL };
	char			*envp[] = { "PATH=/usr/bin:/bin", "LC_ALL=C",
				    NULL };

	if (lr->cancelled) {
		local_finish(lr, TASK_CANCELLED, -1, "cancelled");
		return;
	}
	if (rv != 0) {
		xasprintf(&reason, "could not get the commit's tree: %s",
		    cause);
		local_finish(lr, TASK_ERRORED, -1, reason);
		free(reason);
		return;
	}
	path = archives_path(engine_archives(local_engine(lr)),
	    lr->task->build->project, lr->task->build->sha);
	argv[4] = path;
	argv[6] = lr->workspace;
	memset(&spec, 0, sizeof spec);
	spec.argv = argv;
	spec.envp = envp;
	spec.timeout_ms = LOCAL_UNPACK_TIMEOUT_MS;
	spec.capture_max = 4096;
	lr->proc = proc_spawn(local_loop(lr), &spec, local_unpacked, lr, &err);
	free(path);
	if (lr->proc == NULL) {
		local_finish(lr, TASK_ERRORED, -1, err);
		free(err);
	}
}

/*
 * Start a task: make its workspace and write the commit's tree into it,
 * from the commit's archive when the daemon reads GitHub through its API,
 * otherwise straight from the repository's mirror (the engine fetched the
 * commit before planning); then run.
 */
static int
local_run(struct instance *in, struct task *t, char **cause)
{
	const struct config	*conf;
	struct local_run	*lr;
	struct proc_spec	 spec;
	char			*mirror, *dir, *gitdir, *worktree, *index;
	char			*argv[] = { "git", NULL, NULL, "checkout", "-q",
				    "-f", NULL, "--", ".", NULL };
	char			*envp[] = { "PATH=/usr/bin:/bin",
				    "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C", NULL,
				    NULL };

	lr = xcalloc(1, sizeof *lr);
	lr->in = in;
	lr->task = t;
	conf = local_config(lr);
	xasprintf(&dir, "%s/workspaces", conf->state_dir);
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		xasprintf(cause, "%s: %s", dir, strerror(errno));
		free(dir);
		free(lr);
		return (-1);
	}
	/* Per attempt: a retry never sees what the first attempt left. */
	xasprintf(&lr->workspace, "%s/%lld-%u", dir, (long long)t->id,
	    t->attempt);
	free(dir);
	if (mkdir(lr->workspace, 0750) != 0 && errno != EEXIST) {
		xasprintf(cause, "%s: %s", lr->workspace, strerror(errno));
		free(lr->workspace);
		free(lr);
		return (-1);
	}
	if (engine_github_mode(local_engine(lr))) {
		lr->step = LOCAL_UNPACKING;
		t->run_state = lr;
		if (archives_get(engine_archives(local_engine(lr)),
		    t->build->project, t->build->sha, local_archived, lr,
		    cause) != 0) {
			t->run_state = NULL;
			free(lr->workspace);
			free(lr);
			return (-1);
		}
		return (0);
	}
	/*
	 * git checkout into the workspace with an index of its own beside
	 * it: one process, and the mirror is only read.
	 */
	mirror = source_mirror_dir(engine_source(local_engine(lr)),
	    t->build->project);
	xasprintf(&gitdir, "--git-dir=%s", mirror);
	xasprintf(&worktree, "--work-tree=%s", lr->workspace);
	xasprintf(&index, "GIT_INDEX_FILE=%s.index", lr->workspace);
	argv[1] = gitdir;
	argv[2] = worktree;
	argv[6] = t->build->sha;
	envp[3] = index;
	memset(&spec, 0, sizeof spec);
	spec.argv = argv;
	spec.envp = envp;
	spec.timeout_ms = LOCAL_UNPACK_TIMEOUT_MS;
	spec.capture_max = 4096;
	lr->step = LOCAL_UNPACKING;
	t->run_state = lr;
	lr->proc = proc_spawn(local_loop(lr), &spec, local_unpacked, lr,
	    cause);
	free(index);
	free(worktree);
	free(gitdir);
	free(mirror);
	if (lr->proc == NULL) {
		t->run_state = NULL;
		free(lr->workspace);
		free(lr);
		return (-1);
	}
	return (0);
}

static void
local_cancel(struct instance *in, struct task *t)
{
	struct local_run	*lr = t->run_state;

	if (lr == NULL || lr->cancelled)
		return;
	lr->cancelled = 1;
	/* Waiting for the archive: local_archived sees the flag. */
	if (lr->proc != NULL)
		proc_kill(lr->proc, lr->step == LOCAL_RUNNING ?
		    PROC_KILL_TERM : PROC_KILL_NOW);
}

/*
 * The daemon is stopping: the task's process group is killed without a
 * report, and the task stays 'running' in the store, so the next start
 * retries it once as an infrastructure retry.
 */
static void
local_abandon(struct instance *in, struct task *t)
{
	struct local_run	*lr = t->run_state;

	if (lr == NULL)
		return;
	archives_cancel(engine_archives(local_engine(lr)), lr);
	proc_free(lr->proc);
	t->run_state = NULL;
	free(lr->workspace);
	free(lr);
}

const struct driver driver_local = {
	.name = "local",
	.launch = local_launch,
	.terminate = local_terminate,
	.run = local_run,
	.cancel = local_cancel,
	.abandon = local_abandon,
};
