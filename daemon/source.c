/*
 * Source: where the daemon gets repositories from. For each repository
 * with a local clone URL (file:// or an absolute path) it keeps a bare
 * mirror in STATE_DIR/mirrors/OWNER/NAME.git (sharing the repository's
 * objects, so a fetch is needed only for refs it lacks), fetches commits
 * into it, and
 * reads files and tar.gz archives out of it at a SHA. Every git runs as a
 * child through proc_spawn, so the loop never blocks on one.
 *
 * Invariants:
 * - At most one git runs on a mirror at a time: each mirror has a queue of
 *   jobs (fetches, reads, archives) run strictly in order. Reads wait for
 *   a fetch queued before them, so "fetch, then read" needs no more care.
 * - A callback runs exactly once for a job that was accepted (the submit
 *   returned 0), never from inside the submit, and never after
 *   source_free. A submit that returns -1 has no callback.
 * - Nothing from outside reaches git unchecked: repository names are
 *   OWNER/NAME of [A-Za-z0-9._-], SHAs are 40 lowercase hex digits, paths
 *   are relative and have no . or .. component.
 * - git gets an explicit minimal environment: no user or system config,
 *   no terminal prompts, the C locale.
 * - An archive is written to OUT.tmp and renamed to OUT only when git
 *   succeeded, so a reader never sees half a file.
 * - A mirror structure lives while it has a running or queued job, or is
 *   inside one of its callbacks; the directory on disk lives for ever.
 *
 * Callbacks must not call source_free.
 */

#include "config.h"

#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

#define SOURCE_FETCH_TIMEOUT	(10 * 60 * 1000)	/* clone, fetch */
#define SOURCE_GIT_TIMEOUT	(60 * 1000)		/* the others */
#define SOURCE_ERR_MAX		(64 * 1024)	/* git's messages kept */
#define SOURCE_LINE_MAX		200		/* of them, in a cause */
#define SOURCE_SHA_LEN		40
#define SOURCE_SHORT_LEN	7

enum source_kind {
	SOURCE_FETCH,
	SOURCE_READ,
	SOURCE_ARCHIVE
};

enum source_step {
	SOURCE_STEP_CLONE,	/* no mirror yet: clone --mirror */
	SOURCE_STEP_CHECK,	/* is the commit there already? */
	SOURCE_STEP_UPDATE,	/* no: fetch everything */
	SOURCE_STEP_RECHECK,	/* is it there now? */
	SOURCE_STEP_HAVE,	/* read, archive: is the commit there? */
	SOURCE_STEP_SHOW,	/* cat-file blob */
	SOURCE_STEP_EXPLAIN,	/* the blob failed: is the commit there? */
	SOURCE_STEP_ARCHIVE
};

struct source_mirror;

struct source_job {
	struct source_mirror	*m;
	enum source_kind	 kind;
	enum source_step	 step;
	char			*url;		/* fetch */
	char			 sha[SOURCE_SHA_LEN + 1];
	char			 shortsha[SOURCE_SHORT_LEN + 1];
	char			*path;		/* read */
	size_t			 max;
	char			*out;		/* archive */
	char			*tmp;
	char			*why;		/* read: why cat-file failed */
	int			 fetched;	/* read: fetched once already */
	source_cb		 cb;
	source_file_cb		 file_cb;
	void			*arg;
	struct proc		*proc;
	TAILQ_ENTRY(source_job)	 entry;
};
TAILQ_HEAD(source_jobs, source_job);

struct source_mirror {
	struct source		*src;
	char			*repo;		/* owner/name */
	char			*dir;		/* .../mirrors/owner/name.git */
	char			*owner_dir;
	struct source_job	*running;
	struct source_jobs	 queue;
	u_int			 in_cb;
	TAILQ_ENTRY(source_mirror) entry;
};
TAILQ_HEAD(source_mirrors, source_mirror);

struct source {
	struct ev_loop		*loop;
	char			*state_dir;
	char			*mirrors_dir;
	char			*home_env;
	char			*envp[6];
	struct source_mirrors	 mirrors;
};

static void	source_mirror_next(struct source_mirror *);

/* OWNER/NAME, each of letters, digits, '-', '_' and '.', without "..". */
static int
source_valid_repo(const char *repo)
{
	const char	*p, *slash;

	if ((slash = strchr(repo, '/')) == NULL || slash == repo ||
	    slash[1] == '\0' || strchr(slash + 1, '/') != NULL)
		return (0);
	if (strstr(repo, "..") != NULL || strlen(repo) > 200)
		return (0);
	if (repo[0] == '.' || slash[1] == '.')
		return (0);
	for (p = repo; *p != '\0'; p++) {
		if (p == slash)
			continue;
		if (strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", *p) == NULL)
			return (0);
	}
	return (1);
}

static int
source_valid_sha(const char *sha)
{
	size_t	 i;

	for (i = 0; i < SOURCE_SHA_LEN; i++) {
		if (strchr("0123456789abcdef", sha[i]) == NULL ||
		    sha[i] == '\0')
			return (0);
	}
	return (sha[i] == '\0');
}

/* A relative path in the tree with no empty, "." or ".." component. */
static int
source_valid_path(const char *path)
{
	const char	*p = path, *end;
	size_t		 len;

	if (*path == '\0' || strchr(path, '\n') != NULL)
		return (0);
	for (;;) {
		end = strchr(p, '/');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return (0);
		if (end == NULL)
			return (1);
		p = end + 1;
	}
}

/* file:///abs/path or /abs/path: the only clone URLs fetched so far. */
static int
source_valid_url(const char *url)
{
	if (strncmp(url, "file://", 7) == 0)
		url += 7;
	return (url[0] == '/' && strchr(url, '\n') == NULL);
}

static struct source_mirror *
source_mirror_get(struct source *src, const char *repo)
{
	struct source_mirror	*m;
	const char		*slash;

	TAILQ_FOREACH(m, &src->mirrors, entry) {
		if (strcmp(m->repo, repo) == 0)
			return (m);
	}
	m = xcalloc(1, sizeof *m);
	m->src = src;
	m->repo = xstrdup(repo);
	xasprintf(&m->dir, "%s/%s.git", src->mirrors_dir, repo);
	slash = strchr(repo, '/');
	xasprintf(&m->owner_dir, "%s/%.*s", src->mirrors_dir,
	    (int)(slash - repo), repo);
	TAILQ_INIT(&m->queue);
	TAILQ_INSERT_TAIL(&src->mirrors, m, entry);
	return (m);
}

/* Where the mirror of a repository is (the caller frees the path). */
char *
source_mirror_dir(struct source *src, const char *repo)
{
	char	*dir;

	xasprintf(&dir, "%s/%s.git", src->mirrors_dir, repo);
	return (dir);
}

static void
source_mirror_free(struct source_mirror *m)
{
	TAILQ_REMOVE(&m->src->mirrors, m, entry);
	free(m->repo);
	free(m->dir);
	free(m->owner_dir);
	free(m);
}

/* Forget a mirror with nothing to do; its directory stays. */
static void
source_mirror_release(struct source_mirror *m)
{
	if (m->running == NULL && TAILQ_EMPTY(&m->queue) && m->in_cb == 0)
		source_mirror_free(m);
}

static int
source_mirror_exists(struct source_mirror *m)
{
	struct stat	 sb;

	return (stat(m->dir, &sb) == 0 && S_ISDIR(sb.st_mode));
}

static void
source_job_free(struct source_job *job)
{
	if (job->proc != NULL)
		proc_free(job->proc);
	if (job->tmp != NULL)
		unlink(job->tmp);
	free(job->url);
	free(job->path);
	free(job->out);
	free(job->tmp);
	free(job->why);
	free(job);
}

/* Run the job's callback and free it; the mirror is no longer its. */
static void
source_job_finish(struct source_job *job, const char *data, size_t len,
    const char *cause)
{
	struct source_mirror	*m = job->m;

	if (m->running == job)
		m->running = NULL;
	m->in_cb++;
	if (job->kind == SOURCE_READ)
		job->file_cb(cause == NULL ? data : NULL, len, cause, job->arg);
	else
		job->cb(cause == NULL ? 0 : -1, cause, job->arg);
	m->in_cb--;
	source_job_free(job);
}

/* Finish the running job and start the next in the mirror's queue. */
static void
source_job_done(struct source_job *job, const char *data, size_t len,
    const char *cause)
{
	struct source_mirror	*m = job->m;

	source_job_finish(job, data, len, cause);
	source_mirror_next(m);
}

/* The first line of git's messages, without "fatal: ", or "". */
static void
source_first_line(const struct proc_result *r, char *line, size_t size)
{
	const char	*p, *end;
	size_t		 len;

	*line = '\0';
	if (r->output == NULL || r->output->len == 0)
		return;
	p = r->output->data;
	while (*p == '\n')
		p++;
	if (strncmp(p, "fatal: ", 7) == 0)
		p += 7;
	else if (strncmp(p, "error: ", 7) == 0)
		p += 7;
	if ((end = strchr(p, '\n')) == NULL)
		end = p + strlen(p);
	len = end - p;
	if (len >= size)
		len = size - 1;
	memcpy(line, p, len);
	line[len] = '\0';
}

/* Why a git that did not succeed failed, in words. */
static char *
source_failure(const struct proc_result *r, const char *what,
    uint64_t timeout_ms)
{
	char	 line[SOURCE_LINE_MAX + 1], *cause;

	source_first_line(r, line, sizeof line);
	if (r->timed_out) {
		xasprintf(&cause, "%s timed out after %llu s", what,
		    (unsigned long long)(timeout_ms / 1000));
	} else if (*line != '\0')
		xasprintf(&cause, "%s failed: %s", what, line);
	else if (r->exited)
		xasprintf(&cause, "%s failed with exit status %d", what,
		    r->status);
	else
		xasprintf(&cause, "%s killed by signal %d", what, r->signo);
	return (cause);
}

static void	source_job_exit(struct proc *, const struct proc_result *,
		    void *);

static int
source_job_spawn(struct source_job *job, enum source_step step,
    char **argv, uint64_t timeout_ms, size_t capture_max, char **cause)
{
	struct proc_spec	 spec;

	memset(&spec, 0, sizeof spec);
	spec.argv = argv;
	spec.envp = job->m->src->envp;
	spec.capture_max = capture_max;
	spec.timeout_ms = timeout_ms;
	job->step = step;
	job->proc = proc_spawn(job->m->src->loop, &spec, source_job_exit, job,
	    cause);
	return (job->proc == NULL ? -1 : 0);
}

/* git --git-dir=MIRROR cat-file -e SHA^{commit} */
static int
source_job_check(struct source_job *job, enum source_step step,
    char **cause)
{
	char	*gitdir, *commit;
	char	*argv[] = { "git", NULL, "cat-file", "-e", NULL, NULL };
	int	 rv;

	xasprintf(&gitdir, "--git-dir=%s", job->m->dir);
	xasprintf(&commit, "%s^{commit}", job->sha);
	argv[1] = gitdir;
	argv[4] = commit;
	rv = source_job_spawn(job, step, argv, SOURCE_GIT_TIMEOUT,
	    SOURCE_ERR_MAX, cause);
	free(commit);
	free(gitdir);
	return (rv);
}

/*
 * Fetch everything from the URL given now (not the mirror's origin), so
 * a repository whose clone URL changed follows it.
 */
static int
source_job_update(struct source_job *job, char **cause)
{
	char	*gitdir;
	char	*argv[] = { "git", NULL, "fetch", "--quiet", "--prune", "--",
		    job->url, "+refs/*:refs/*", NULL };
	int	 rv;

	xasprintf(&gitdir, "--git-dir=%s", job->m->dir);
	argv[1] = gitdir;
	rv = source_job_spawn(job, SOURCE_STEP_UPDATE, argv,
	    SOURCE_FETCH_TIMEOUT, SOURCE_ERR_MAX, cause);
	free(gitdir);
	return (rv);
}

/*
 * The mirror borrows the repository's objects (--shared: an alternates
 * file, no copy), so a commit pushed there later is readable at once and
 * most builds need no fetch at all. --shared needs a path, not file://.
 */
static int
source_job_clone(struct source_job *job, char **cause)
{
	const char	*path = strncmp(job->url, "file://", 7) == 0 ?
			    job->url + 7 : job->url;
	char		*argv[] = { "git", "clone", "--mirror", "--shared",
			    "--quiet", "--", (char *)path, job->m->dir, NULL };

	if (mkdir(job->m->owner_dir, 0750) != 0 && errno != EEXIST) {
		xasprintf(cause, "cannot create %s: %s", job->m->owner_dir,
		    strerror(errno));
		return (-1);
	}
	return (source_job_spawn(job, SOURCE_STEP_CLONE, argv,
	    SOURCE_FETCH_TIMEOUT, SOURCE_ERR_MAX, cause));
}

/* git cat-file blob, not git show: a tree is an error, not a listing. */
static int
source_job_show(struct source_job *job, char **cause)
{
	char	*gitdir, *object;
	char	*argv[] = { "git", NULL, "cat-file", "blob", NULL, NULL };
	int	 rv;

	xasprintf(&gitdir, "--git-dir=%s", job->m->dir);
	xasprintf(&object, "%s:%s", job->sha, job->path);
	argv[1] = gitdir;
	argv[4] = object;
	rv = source_job_spawn(job, SOURCE_STEP_SHOW, argv, SOURCE_GIT_TIMEOUT,
	    job->max, cause);
	free(object);
	free(gitdir);
	return (rv);
}

static int
source_job_archive(struct source_job *job, char **cause)
{
	char	*gitdir, *prefix, *p;
	char	*argv[] = { "git", NULL, "archive", "--format=tar.gz", NULL,
		    "-o", job->tmp, job->sha, NULL };
	int	 rv;

	if (unlink(job->tmp) != 0 && errno != ENOENT) {
		xasprintf(cause, "cannot remove %s: %s", job->tmp,
		    strerror(errno));
		return (-1);
	}
	xasprintf(&gitdir, "--git-dir=%s", job->m->dir);
	/* One top directory, OWNER-NAME-SHA7/, as GitHub's tarballs have. */
	xasprintf(&prefix, "--prefix=%s-%.7s/", job->m->repo, job->sha);
	if ((p = strchr(prefix, '/')) != NULL && p[1] != '\0')
		*p = '-';
	argv[1] = gitdir;
	argv[4] = prefix;
	rv = source_job_spawn(job, SOURCE_STEP_ARCHIVE, argv,
	    SOURCE_GIT_TIMEOUT, SOURCE_ERR_MAX, cause);
	free(prefix);
	free(gitdir);
	return (rv);
}

/* Start the job's first git; it is the mirror's running job. */
static int
source_job_start(struct source_job *job, char **cause)
{
	int	 exists = source_mirror_exists(job->m);

	switch (job->kind) {
	case SOURCE_FETCH:
		if (!exists)
			return (source_job_clone(job, cause));
		return (source_job_check(job, SOURCE_STEP_CHECK, cause));
	case SOURCE_READ:
	case SOURCE_ARCHIVE:
		if (!exists && job->kind == SOURCE_READ && job->url != NULL)
			return (source_job_clone(job, cause));
		if (!exists) {
			xasprintf(cause, "no mirror of %s: it was never "
			    "fetched", job->m->repo);
			return (-1);
		}
		/*
		 * A read goes straight to cat-file: one git on the way to
		 * a build's first task. Only if it fails is the commit
		 * looked for, to say which of the two is missing.
		 */
		if (job->kind == SOURCE_READ)
			return (source_job_show(job, cause));
		return (source_job_check(job, SOURCE_STEP_HAVE, cause));
	}
	fatalx("%s: bad kind %d", __func__, job->kind);
}

/* What a failed cat-file blob means to the person who pushed. */
static char *
source_show_failure(struct source_job *job, const struct proc_result *r)
{
	char	 line[SOURCE_LINE_MAX + 1], *cause;

	source_first_line(r, line, sizeof line);
	if (r->exited && strstr(line, "does not exist in") != NULL)
		xasprintf(&cause, "no %s at %s", job->path, job->shortsha);
	else if (r->exited && strstr(line, "exists on disk, but not in") !=
	    NULL)
		xasprintf(&cause, "no %s at %s", job->path, job->shortsha);
	else
		cause = source_failure(r, "git cat-file", SOURCE_GIT_TIMEOUT);
	return (cause);
}

static char *
source_size_words(size_t max)
{
	char	*s;

	if (max % (1024 * 1024) == 0)
		xasprintf(&s, "%zu MiB", max / (1024 * 1024));
	else if (max % 1024 == 0)
		xasprintf(&s, "%zu KiB", max / 1024);
	else
		xasprintf(&s, "%zu bytes", max);
	return (s);
}

/*
 * One git of a job has ended: start the next step, or finish the job.
 * The proc is freed by proc.c when this returns.
 */
static void
source_job_exit(struct proc *p, const struct proc_result *r, void *arg)
{
	struct source_job	*job = arg;
	char			*cause = NULL, *size;
	int			 success, rv = 0;

	(void)p;
	job->proc = NULL;
	success = r->exited && r->status == 0 && !r->timed_out;

	switch (job->step) {
	case SOURCE_STEP_CLONE:
		if (!success)
			cause = source_failure(r, "git clone",
			    SOURCE_FETCH_TIMEOUT);
		else if (job->kind == SOURCE_READ) {
			job->fetched = 1;
			rv = source_job_show(job, &cause);
		} else
			rv = source_job_check(job, SOURCE_STEP_RECHECK, &cause);
		break;
	case SOURCE_STEP_CHECK:
		if (success) {
			source_job_done(job, NULL, 0, NULL);
			return;
		}
		if (r->exited && !r->timed_out)
			rv = source_job_update(job, &cause);
		else
			cause = source_failure(r, "git cat-file",
			    SOURCE_GIT_TIMEOUT);
		break;
	case SOURCE_STEP_UPDATE:
		if (!success)
			cause = source_failure(r, "git fetch",
			    SOURCE_FETCH_TIMEOUT);
		else if (job->kind == SOURCE_READ)
			rv = source_job_show(job, &cause);
		else
			rv = source_job_check(job, SOURCE_STEP_RECHECK, &cause);
		break;
	case SOURCE_STEP_RECHECK:
		if (success) {
			source_job_done(job, NULL, 0, NULL);
			return;
		}
		if (r->exited && !r->timed_out) {
			xasprintf(&cause, "commit %s not found in %s after "
			    "fetching", job->shortsha, job->url);
		} else
			cause = source_failure(r, "git cat-file",
			    SOURCE_GIT_TIMEOUT);
		break;
	case SOURCE_STEP_HAVE:
		if (success && job->kind == SOURCE_READ)
			rv = source_job_show(job, &cause);
		else if (success)
			rv = source_job_archive(job, &cause);
		else if (r->exited && !r->timed_out) {
			xasprintf(&cause, "commit %s is not in the mirror "
			    "of %s", job->shortsha, job->m->repo);
		} else
			cause = source_failure(r, "git cat-file",
			    SOURCE_GIT_TIMEOUT);
		break;
	case SOURCE_STEP_SHOW:
		if (success && r->truncated) {
			size = source_size_words(job->max);
			xasprintf(&cause, "%s is larger than %s", job->path,
			    size);
			free(size);
		} else if (success) {
			source_job_done(job, r->output->data, r->output->len,
			    NULL);
			return;
		} else if (r->exited && !r->timed_out) {
			free(job->why);
			job->why = source_show_failure(job, r);
			rv = source_job_check(job, SOURCE_STEP_EXPLAIN, &cause);
		} else
			cause = source_show_failure(job, r);
		break;
	case SOURCE_STEP_EXPLAIN:
		if (success)
			cause = xstrdup(job->why);
		else if (r->exited && !r->timed_out && job->url != NULL &&
		    !job->fetched) {
			/* The commit is missing: fetch it, then read again. */
			job->fetched = 1;
			rv = source_job_update(job, &cause);
		} else if (r->exited && !r->timed_out && job->fetched) {
			xasprintf(&cause, "commit %s not found in %s after "
			    "fetching", job->shortsha, job->url);
		} else if (r->exited && !r->timed_out) {
			xasprintf(&cause, "commit %s is not in the mirror "
			    "of %s", job->shortsha, job->m->repo);
		} else
			cause = source_failure(r, "git cat-file",
			    SOURCE_GIT_TIMEOUT);
		break;
	case SOURCE_STEP_ARCHIVE:
		if (!success)
			cause = source_failure(r, "git archive",
			    SOURCE_GIT_TIMEOUT);
		else if (rename(job->tmp, job->out) != 0) {
			xasprintf(&cause, "cannot rename %s: %s", job->tmp,
			    strerror(errno));
		} else {
			free(job->tmp);
			job->tmp = NULL;
			source_job_done(job, NULL, 0, NULL);
			return;
		}
		break;
	}
	if (cause != NULL || rv != 0)
		source_job_done(job, NULL, 0, cause);
	free(cause);
}

/*
 * Start queued jobs until one is running or none is left. A job that
 * cannot start is finished with its cause, here in loop context.
 */
static void
source_mirror_next(struct source_mirror *m)
{
	struct source_job	*job;
	char			*cause;

	while (m->running == NULL && (job = TAILQ_FIRST(&m->queue)) != NULL) {
		TAILQ_REMOVE(&m->queue, job, entry);
		m->running = job;
		cause = NULL;
		if (source_job_start(job, &cause) != 0) {
			source_job_finish(job, NULL, 0, cause);
			free(cause);
		}
	}
	source_mirror_release(m);
}

/*
 * Queue a job on its repository's mirror, or start it at once if the
 * mirror is idle; a job that cannot start at once is refused.
 */
static int
source_submit(struct source *src, const char *repo, struct source_job *job,
    char **cause)
{
	struct source_mirror	*m;

	m = source_mirror_get(src, repo);
	job->m = m;
	if (m->running != NULL || !TAILQ_EMPTY(&m->queue) || m->in_cb != 0) {
		TAILQ_INSERT_TAIL(&m->queue, job, entry);
		return (0);
	}
	m->running = job;
	if (source_job_start(job, cause) != 0) {
		m->running = NULL;
		source_job_free(job);
		source_mirror_release(m);
		return (-1);
	}
	return (0);
}

static struct source_job *
source_job_create(enum source_kind kind, const char *sha)
{
	struct source_job	*job;

	job = xcalloc(1, sizeof *job);
	job->kind = kind;
	util_strlcpy(job->sha, sha, sizeof job->sha);
	util_strlcpy(job->shortsha, sha, sizeof job->shortsha);
	return (job);
}

/* The checks every request shares; returns -1 with a cause. */
static int
source_check_args(const char *repo, const char *sha, char **cause)
{
	if (repo == NULL || !source_valid_repo(repo)) {
		xasprintf(cause, "bad repository name: want OWNER/NAME of "
		    "letters, digits, '-', '_' and '.'");
		return (-1);
	}
	if (sha == NULL || !source_valid_sha(sha)) {
		xasprintf(cause, "bad commit SHA: want 40 lowercase hex "
		    "digits");
		return (-1);
	}
	return (0);
}

struct source *
source_create(struct ev_loop *loop, const char *state_dir, char **cause)
{
	struct source	*src;

	if (mkdir(state_dir, 0750) != 0 && errno != EEXIST) {
		xasprintf(cause, "cannot create %s: %s", state_dir,
		    strerror(errno));
		return (NULL);
	}
	src = xcalloc(1, sizeof *src);
	src->loop = loop;
	src->state_dir = xstrdup(state_dir);
	xasprintf(&src->mirrors_dir, "%s/mirrors", state_dir);
	if (mkdir(src->mirrors_dir, 0750) != 0 && errno != EEXIST) {
		xasprintf(cause, "cannot create %s: %s", src->mirrors_dir,
		    strerror(errno));
		source_free(src);
		return (NULL);
	}
	xasprintf(&src->home_env, "HOME=%s", state_dir);
	src->envp[0] = "PATH=/usr/bin:/bin";
	src->envp[1] = src->home_env;
	src->envp[2] = "GIT_TERMINAL_PROMPT=0";
	src->envp[3] = "GIT_CONFIG_NOSYSTEM=1";
	src->envp[4] = "LC_ALL=C";
	src->envp[5] = NULL;
	TAILQ_INIT(&src->mirrors);
	return (src);
}

/* Running gits are killed and reaped by proc.c; no callback runs. */
void
source_free(struct source *src)
{
	struct source_mirror	*m;
	struct source_job	*job;

	if (src == NULL)
		return;
	while ((m = TAILQ_FIRST(&src->mirrors)) != NULL) {
		if (m->running != NULL)
			source_job_free(m->running);
		while ((job = TAILQ_FIRST(&m->queue)) != NULL) {
			TAILQ_REMOVE(&m->queue, job, entry);
			source_job_free(job);
		}
		source_mirror_free(m);
	}
	free(src->state_dir);
	free(src->mirrors_dir);
	free(src->home_env);
	free(src);
}

/*
 * Make sure commit sha of repo is in its mirror: clone the mirror if
 * there is none, fetch if the commit is not there yet.
 */
int
source_fetch(struct source *src, const char *repo, const char *clone_url,
    const char *sha, source_cb cb, void *arg, char **cause)
{
	struct source_job	*job;

	if (clone_url == NULL || !source_valid_url(clone_url)) {
		xasprintf(cause, "only local repositories (a file:// URL or "
		    "an absolute path) are fetched so far");
		return (-1);
	}
	if (source_check_args(repo, sha, cause) != 0)
		return (-1);
	job = source_job_create(SOURCE_FETCH, sha);
	job->url = xstrdup(clone_url);
	job->cb = cb;
	job->arg = arg;
	return (source_submit(src, repo, job, cause));
}

/* Read path at sha, up to max bytes; more is an error. */
int
source_read_file(struct source *src, const char *repo, const char *sha,
    const char *path, size_t max, source_file_cb cb, void *arg, char **cause)
{
	struct source_job	*job;

	if (source_check_args(repo, sha, cause) != 0)
		return (-1);
	if (path == NULL || !source_valid_path(path)) {
		xasprintf(cause, "bad path: want a relative path without "
		    "'.' or '..'");
		return (-1);
	}
	if (max == 0) {
		xasprintf(cause, "no room to read %s", path);
		return (-1);
	}
	job = source_job_create(SOURCE_READ, sha);
	job->path = xstrdup(path);
	job->max = max;
	job->file_cb = cb;
	job->arg = arg;
	return (source_submit(src, repo, job, cause));
}

/*
 * Read path at sha as source_read_file does, fetching from clone_url
 * first only if the mirror lacks the commit: on the way to a build's
 * first task, most reads are then a single git.
 */
int
source_read_fetching(struct source *src, const char *repo,
    const char *clone_url, const char *sha, const char *path, size_t max,
    source_file_cb cb, void *arg, char **cause)
{
	struct source_job	*job;

	if (clone_url == NULL || !source_valid_url(clone_url)) {
		xasprintf(cause, "only local repositories (a file:// URL or "
		    "an absolute path) are fetched so far");
		return (-1);
	}
	if (source_check_args(repo, sha, cause) != 0)
		return (-1);
	if (path == NULL || !source_valid_path(path) || max == 0) {
		xasprintf(cause, "bad path or size to read");
		return (-1);
	}
	job = source_job_create(SOURCE_READ, sha);
	job->url = xstrdup(clone_url);
	job->path = xstrdup(path);
	job->max = max;
	job->file_cb = cb;
	job->arg = arg;
	return (source_submit(src, repo, job, cause));
}

/* Write the tree at sha to out_path as a tar.gz. */
int
source_archive(struct source *src, const char *repo, const char *sha,
    const char *out_path, source_cb cb, void *arg, char **cause)
{
	struct source_job	*job;

	if (source_check_args(repo, sha, cause) != 0)
		return (-1);
	if (out_path == NULL || *out_path == '\0') {
		xasprintf(cause, "no archive path");
		return (-1);
	}
	job = source_job_create(SOURCE_ARCHIVE, sha);
	job->out = xstrdup(out_path);
	xasprintf(&job->tmp, "%s.tmp", out_path);
	job->cb = cb;
	job->arg = arg;
	return (source_submit(src, repo, job, cause));
}
