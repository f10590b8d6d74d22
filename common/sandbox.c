/*
 * How a task runs on this machine: the argv that the daemon's local driver
 * and `beekeeper run` hand to proc_spawn. sandbox.c owns the choice
 * between bubblewrap, a plain shell and a container runtime, and the order
 * of bubblewrap's mounts; it runs nothing but its one-off probe.
 *
 * Invariants:
 * - With bubblewrap the whole file system is read-only, /dev, /proc, /tmp
 *   and /var/tmp are fresh, each hidden path is covered (a directory by an
 *   empty tmpfs, a file by /dev/null), and only then is the workspace bound
 *   read-write: mounts apply in order, so a workspace inside a hidden
 *   directory (the daemon's state dir) is still visible, and nothing
 *   else of that directory is.
 * - A hidden path that does not exist is left out: there is nothing to
 *   hide, and bubblewrap would fail on it.
 * - The task gets its own PID and IPC namespaces and session, and dies
 *   with bubblewrap, so killing bubblewrap's process group (proc.c)
 *   kills the whole task, even what it put in the background.
 * - The probes run once per process and are cached; they block, so the
 *   daemon calls them at start-up, not from a callback.
 */

#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define SANDBOX_BWRAP	"/usr/bin/bwrap"
#define SANDBOX_SHELL	"/bin/sh"

extern char	**environ;

static int	 sandbox_bwrap_probed;
static int	 sandbox_bwrap_ok;
static int	 sandbox_runtime_probed;
static const char *sandbox_runtime;

/*
 * bwrap may be installed and still not work (no user namespaces, a
 * seccomp profile in a container), so it is tried once for real.
 */
int
sandbox_bwrap_works(void)
{
	static char			*argv[] = { SANDBOX_BWRAP, "--ro-bind",
					    "/", "/", "true", NULL };
	static char			*envp[] = {
					    "PATH=/usr/bin:/bin", NULL };
	posix_spawn_file_actions_t	 fa;
	pid_t				 pid;
	int				 status;

	if (sandbox_bwrap_probed)
		return (sandbox_bwrap_ok);
	sandbox_bwrap_probed = 1;
	if (access(SANDBOX_BWRAP, X_OK) != 0)
		return (0);
	if (posix_spawn_file_actions_init(&fa) != 0)
		return (0);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawn(&pid, SANDBOX_BWRAP, &fa, NULL, argv, envp) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return (0);
	}
	posix_spawn_file_actions_destroy(&fa);
	/* Our own child, by its pid: proc.c's children are not touched. */
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR)
			return (0);
	}
	sandbox_bwrap_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	log_debug("sandbox: bubblewrap %s", sandbox_bwrap_ok ? "works" :
	    "does not work");
	return (sandbox_bwrap_ok);
}

/* Is NAME an executable file in one of PATH's directories? */
static int
sandbox_in_path(const char *name)
{
	const char	*path, *s, *e;
	char		*file;
	struct stat	 sb;
	int		 found = 0;

	if ((path = getenv("PATH")) == NULL || *path == '\0')
		return (0);
	for (s = path; !found; s = e + 1) {
		if ((e = strchr(s, ':')) == NULL)
			e = s + strlen(s);
		if (e != s) {
			xasprintf(&file, "%.*s/%s", (int)(e - s), s, name);
			found = stat(file, &sb) == 0 && S_ISREG(sb.st_mode) &&
			    access(file, X_OK) == 0;
			free(file);
		}
		if (*e == '\0')
			break;
	}
	return (found);
}

/* Podman first: it needs no daemon and runs rootless. */
const char *
sandbox_container_runtime(void)
{
	static const char	*names[] = { "podman", "docker" };
	size_t			 i;

	if (sandbox_runtime_probed)
		return (sandbox_runtime);
	sandbox_runtime_probed = 1;
	for (i = 0; i < nitems(names); i++) {
		if (sandbox_in_path(names[i])) {
			sandbox_runtime = names[i];
			break;
		}
	}
	return (sandbox_runtime);
}

struct sandbox_args {
	char	**v;
	size_t	  n;
	size_t	  size;
};

static void
sandbox_add(struct sandbox_args *a, const char *s)
{
	if (a->n + 2 > a->size) {
		a->size = a->size == 0 ? 32 : a->size * 2;
		a->v = xreallocarray(a->v, a->size, sizeof *a->v);
	}
	a->v[a->n++] = xstrdup(s);
	a->v[a->n] = NULL;
}

static void
sandbox_add_bwrap(struct sandbox_args *a, const struct sandbox_spec *spec)
{
	static const char	*head[] = { SANDBOX_BWRAP, "--ro-bind", "/",
				    "/", "--dev", "/dev", "--proc", "/proc",
				    "--tmpfs", "/tmp", "--tmpfs", "/var/tmp" };
	static const char	*tail[] = { "--unshare-pid", "--unshare-ipc",
				    "--die-with-parent", "--new-session" };
	struct stat		 sb;
	size_t			 i;

	for (i = 0; i < nitems(head); i++)
		sandbox_add(a, head[i]);
	for (i = 0; i < spec->nhide; i++) {
		if (stat(spec->hide[i], &sb) != 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			sandbox_add(a, "--tmpfs");
			sandbox_add(a, spec->hide[i]);
		} else {
			sandbox_add(a, "--ro-bind");
			sandbox_add(a, "/dev/null");
			sandbox_add(a, spec->hide[i]);
		}
	}
	/* After the hiding: see the comment at the top. */
	sandbox_add(a, "--bind");
	sandbox_add(a, spec->workspace);
	sandbox_add(a, spec->workspace);
	sandbox_add(a, "--chdir");
	sandbox_add(a, spec->workspace);
	for (i = 0; i < nitems(tail); i++)
		sandbox_add(a, tail[i]);
	sandbox_add(a, "--setenv");
	sandbox_add(a, "HOME");
	sandbox_add(a, spec->workspace);
	sandbox_add(a, "--");
}

/*
 * The argv for a task, or NULL and a reason a person can act on when it
 * cannot run on this machine. A run: command wins over an image; an
 * image alone runs in a container with the workspace at /app, as the
 * 2017 local runner did (the container is its sandbox).
 */
char **
sandbox_argv(const struct sandbox_spec *spec, char **cause)
{
	struct sandbox_args	 a;
	const char		*runtime;
	char			*volume;
	size_t			 i;

	memset(&a, 0, sizeof a);
	if (spec->workspace == NULL || *spec->workspace != '/') {
		xasprintf(cause, "workspace %s is not an absolute path",
		    spec->workspace != NULL ? spec->workspace : "(none)");
		return (NULL);
	}
	if (spec->run != NULL) {
		if (spec->bwrap)
			sandbox_add_bwrap(&a, spec);
		sandbox_add(&a, SANDBOX_SHELL);
		sandbox_add(&a, "-c");
		sandbox_add(&a, spec->run);
		return (a.v);
	}
	if (spec->image == NULL) {
		*cause = xstrdup("task has neither run nor image");
		return (NULL);
	}
	if ((runtime = sandbox_container_runtime()) == NULL) {
		xasprintf(cause, "task needs image %s but neither podman nor "
		    "docker is installed", spec->image);
		return (NULL);
	}
	xasprintf(&volume, "%s:/app", spec->workspace);
	sandbox_add(&a, runtime);
	sandbox_add(&a, "run");
	sandbox_add(&a, "--rm");
	sandbox_add(&a, "-v");
	sandbox_add(&a, volume);
	sandbox_add(&a, "-w");
	sandbox_add(&a, "/app");
	/* -e NAME passes the client's value: the task's environment. */
	for (i = 0; i < spec->nenv; i++) {
		sandbox_add(&a, "-e");
		sandbox_add(&a, spec->env[i]);
	}
	sandbox_add(&a, spec->image);
	free(volume);
	return (a.v);
}

void
sandbox_argv_free(char **argv)
{
	size_t	 i;

	if (argv == NULL)
		return;
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}
