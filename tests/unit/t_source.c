/*
 * Repository mirrors with real git: a repository made here in a temporary
 * directory is mirrored, fetched again for a new commit, read from at
 * different SHAs and archived; bad requests are refused at once, and
 * requests queued on one mirror all complete. Every wait is bounded.
 */

#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "tap.h"

#define REPO_GIT	"git -c user.name=t -c user.email=t@example.org"

static char	 dir[] = "/tmp/t_source.XXXXXX";

struct done {
	int		 fired;
	int		 rv;
	char		*cause;
	char		*data;
	size_t		 len;
	int		 order;		/* when it fired, of all callbacks */
};
static int	 fired_total;

static void
done_reset(struct done *d)
{
	free(d->cause);
	free(d->data);
	memset(d, 0, sizeof *d);
}

static void
done_cb(int rv, const char *cause, void *arg)
{
	struct done	*d = arg;

	d->fired++;
	d->order = ++fired_total;
	d->rv = rv;
	if (cause != NULL)
		d->cause = xstrdup(cause);
}

static void
file_cb(const char *data, size_t len, const char *cause, void *arg)
{
	struct done	*d = arg;

	d->fired++;
	d->order = ++fired_total;
	d->rv = cause == NULL ? 0 : -1;
	if (data != NULL) {
		d->data = xmalloc(len + 1);
		memcpy(d->data, data, len);
		d->data[len] = '\0';
		d->len = len;
	}
	if (cause != NULL)
		d->cause = xstrdup(cause);
}

static void
tick(struct ev_loop *loop, void *arg)
{
	(void)arg;
	ev_timer_add(loop, 20, tick, NULL);
}

static int
wait_for(struct ev_loop *loop, int *flag, uint64_t ms)
{
	uint64_t	 deadline = util_mono_ms() + ms;
	int		 turns = 0;

	while (!*flag && util_mono_ms() < deadline && turns++ < 100000)
		ev_run_once(loop, 1);
	return (*flag);
}

/* Run a shell command in the test's directory; 0 if it succeeded. */
static int
sh(const char *fmt, ...)
{
	va_list	 ap;
	char	*cmd, *full;
	int	 rv;

	va_start(ap, fmt);
	xvasprintf(&cmd, fmt, ap);
	va_end(ap);
	xasprintf(&full, "cd '%s' && (%s) >/dev/null 2>&1", dir, cmd);
	rv = system(full);
	free(full);
	free(cmd);
	return (rv == 0 ? 0 : -1);
}

/* The output of a shell command, without its last newline. */
static char *
sh_out(const char *cmd)
{
	FILE	*f;
	char	*full, line[256];

	xasprintf(&full, "cd '%s' && %s", dir, cmd);
	f = popen(full, "r");
	free(full);
	if (f == NULL)
		return (NULL);
	if (fgets(line, sizeof line, f) == NULL)
		line[0] = '\0';
	pclose(f);
	line[strcspn(line, "\n")] = '\0';
	return (xstrdup(line));
}

static int
write_file(const char *name, const char *data, size_t len)
{
	char	*path;
	int	 fd, rv = -1;

	xasprintf(&path, "%s/origin/%s", dir, name);
	if ((fd = open(path, O_WRONLY|O_CREAT|O_TRUNC, 0644)) != -1) {
		if (write(fd, data, len) == (ssize_t)len)
			rv = 0;
		close(fd);
	}
	free(path);
	return (rv);
}

/* Commit everything in origin/; returns the new HEAD or NULL. */
static char *
commit(const char *msg)
{
	if (sh("cd origin && git add -A && " REPO_GIT " commit -q -m '%s'",
	    msg) != 0)
		return (NULL);
	return (sh_out("git -C origin rev-parse HEAD"));
}

static char *
tmp_path(const char *name)
{
	char	*path;

	xasprintf(&path, "%s/%s", dir, name);
	return (path);
}

static int
fetch(struct ev_loop *loop, struct source *src, const char *repo,
    const char *url, const char *sha, struct done *d)
{
	char	*cause = NULL;

	done_reset(d);
	if (source_fetch(src, repo, url, sha, done_cb, d, &cause) != 0) {
		printf("# source_fetch: %s\n", cause);
		free(cause);
		return (0);
	}
	return (wait_for(loop, &d->fired, 30000));
}

static int
read_at(struct ev_loop *loop, struct source *src, const char *repo,
    const char *sha, const char *path, size_t max, struct done *d)
{
	char	*cause = NULL;

	done_reset(d);
	if (source_read_file(src, repo, sha, path, max, file_cb, d,
	    &cause) != 0) {
		printf("# source_read_file: %s\n", cause);
		free(cause);
		return (0);
	}
	return (wait_for(loop, &d->fired, 30000));
}

static int
archive(struct ev_loop *loop, struct source *src, const char *repo,
    const char *sha, const char *out, struct done *d)
{
	char	*cause = NULL;

	done_reset(d);
	if (source_archive(src, repo, sha, out, done_cb, d, &cause) != 0) {
		printf("# source_archive: %s\n", cause);
		free(cause);
		return (0);
	}
	return (wait_for(loop, &d->fired, 30000));
}

static int
exists(const char *path)
{
	return (access(path, F_OK) == 0);
}

int
main(void)
{
	struct ev_loop	*loop;
	struct source	*src;
	struct done	 d = { 0 }, d2 = { 0 };
	struct stat	 sb;
	char		*state, *url, *sha1, *sha2, *sha3 = NULL, *want;
	char		*mirror, *out, *tmp, *list, *big, *cause, *top, *expect;
	const char	*missing = "0123456789abcdef0123456789abcdef01234567";
	mode_t		 mask;
	size_t		 bigsize = 1024 * 1024 + 1;
	int		 good;

	if (system("git --version >/dev/null 2>&1") != 0)
		skip_all("needs git");
	if (mkdtemp(dir) == NULL)
		skip_all("cannot create a temporary directory");
	setenv("HOME", dir, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);

	/* Two commits: the second changes beekeeper.yml and adds src/a.c. */
	if (sh("git init -q origin") != 0 ||
	    write_file("beekeeper.yml", "version: 1\n", 11) != 0 ||
	    (sha1 = commit("one")) == NULL ||
	    sh("mkdir origin/src") != 0 ||
	    write_file("beekeeper.yml", "version: 2\n", 11) != 0 ||
	    write_file("src/a.c", "int a;\n", 7) != 0 ||
	    (sha2 = commit("two")) == NULL) {
		sh("rm -rf '%s'", dir);
		skip_all("cannot make a git repository");
	}

	loop = ev_create();
	tick(loop, NULL);
	state = tmp_path("state");
	xasprintf(&url, "file://%s/origin", dir);
	mirror = tmp_path("state/mirrors/acme/widget.git");

	cause = NULL;
	src = source_create(loop, state, &cause);
	ok(src != NULL, "source_create");
	if (src == NULL) {
		printf("# %s\n", cause);
		free(cause);
		return (done_testing());
	}
	ok(stat(state, &sb) == 0 && S_ISDIR(sb.st_mode),
	    "the state directory is created");

	/* The first fetch clones. */
	ok(fetch(loop, src, "acme/widget", url, sha2, &d),
	    "fetch: callback ran");
	ok(d.rv == 0 && d.cause == NULL, "fetch: succeeded");
	if (d.cause != NULL)
		printf("# %s\n", d.cause);
	ok(stat(mirror, &sb) == 0 && S_ISDIR(sb.st_mode),
	    "fetch: the mirror exists");
	tmp = tmp_path("state/mirrors/acme");
	mask = umask(0);
	umask(mask);
	ok(stat(tmp, &sb) == 0 && (sb.st_mode & 0777) == (0750 & ~mask),
	    "fetch: the owner directory is 0750 (less umask)");
	free(tmp);
	tmp = tmp_path("state/mirrors/acme/widget.git/HEAD");
	ok(exists(tmp), "fetch: the mirror is a bare repository");
	free(tmp);
	ok(fetch(loop, src, "acme/widget", url, sha1, &d) && d.rv == 0,
	    "fetch of a commit already there succeeds");

	/* Each SHA gives its own version. */
	ok(read_at(loop, src, "acme/widget", sha1, "beekeeper.yml",
	    1024 * 1024, &d), "read at the first SHA: callback ran");
	is_str(d.data, "version: 1\n", "read at the first SHA: version 1");
	ok(d.cause == NULL && d.len == 11, "read at the first SHA: no cause");
	ok(read_at(loop, src, "acme/widget", sha2, "beekeeper.yml",
	    1024 * 1024, &d), "read at the second SHA: callback ran");
	is_str(d.data, "version: 2\n", "read at the second SHA: version 2");
	ok(read_at(loop, src, "acme/widget", sha2, "src/a.c", 7, &d),
	    "read of exactly max bytes: callback ran");
	is_str(d.data, "int a;\n", "read of exactly max bytes: all of it");

	/* Files that are not there, or too big. */
	ok(read_at(loop, src, "acme/widget", sha1, "src/a.c", 1024, &d),
	    "read of a missing file: callback ran");
	xasprintf(&want, "no src/a.c at %.7s", sha1);
	is_str(d.cause, want, "read of a missing file: a clear cause");
	ok(d.rv == -1 && d.data == NULL, "read of a missing file: no data");
	free(want);
	ok(read_at(loop, src, "acme/widget", sha2, "beekeeper.yml", 5, &d),
	    "read over max: callback ran");
	is_str(d.cause, "beekeeper.yml is larger than 5 bytes",
	    "read over max: refused");
	ok(read_at(loop, src, "acme/widget", sha2, "src", 1024, &d),
	    "read of a directory: callback ran");
	ok(d.rv == -1 && d.cause != NULL && d.data == NULL,
	    "read of a directory: refused");
	cause = NULL;
	ok(source_read_file(src, "acme/other", sha2, "beekeeper.yml", 1024,
	    file_cb, &d, &cause) == -1,
	    "read from a repository never fetched: refused at once");
	is_str(cause, "no mirror of acme/other: it was never fetched",
	    "read from a repository never fetched: a clear cause");
	free(cause);

	/* A missing commit. */
	ok(fetch(loop, src, "acme/widget", url, missing, &d),
	    "fetch of a missing commit: callback ran");
	xasprintf(&want, "commit 0123456 not found in %s after fetching", url);
	is_str(d.cause, want, "fetch of a missing commit: a clear cause");
	ok(d.rv == -1, "fetch of a missing commit: failed");
	free(want);
	ok(read_at(loop, src, "acme/widget", missing, "beekeeper.yml", 1024,
	    &d), "read at a missing commit: callback ran");
	is_str(d.cause, "commit 0123456 is not in the mirror of acme/widget",
	    "read at a missing commit: a clear cause");

	/* A new commit, with a beekeeper.yml of 1 MiB and a byte. */
	big = xmalloc(bigsize);
	memset(big, '#', bigsize);
	good = write_file("beekeeper.yml", big, bigsize) == 0 &&
	    (sha3 = commit("three")) != NULL;
	free(big);
	ok(good, "a third commit made");
	if (sha3 == NULL)
		sha3 = xstrdup(missing);
	ok(read_at(loop, src, "acme/widget", sha3, "beekeeper.yml",
	    1024 * 1024, &d) && d.rv == -1,
	    "before fetching, the new commit cannot be read");
	xasprintf(&tmp, "%s/origin", dir);
	ok(fetch(loop, src, "acme/widget", tmp, sha3, &d) && d.rv == 0,
	    "fetch of a new commit (absolute path URL) fetches it");
	free(tmp);
	ok(read_at(loop, src, "acme/widget", sha3, "beekeeper.yml",
	    1024 * 1024, &d), "read of an oversize file: callback ran");
	is_str(d.cause, "beekeeper.yml is larger than 1 MiB",
	    "read of an oversize file: refused");
	ok(d.data == NULL, "read of an oversize file: no data");
	ok(read_at(loop, src, "acme/widget", sha1, "beekeeper.yml", 1024, &d),
	    "old commits are still there after fetching");
	is_str(d.data, "version: 1\n", "old commits read the same");

	/* Archives. */
	out = tmp_path("code.tar.gz");
	ok(archive(loop, src, "acme/widget", sha2, out, &d) && d.rv == 0,
	    "archive at the second SHA: succeeded");
	ok(exists(out), "archive: the file exists");
	xasprintf(&tmp, "%s.tmp", out);
	ok(!exists(tmp), "archive: no temporary file is left");
	/* Without the top directory, OWNER-NAME-SHA7/, that GitHub's have. */
	xasprintf(&want, "tar tzf '%s' | sed 's|^acme-widget-[0-9a-f]\\{7\\}/||' "
	    "| grep . | sort | tr '\\n' ' '", out);
	list = sh_out(want);
	is_str(list, "beekeeper.yml src/ src/a.c ",
	    "archive: the listing has the files of that commit");
	free(list);
	xasprintf(&top, "tar tzf '%s' | cut -d/ -f1 | sort -u", out);
	list = sh_out(top);
	xasprintf(&expect, "acme-widget-%.7s", sha2);
	is_str(list, expect, "archive: one top directory, as GitHub's");
	free(expect);
	free(top);
	free(list);
	ok(archive(loop, src, "acme/widget", sha1, out, &d) && d.rv == 0,
	    "archive at the first SHA: succeeded");
	list = sh_out(want);
	is_str(list, "beekeeper.yml ", "archive: the first commit's files");
	free(list);
	ok(archive(loop, src, "acme/widget", missing, out, &d) && d.rv == -1,
	    "archive of a missing commit fails");
	is_str(d.cause, "commit 0123456 is not in the mirror of acme/widget",
	    "archive of a missing commit: a clear cause");
	ok(!exists(tmp), "archive of a missing commit: no temporary file");
	list = sh_out(want);
	is_str(list, "beekeeper.yml ",
	    "archive of a missing commit: the old archive is untouched");
	free(list);
	xasprintf(&big, "%s/nodir/code.tar.gz", dir);
	ok(archive(loop, src, "acme/widget", sha2, big, &d) && d.rv == -1,
	    "archive into a missing directory fails");
	like(d.cause, "git archive failed: ",
	    "archive into a missing directory: git's words");
	free(big);
	free(want);
	free(tmp);
	free(out);

	/* Refused at once, with no callback. */
	done_reset(&d);
	cause = NULL;
	ok(source_fetch(src, "acme/widget", "https://github.com/acme/widget",
	    sha2, done_cb, &d, &cause) == -1, "an https URL is refused");
	like(cause, "only local repositories", "an https URL: the cause");
	free(cause);
	cause = NULL;
	ok(source_fetch(src, "acme/widget", "git@github.com:acme/widget",
	    sha2, done_cb, &d, &cause) == -1, "an ssh URL is refused");
	free(cause);
	cause = NULL;
	ok(source_fetch(src, "../x", url, sha2, done_cb, &d, &cause) == -1,
	    "repository ../x is refused");
	like(cause, "bad repository name", "repository ../x: the cause");
	free(cause);
	good = 1;
	{
		const char	*bad[] = { "x", "/x", "a/", "a/b/c", "a/..",
				    "a/.git", "a b/c", "a/b;c", "" };
		size_t		 i;

		for (i = 0; i < nitems(bad); i++) {
			cause = NULL;
			if (source_read_file(src, bad[i], sha2, "f", 10,
			    file_cb, &d, &cause) != -1)
				good = 0;
			free(cause);
		}
	}
	ok(good, "other bad repository names are refused");
	cause = NULL;
	ok(source_fetch(src, "acme/widget", url, "abc123", done_cb, &d,
	    &cause) == -1, "a short SHA is refused");
	like(cause, "bad commit SHA", "a short SHA: the cause");
	free(cause);
	cause = NULL;
	ok(source_read_file(src, "acme/widget", sha2, "../etc/passwd", 10,
	    file_cb, &d, &cause) == -1, "a path with .. is refused");
	free(cause);
	cause = NULL;
	ok(source_read_file(src, "acme/widget", sha2, "/etc/passwd", 10,
	    file_cb, &d, &cause) == -1, "an absolute path is refused");
	free(cause);
	wait_for(loop, &d.fired, 100);
	is_int(d.fired, 0, "no callback for a refused request");

	/* A clone that fails leaves no mirror. */
	xasprintf(&tmp, "file://%s/nonexistent", dir);
	ok(fetch(loop, src, "acme/gone", tmp, sha1, &d) && d.rv == -1,
	    "clone of a missing repository fails");
	like(d.cause, "git clone failed: ", "clone failure: git's words");
	free(tmp);
	tmp = tmp_path("state/mirrors/acme/gone.git");
	ok(!exists(tmp), "clone failure: no mirror left");
	free(tmp);

	/* Two fetches at once on a new repository: one clone, both done. */
	done_reset(&d);
	done_reset(&d2);
	cause = NULL;
	good = source_fetch(src, "acme/twice", url, sha1, done_cb, &d,
	    &cause) == 0;
	good = good && source_fetch(src, "acme/twice", url, sha3, done_cb,
	    &d2, &cause) == 0;
	ok(good, "two fetches queued at once");
	free(cause);
	ok(wait_for(loop, &d.fired, 30000) && wait_for(loop, &d2.fired, 30000),
	    "two fetches: both callbacks ran");
	ok(d.rv == 0 && d2.rv == 0, "two fetches: both succeeded");
	ok(d.order < d2.order, "two fetches: in the order queued");
	ok(read_at(loop, src, "acme/twice", sha2, "beekeeper.yml", 1024, &d),
	    "a read after them: callback ran");
	is_str(d.data, "version: 2\n", "a read after them: the right data");

	/*
	 * source_read_fetching: a first read clones; a commit the mirror
	 * lacks (here from another repository at a new URL) is fetched
	 * before the read; a commit that is nowhere is said to be so.
	 */
	{
		char	*url2, *sha4;

		xasprintf(&url2, "file://%s/elsewhere", dir);
		sha4 = NULL;
		if (sh("git init -q elsewhere && echo 'other: 1' > "
		    "elsewhere/beekeeper.yml && cd elsewhere && git add -A && "
		    REPO_GIT " commit -q -m other") == 0)
			sha4 = sh_out("git -C elsewhere rev-parse HEAD");
		done_reset(&d);
		cause = NULL;
		good = source_read_fetching(src, "acme/fresh", url, sha1,
		    "beekeeper.yml", 1024, file_cb, &d, &cause) == 0 &&
		    wait_for(loop, &d.fired, 30000);
		ok(good && d.rv == 0, "read_fetching: clones, then reads");
		is_str(d.data, "version: 1\n", "read_fetching: the data");
		done_reset(&d);
		good = sha4 != NULL && source_read_fetching(src, "acme/fresh",
		    url2, sha4, "beekeeper.yml", 1024, file_cb, &d,
		    &cause) == 0 && wait_for(loop, &d.fired, 30000);
		ok(good && d.rv == 0, "read_fetching: a missing commit is "
		    "fetched from the URL given, then read");
		is_str(d.data, "other: 1\n", "read_fetching: its data");
		done_reset(&d);
		good = source_read_fetching(src, "acme/fresh", url2, missing,
		    "beekeeper.yml", 1024, file_cb, &d, &cause) == 0 &&
		    wait_for(loop, &d.fired, 30000);
		ok(good && d.rv == -1 && d.cause != NULL &&
		    strstr(d.cause, "not found in") != NULL &&
		    strstr(d.cause, "after fetching") != NULL,
		    "read_fetching: a commit that is nowhere says so");
		free(cause);
		free(url2);
		free(sha4);
	}

	/* Freed with a git running and one queued: no callback, no leak. */
	done_reset(&d);
	done_reset(&d2);
	cause = NULL;
	good = source_fetch(src, "acme/third", url, sha2, done_cb, &d,
	    &cause) == 0;
	good = good && source_read_file(src, "acme/third", sha2,
	    "beekeeper.yml", 1024, file_cb, &d2, &cause) == 0;
	free(cause);
	ok(good, "a fetch and a read queued");
	source_free(src);
	source_free(NULL);
	wait_for(loop, &d.fired, 300);
	ok(d.fired == 0 && d2.fired == 0, "source_free: no callbacks");

	ev_free(loop);
	done_reset(&d);
	done_reset(&d2);
	free(state);
	free(url);
	free(mirror);
	free(sha1);
	free(sha2);
	free(sha3);
	ok(sh("rm -rf '%s'", dir) == 0 && !exists(dir),
	    "the temporary directory is removed");
	return (done_testing());
}
