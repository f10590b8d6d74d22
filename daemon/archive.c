/*
 * Commit archives: the tarball of a commit's tree that CODE_URL serves
 * and the local driver unpacks into a task's workspace. One file per
 * commit, STATE_DIR/archives/OWNER+NAME@SHA.tar.gz ('+' is in no GitHub
 * name), written through a temporary file and renamed, so a file that
 * exists is whole. It comes from GitHub's tarball endpoint with the
 * daemon's credentials when the daemon has some (tasks of private
 * repositories then need none), otherwise from the repository's mirror
 * (source.c).
 *
 * However many ask for a commit at once, it is made once: the first
 * request starts a job and the others wait on it. A waiter always hears
 * from the loop, never from inside archives_get, and one that goes away
 * first (archives_cancel) never hears at all.
 */

#include "config.h"

#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

#define ARCHIVE_MAX		(512ULL * 1024 * 1024)
/* 5xx and network errors: about eight minutes of backoff in all. */
#define ARCHIVE_ATTEMPTS	10

struct archive_wait {
	source_cb		 cb;
	void			*arg;
};

/* One commit's archive being made, and who waits for it. */
struct archive_job {
	struct archives		*a;
	char			*path;
	struct archive_wait	*waits;
	size_t			 nwaits;
	uint64_t		 call;		/* GitHub's download */
	struct ev_timer		*timer;		/* the file is there */
	LIST_ENTRY(archive_job)	 entry;
};

struct archives {
	struct ev_loop		*loop;
	struct github		*gh;
	struct source		*source;
	const struct config	**conf;
	LIST_HEAD(, archive_job) jobs;
};

/* The caller's to free. */
char *
archives_path(struct archives *a, const char *repo, const char *sha)
{
	const struct config	*conf = *a->conf;
	char			*path, *p;

	xasprintf(&path, "%s/archives/%s@%s.tar.gz", conf->state_dir, repo,
	    sha);
	p = path + strlen(conf->state_dir) + strlen("/archives/");
	if ((p = strchr(p, '/')) != NULL)
		*p = '+';
	return (path);
}

static void
archive_job_free(struct archive_job *aj)
{
	ev_timer_del(aj->timer);
	LIST_REMOVE(aj, entry);
	free(aj->path);
	free(aj->waits);
	free(aj);
}

/* The job goes before its waiters hear: they may ask again, or cancel. */
static void
archive_job_end(struct archive_job *aj, int rv, const char *cause)
{
	struct archive_wait	*waits = aj->waits;
	size_t			 i, n = aj->nwaits;

	aj->waits = NULL;
	archive_job_free(aj);
	for (i = 0; i < n; i++)
		waits[i].cb(rv, cause, waits[i].arg);
	free(waits);
}

/* Write len bytes to path through a temporary file, durably. */
static int
write_file_atomic(const char *path, const char *p, size_t len, char **cause)
{
	char	*tmp;
	ssize_t	 n;
	int	 fd, rv = -1;

	xasprintf(&tmp, "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0640)) == -1)
		goto out;
	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		p += n;
		len -= n;
	}
	if (len == 0 && fsync(fd) == 0)
		rv = 0;
	if (close(fd) != 0)
		rv = -1;
	if (rv == 0 && rename(tmp, path) != 0)
		rv = -1;
out:
	if (rv != 0) {
		xasprintf(cause, "%s: %s", tmp, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return (rv);
}

static void
archive_have(struct ev_loop *loop, void *arg)
{
	struct archive_job	*aj = arg;

	(void)loop;
	aj->timer = NULL;
	archive_job_end(aj, 0, NULL);
}

static void
archive_made(int rv, const char *cause, void *arg)
{
	archive_job_end(arg, rv, cause);
}

static void
archive_downloaded(const struct github_response *gr, void *arg)
{
	struct archive_job	*aj = arg;
	char			*cause = NULL;

	aj->call = 0;
	if (gr->status != 200 || gr->body == NULL) {
		if (gr->cause != NULL)
			xasprintf(&cause, "cannot download the commit's "
			    "tarball: %s", gr->cause);
		else
			xasprintf(&cause, "cannot download the commit's "
			    "tarball: GitHub answered %ld", gr->status);
		archive_job_end(aj, -1, cause);
		free(cause);
		return;
	}
	if (write_file_atomic(aj->path, gr->body->data, gr->body->len,
	    &cause) != 0) {
		archive_job_end(aj, -1, cause);
		free(cause);
		return;
	}
	archive_job_end(aj, 0, NULL);
}

/*
 * Make sure the commit's archive (archives_path) exists, then call
 * cb: downloaded from GitHub with the daemon's credentials, so private
 * repositories need none in their tasks, or made from the mirror. One
 * download per commit however many ask at once. Returns -1 with *cause
 * if it cannot even start; cb is never called before this returns.
 */
int
archives_get(struct archives *a, const char *repo, const char *sha,
    source_cb cb, void *arg, char **cause)
{
	struct archive_job	*aj;
	struct github_call	 gc;
	struct stat		 sb;
	char			*path, *url;

	path = archives_path(a, repo, sha);
	LIST_FOREACH(aj, &a->jobs, entry) {
		if (strcmp(aj->path, path) == 0)
			break;
	}
	if (aj == NULL) {
		aj = xcalloc(1, sizeof *aj);
		aj->a = a;
		aj->path = path;
		path = NULL;
		LIST_INSERT_HEAD(&a->jobs, aj, entry);
		if (stat(aj->path, &sb) == 0) {
			/* Have it: answer from the loop, never from here. */
			aj->timer = ev_timer_add(a->loop, 0, archive_have,
			    aj);
			goto wait;
		}
		if (!github_enabled(a->gh)) {
			if (source_archive(a->source, repo, sha,
			    aj->path, archive_made, aj, cause) != 0) {
				archive_job_free(aj);
				return (-1);
			}
			goto wait;
		}
		xasprintf(&url, "/repos/%s/tarball/%s", repo, sha);
		memset(&gc, 0, sizeof gc);
		gc.repo = repo;
		gc.path = url;
		gc.raw = 1;
		gc.max_size = ARCHIVE_MAX;
		gc.attempts = ARCHIVE_ATTEMPTS;
		aj->call = github_call(a->gh, &gc, archive_downloaded, aj);
		free(url);
	}
wait:
	free(path);
	aj->waits = xreallocarray(aj->waits, aj->nwaits + 1,
	    sizeof *aj->waits);
	aj->waits[aj->nwaits].cb = cb;
	aj->waits[aj->nwaits++].arg = arg;
	return (0);
}

/* Forget a waiter (its request went away); the download goes on. */
void
archives_cancel(struct archives *a, void *arg)
{
	struct archive_job	*aj;
	size_t			 i;

	LIST_FOREACH(aj, &a->jobs, entry) {
		for (i = 0; i < aj->nwaits; i++) {
			if (aj->waits[i].arg != arg)
				continue;
			memmove(&aj->waits[i], &aj->waits[i + 1],
			    (aj->nwaits - i - 1) * sizeof *aj->waits);
			aj->nwaits--;
			return;
		}
	}
}

struct archives *
archives_create(struct ev_loop *loop, struct github *gh,
    struct source *source, const struct config **conf)
{
	struct archives	*a;

	a = xcalloc(1, sizeof *a);
	a->loop = loop;
	a->gh = gh;
	a->source = source;
	a->conf = conf;
	LIST_INIT(&a->jobs);
	return (a);
}

/* Downloads under way stop; nobody waiting hears. */
void
archives_free(struct archives *a)
{
	struct archive_job	*aj;

	if (a == NULL)
		return;
	while ((aj = LIST_FIRST(&a->jobs)) != NULL) {
		if (aj->call != 0)
			github_cancel(a->gh, aj->call);
		archive_job_free(aj);
	}
	free(a);
}
