/*
 * How a local task is run: the exact argv for a shell, for bubblewrap
 * (mount order, hidden directories and files, a hidden path that does not
 * exist) and for a container image; the reasons a task cannot run; and,
 * where bubblewrap works, a real task that must not read a hidden file,
 * must write only in its workspace and must see a private /tmp.
 */

#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "tap.h"

static char	 base[512];

/* "a b c" for an argv, to compare with is_str. */
static char *
join(char **argv)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b, 0);
	for (i = 0; argv != NULL && argv[i] != NULL; i++)
		buf_printf(&b, "%s%s", i == 0 ? "" : " ", argv[i]);
	buf_add(&b, "", 0);
	return (buf_detach(&b, NULL));
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int	 fd;

	fd = open(path, O_WRONLY|O_CREAT|O_TRUNC, mode);
	if (fd == -1 || write(fd, text, strlen(text)) < 0)
		fatal("%s", path);
	close(fd);
}

/* The no-runtime error, in a child: the runtime is probed only once. */
static void
test_no_runtime(void)
{
	struct sandbox_spec	 s = { .workspace = "/w", .image = "py3" };
	char			 got[256] = "", *cause = NULL, **argv;
	int			 fds[2], status;
	ssize_t			 n;
	pid_t			 pid;

	if (pipe(fds) != 0)
		fatal("pipe");
	if ((pid = fork()) == 0) {
		close(fds[0]);
		setenv("PATH", "/nonexistent", 1);
		argv = sandbox_argv(&s, &cause);
		if (argv == NULL && cause != NULL)
			(void)write(fds[1], cause, strlen(cause));
		_exit(0);
	}
	close(fds[1]);
	n = read(fds[0], got, sizeof got - 1);
	got[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	waitpid(pid, &status, 0);
	is_str(got, "task needs image py3 but neither podman nor docker is "
	    "installed", "an image without podman or docker: the reason");
}

static void
test_argv(void)
{
	const char		*names[] = { "TASK", "SHA" };
	struct sandbox_spec	 s;
	char			 dir[600], file[600], bin[600], podman[700];
	char			 want[4096], *cause = NULL, **argv, *got;
	const char		*hide[3];

	memset(&s, 0, sizeof s);
	s.workspace = "/srv/ws";
	s.run = "make check";
	argv = sandbox_argv(&s, &cause);
	got = join(argv);
	is_str(got, "/bin/sh -c make check", "run without bwrap: the shell");
	ok(argv != NULL && argv[3] == NULL && strcmp(argv[2], "make check") ==
	    0, "the command is one argument");
	free(got);
	sandbox_argv_free(argv);

	snprintf(dir, sizeof dir, "%s/state", base);
	snprintf(file, sizeof file, "%s/secret", base);
	mkdir(dir, 0700);
	write_file(file, "s3cret\n", 0600);
	hide[0] = dir;
	hide[1] = file;
	hide[2] = "/nonexistent/t_sandbox";
	s.hide = hide;
	s.nhide = 3;
	s.workspace = "/srv/ws";
	s.bwrap = 1;
	argv = sandbox_argv(&s, &cause);
	got = join(argv);
	snprintf(want, sizeof want, "/usr/bin/bwrap --ro-bind / / --dev /dev "
	    "--proc /proc --tmpfs /tmp --tmpfs /var/tmp --tmpfs %s "
	    "--ro-bind /dev/null %s --bind /srv/ws /srv/ws --chdir /srv/ws "
	    "--unshare-pid --unshare-ipc --die-with-parent --new-session "
	    "--setenv HOME /srv/ws -- /bin/sh -c make check", dir, file);
	is_str(got, want, "run with bwrap: hidden paths, then the workspace");
	free(got);
	sandbox_argv_free(argv);

	s.run = NULL;
	s.image = NULL;
	ok(sandbox_argv(&s, &cause) == NULL && cause != NULL &&
	    strcmp(cause, "task has neither run nor image") == 0,
	    "neither run nor image: NULL and a reason");
	free(cause);
	cause = NULL;

	s.workspace = "relative";
	s.run = "true";
	ok(sandbox_argv(&s, &cause) == NULL && cause != NULL,
	    "a relative workspace is refused");
	free(cause);
	cause = NULL;

	test_no_runtime();

	/* A podman of our own, first in PATH. */
	snprintf(bin, sizeof bin, "%s/bin", base);
	snprintf(podman, sizeof podman, "%s/podman", bin);
	mkdir(bin, 0700);
	write_file(podman, "#!/bin/sh\nexit 0\n", 0700);
	setenv("PATH", bin, 1);
	is_str(sandbox_container_runtime(), "podman", "podman found in PATH");
	s.workspace = "/srv/ws";
	s.run = NULL;
	s.image = "beekeeper/py3";
	s.bwrap = 1;
	argv = sandbox_argv(&s, &cause);
	got = join(argv);
	is_str(got, "podman run --rm -v /srv/ws:/app -w /app beekeeper/py3",
	    "image only: the runtime, workspace at /app, bwrap unused");
	free(got);
	sandbox_argv_free(argv);
	s.env = names;
	s.nenv = 2;
	argv = sandbox_argv(&s, &cause);
	got = join(argv);
	is_str(got, "podman run --rm -v /srv/ws:/app -w /app -e TASK -e SHA "
	    "beekeeper/py3", "the task's variables go into the container");
	free(got);
	sandbox_argv_free(argv);
	setenv("PATH", "/usr/bin:/bin", 1);
}

/* Run argv to completion with cwd, output into out (NUL-terminated). */
static int
run_argv(char **argv, const char *cwd, char *out, size_t len)
{
	int	 fds[2], status;
	size_t	 got = 0;
	ssize_t	 n;
	pid_t	 pid;

	if (pipe(fds) != 0)
		fatal("pipe");
	if ((pid = fork()) == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		if (chdir(cwd) != 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	while (got < len - 1 &&
	    (n = read(fds[0], out + got, len - 1 - got)) > 0)
		got += n;
	out[got] = '\0';
	close(fds[0]);
	waitpid(pid, &status, 0);
	return (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void
test_bwrap(void)
{
	struct sandbox_spec	 s;
	char			 state[600], ws[700], secret[700], key[600];
	char			 cmd[4096], out[8192], tmpwant[700];
	char			 path[800], **argv, *cause = NULL;
	const char		*hide[2], *p;
	struct stat		 sb;
	int			 rc;

	if (!sandbox_bwrap_works()) {
		printf("ok %d # SKIP bubblewrap does not work here\n",
		    ++tap_n);
		return;
	}
	/* The daemon's layout: the workspace inside the hidden state dir. */
	snprintf(state, sizeof state, "%s/state", base);
	snprintf(ws, sizeof ws, "%s/ws", state);
	snprintf(secret, sizeof secret, "%s/beekeeper.db", state);
	snprintf(key, sizeof key, "%s/secret", base);
	mkdir(ws, 0700);
	write_file(secret, "database\n", 0600);
	hide[0] = state;
	hide[1] = key;
	snprintf(cmd, sizeof cmd,
	    "cat %s >/dev/null 2>&1; echo db=$?; "
	    "cat %s; echo key=$?; "
	    "echo w >written && echo ws=ok; "
	    "touch /usr/t_sandbox.probe 2>/dev/null; echo usr=$?; "
	    "echo x >/tmp/t_sandbox.private && echo tmp=ok; "
	    "echo tmpls=$(ls -A /tmp | grep -v '^t_sandbox.private$'); "
	    "echo home=$HOME; echo pwd=$(pwd); echo pid=$$",
	    secret, key);
	memset(&s, 0, sizeof s);
	s.workspace = ws;
	s.hide = hide;
	s.nhide = 2;
	s.run = cmd;
	s.bwrap = 1;
	argv = sandbox_argv(&s, &cause);
	rc = run_argv(argv, ws, out, sizeof out);
	sandbox_argv_free(argv);
	is_int(rc, 0, "bwrap: the task ran");
	like(out, "db=1\n", "a file in a hidden directory cannot be read");
	ok(strstr(out, "s3cret") == NULL, "a hidden file's contents cannot "
	    "be read");
	like(out, "ws=ok\n", "the workspace (inside the hidden dir) is "
	    "writable");
	snprintf(path, sizeof path, "%s/written", ws);
	ok(stat(path, &sb) == 0, "and the write is seen outside");
	like(out, "usr=1\n", "/usr cannot be written");
	like(out, "tmp=ok\n", "/tmp can be written");
	snprintf(path, sizeof path, "/tmp/t_sandbox.private");
	ok(stat(path, &sb) != 0, "but it is private to the task");
	/* Only the way to the workspace, if it is under /tmp. */
	tmpwant[0] = '\0';
	if (strncmp(ws, "/tmp/", 5) == 0) {
		p = ws + 5;
		snprintf(tmpwant, sizeof tmpwant, "%.*s", (int)strcspn(p, "/"),
		    p);
	}
	snprintf(cmd, sizeof cmd, "tmpls=%s\n", tmpwant);
	like(out, cmd, "and starts empty");
	snprintf(cmd, sizeof cmd, "home=%s\npwd=%s\n", ws, ws);
	like(out, cmd, "HOME and cwd are the workspace");
	like(out, "pid=2\n", "its own PID namespace");
}

int
main(void)
{
	char	 tmpl[] = "t_sandbox.XXXXXX", real[PATH_MAX], cmd[600];

	log_init("t_sandbox", 0, LOG_LEVEL_WARN);
	/* Not in /tmp: the sandbox's /tmp is private, and that is tested. */
	if (mkdtemp(tmpl) == NULL || realpath(tmpl, real) == NULL)
		fatal("mkdtemp");
	if ((size_t)snprintf(base, sizeof base, "%s", real) >= sizeof base)
		skip_all("the build directory's path is too long");
	test_argv();
	test_bwrap();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", base);
	return (done_testing());
}
