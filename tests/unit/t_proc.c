/*
 * Child processes from the event loop, with real children: exit codes and
 * signals, captured and logged output, environment, directory, failures
 * to start, timeouts and cancels, background processes left behind, and
 * what the child must not inherit. Every wait is bounded, so a bug fails
 * a test instead of hanging it.
 */

#include "config.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "tap.h"

static char	*path_env[] = { "PATH=/usr/bin:/bin", NULL };
static char	 dir[] = "/tmp/t_proc.XXXXXX";

struct done {
	int			 fired;
	int			 running;	/* proc_running in callback */
	pid_t			 pid;
	struct proc_result	 r;
	char			*out;		/* detached output, or NULL */
	size_t			 outlen;
};

static void
done_cb(struct proc *p, const struct proc_result *r, void *arg)
{
	struct done	*d = arg;

	d->fired++;
	d->running = proc_running(p);
	d->pid = proc_pid(p);
	d->r = *r;
	d->r.output = NULL;
	if (r->output != NULL)
		d->out = buf_detach(r->output, &d->outlen);
}

static void
done_reset(struct done *d)
{
	free(d->out);
	memset(d, 0, sizeof *d);
}

/* Keeps every turn short, so the waits below can check their deadline. */
static void
tick(struct ev_loop *loop, void *arg)
{
	(void)arg;
	ev_timer_add(loop, 20, tick, NULL);
}

/* Turn the loop until *flag is set or ms have passed; returns *flag. */
static int
wait_for(struct ev_loop *loop, int *flag, uint64_t ms)
{
	uint64_t	 deadline = util_mono_ms() + ms;
	int		 turns = 0;

	while (!*flag && util_mono_ms() < deadline && turns++ < 100000)
		ev_run_once(loop, 1);
	return (*flag);
}

static void
turn_for(struct ev_loop *loop, uint64_t ms)
{
	int	 never = 0;

	wait_for(loop, &never, ms);
}

static struct proc *
start(struct ev_loop *loop, const struct proc_spec *spec, struct done *d)
{
	struct proc	*p;
	char		*cause = NULL;

	done_reset(d);
	p = proc_spawn(loop, spec, done_cb, d, &cause);
	if (p == NULL) {
		printf("# proc_spawn %s: %s\n", spec->argv[0], cause);
		free(cause);
	}
	return (p);
}

/* Run argv to completion with output captured. */
static int
run(struct ev_loop *loop, char **argv, char **envp, struct done *d)
{
	struct proc_spec	 spec;

	memset(&spec, 0, sizeof spec);
	spec.argv = argv;
	spec.envp = envp;
	if (start(loop, &spec, d) == NULL)
		return (0);
	return (wait_for(loop, &d->fired, 10000));
}

/* The cause proc_spawn gives for spec, or NULL if it started. */
static char *
spawn_cause(struct ev_loop *loop, const struct proc_spec *spec,
    struct done *d)
{
	struct proc	*p;
	char		*cause = NULL;

	done_reset(d);
	if ((p = proc_spawn(loop, spec, done_cb, d, &cause)) != NULL) {
		proc_free(p);
		return (NULL);
	}
	return (cause);
}

static char *
tmp_path(const char *name)
{
	char	*path;

	xasprintf(&path, "%s/%s", dir, name);
	return (path);
}

static char *
read_file(const char *path)
{
	char	*data, *cause;

	if ((data = util_read_file(path, 1 << 20, NULL, &cause)) == NULL)
		free(cause);
	return (data);
}

/* A pid written by a shell into a file, or -1. */
static pid_t
read_pid(const char *path)
{
	char	*data, *end;
	long	 pid = -1;

	if ((data = read_file(path)) != NULL) {
		errno = 0;
		pid = strtol(data, &end, 10);
		if (errno != 0 || end == data || pid <= 1 || pid > INT_MAX)
			pid = -1;
		free(data);
	}
	return ((pid_t)pid);
}

/*
 * Whether pid has died: gone, or a zombie waiting for whoever it was
 * reparented to (not us) to reap it. Polled briefly, since SIGKILL is
 * delivered asynchronously.
 */
static int
pid_dead(pid_t pid, int zombie_ok)
{
	char	 path[64], *stat, *paren;
	int	 i, dead = 0;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	for (i = 0; i < 200 && !dead; i++) {
		if ((stat = read_file(path)) == NULL)
			dead = kill(pid, 0) == -1 && errno == ESRCH;
		else {
			paren = strrchr(stat, ')');
			dead = zombie_ok && paren != NULL && paren[1] == ' ' &&
			    paren[2] == 'Z';
			free(stat);
		}
		if (!dead)
			usleep(10000);
	}
	return (dead);
}

static void
test_exit(struct ev_loop *loop)
{
	struct done	 d = { 0 };
	char		*t[] = { "true", NULL };
	char		*e3[] = { "sh", "-c", "exit 3", NULL };
	char		*k9[] = { "sh", "-c", "kill -9 $$", NULL };
	char		*in[] = { "cat", NULL };

	ok(run(loop, t, path_env, &d), "true: callback ran");
	is_int(d.fired, 1, "true: callback ran once");
	ok(d.r.exited && d.r.status == 0 && d.r.signo == 0,
	    "true: exited with 0");
	ok(!d.r.timed_out && !d.r.cancelled, "true: not timed out, cancelled");
	ok(!d.running, "proc_running is false in the callback");
	ok(d.r.pid > 0 && d.r.pid == d.pid, "result pid is proc_pid");
	ok(d.out != NULL && d.outlen == 0 && *d.out == '\0',
	    "no output is an empty string");

	ok(run(loop, e3, path_env, &d), "exit 3: callback ran");
	ok(d.r.exited && d.r.status == 3, "exit 3: exited with 3");

	ok(run(loop, k9, path_env, &d), "kill -9: callback ran");
	ok(!d.r.exited && d.r.signo == SIGKILL, "kill -9: killed by SIGKILL");

	ok(run(loop, in, path_env, &d), "cat: ends, stdin is /dev/null");
	ok(d.r.exited && d.r.status == 0 && d.outlen == 0, "cat: read nothing");
	done_reset(&d);
}

static void
test_capture(struct ev_loop *loop)
{
	struct proc_spec spec;
	struct done	 d = { 0 };
	char		*mix[] = { "sh", "-c",
			    "echo out1; echo err1 >&2; echo out2", NULL };
	char		*lots[] = { "sh", "-c", "i=0; while [ $i -lt 1000 ]; "
			    "do echo 0123456789; i=$((i+1)); done", NULL };
	char		*ten[] = { "printf", "0123456789", NULL };

	ok(run(loop, mix, path_env, &d), "stdout and stderr: callback ran");
	is_str(d.out, "out1\nerr1\nout2\n",
	    "stdout and stderr captured in order");
	ok(!d.r.truncated, "small output is not truncated");

	memset(&spec, 0, sizeof spec);
	spec.argv = lots;
	spec.envp = path_env;
	spec.capture_max = 100;
	ok(start(loop, &spec, &d) != NULL && wait_for(loop, &d.fired, 10000),
	    "11000 bytes under a cap of 100: callback ran");
	is_int(d.outlen, 100, "output kept up to the cap");
	ok(d.out != NULL && strncmp(d.out, "0123456789\n0123456789\n",
	    22) == 0, "the kept output is the first bytes");
	ok(d.r.truncated, "truncated is set");
	ok(d.r.exited && d.r.status == 0,
	    "the writer was not stopped by the cap");

	spec.argv = ten;
	spec.capture_max = 10;
	ok(start(loop, &spec, &d) != NULL && wait_for(loop, &d.fired, 10000),
	    "exactly the cap: callback ran");
	is_str(d.out, "0123456789", "exactly the cap: all kept");
	ok(!d.r.truncated, "exactly the cap is not truncated");
	spec.capture_max = 9;
	ok(start(loop, &spec, &d) != NULL && wait_for(loop, &d.fired, 10000),
	    "one over the cap: callback ran");
	ok(d.outlen == 9 && d.r.truncated, "one over the cap is truncated");
	done_reset(&d);
}

static void
test_log(struct ev_loop *loop)
{
	struct proc_spec spec;
	struct proc	*p;
	struct done	 d = { 0 };
	char		*log = tmp_path("log"), *stop = tmp_path("stop");
	char		*script, *data = NULL;
	char		*argv[] = { "sh", "-c", NULL, NULL };
	uint64_t	 deadline;
	struct stat	 sb;
	mode_t		 mask;
	int		 fd, seen = 0;

	xasprintf(&script, "echo one; echo two >&2; "
	    "while [ ! -e %s ]; do sleep 0.02; done; echo three", stop);
	argv[2] = script;
	if ((fd = open(log, O_WRONLY|O_CREAT|O_TRUNC, 0600)) != -1) {
		if (write(fd, "old\n", 4) != 4)
			printf("# write %s failed\n", log);
		close(fd);
	}

	memset(&spec, 0, sizeof spec);
	spec.argv = argv;
	spec.envp = path_env;
	spec.log_path = log;
	p = start(loop, &spec, &d);
	ok(p != NULL, "log: started");
	deadline = util_mono_ms() + 10000;
	while (p != NULL && !seen && !d.fired && util_mono_ms() < deadline) {
		turn_for(loop, 20);
		free(data);
		data = read_file(log);
		seen = data != NULL && strcmp(data, "old\none\ntwo\n") == 0;
	}
	ok(seen, "log: output is on disk while the process runs");
	ok(!d.fired && p != NULL && proc_running(p),
	    "log: the process was still running then");
	if ((fd = open(stop, O_WRONLY|O_CREAT, 0600)) != -1)
		close(fd);
	ok(wait_for(loop, &d.fired, 10000), "log: callback ran");
	ok(d.r.exited && d.r.status == 0, "log: exited with 0");
	ok(d.r.output == NULL && d.out == NULL, "log: no captured output");
	free(data);
	data = read_file(log);
	is_str(data, "old\none\ntwo\nthree\n", "log: appended, in order");
	ok(stat(log, &sb) == 0 && (sb.st_mode & 0777) == 0600,
	    "log: an existing file keeps its mode");
	unlink(log);

	spec.argv = (char *[]){ "true", NULL };
	ok(start(loop, &spec, &d) != NULL && wait_for(loop, &d.fired, 10000),
	    "log: a new file: callback ran");
	mask = umask(0);
	umask(mask);
	ok(stat(log, &sb) == 0 && (sb.st_mode & 0777) == (0640 & ~mask),
	    "log: a new file is created 0640 (less umask)");

	unlink(log);
	unlink(stop);
	free(data);
	free(script);
	free(log);
	free(stop);
	done_reset(&d);
}

/* The log of a task given secrets: masked by us, never raw on disk. */
static void
test_log_mask(struct ev_loop *loop)
{
	struct proc_spec spec;
	struct proc	*p;
	struct done	 d = { 0 };
	const char	*secrets[] = { "token-123", "" };
	char		*log = tmp_path("masked"), *stop = tmp_path("stop");
	char		*script, *data = NULL, *bgpid = tmp_path("bgpid");
	char		*argv[] = { "sh", "-c", NULL, NULL };
	uint64_t	 deadline;
	size_t		 i, n;
	pid_t		 pid;
	int		 fd, seen = 0, raw = 0;

	/* The secret comes in two writes, the second on stderr. */
	xasprintf(&script, "echo start; printf 'to'; sleep 0.1; "
	    "printf 'ken-123\\n' >&2; "
	    "while [ ! -e %s ]; do sleep 0.02; done; "
	    "echo end token-123x; printf 'token-12'", stop);
	argv[2] = script;
	if ((fd = open(log, O_WRONLY|O_CREAT|O_TRUNC, 0600)) != -1) {
		if (write(fd, "old\n", 4) != 4)
			printf("# write %s failed\n", log);
		close(fd);
	}

	memset(&spec, 0, sizeof spec);
	spec.argv = argv;
	spec.envp = path_env;
	spec.log_path = log;
	spec.mask = secrets;
	spec.nmask = nitems(secrets);
	p = start(loop, &spec, &d);
	ok(p != NULL, "masked log: started");
	deadline = util_mono_ms() + 10000;
	while (p != NULL && !seen && !d.fired && util_mono_ms() < deadline) {
		turn_for(loop, 10);
		free(data);
		data = read_file(log);
		if (data != NULL && (strstr(data, "\nto") != NULL ||
		    strstr(data, "ken-1") != NULL))
			raw = 1;
		seen = data != NULL && strcmp(data, "old\nstart\n***\n") == 0;
	}
	ok(seen, "masked log: masked output is on disk while it runs");
	ok(!raw, "masked log: no piece of the secret was ever on disk");
	ok(!d.fired && p != NULL && proc_running(p),
	    "masked log: the process was still running then");
	if ((fd = open(stop, O_WRONLY|O_CREAT, 0600)) != -1)
		close(fd);
	ok(wait_for(loop, &d.fired, 10000), "masked log: callback ran");
	ok(d.r.exited && d.r.status == 0, "masked log: exited with 0");
	ok(d.r.output == NULL && d.out == NULL,
	    "masked log: no captured output");
	free(data);
	data = read_file(log);
	is_str(data, "old\nstart\n***\nend ***x\ntoken-12",
	    "masked log: appended, masked, the held tail flushed at the end");
	unlink(log);
	unlink(stop);

	/* The same task without secrets writes the log itself, raw. */
	spec.nmask = 0;
	p = start(loop, &spec, &d);
	if ((fd = open(stop, O_WRONLY|O_CREAT, 0600)) != -1)
		close(fd);
	ok(p != NULL && wait_for(loop, &d.fired, 10000),
	    "nmask 0: callback ran");
	free(data);
	data = read_file(log);
	is_str(data, "start\ntoken-123\nend token-123x\ntoken-12",
	    "nmask 0: the log is the raw output");
	unlink(log);
	unlink(stop);
	free(script);

	/* More than one read's worth, with the secret across reads. */
	spec.nmask = 1;
	spec.argv = (char *[]){ "sh", "-c", "i=0; while [ $i -lt 5000 ]; "
	    "do echo 'a token-123 b'; i=$((i+1)); done", NULL };
	ok(start(loop, &spec, &d) != NULL && wait_for(loop, &d.fired, 10000),
	    "masked log, 70000 bytes: callback ran");
	free(data);
	data = read_file(log);
	for (n = 0, i = 0; data != NULL && data[i] != '\0'; i += 8, n++) {
		if (strncmp(data + i, "a *** b\n", 8) != 0)
			break;
	}
	ok(data != NULL && n == 5000 && data[i] == '\0',
	    "masked log, 70000 bytes: every line masked");
	unlink(log);

	/* A background writer is drained and masked too. */
	spec.argv = (char *[]){ "sh", "-c",
	    "(printf 'bg token-'; exec sleep 300) & sleep 0.2; echo 123", NULL };
	ok(start(loop, &spec, &d) != NULL && wait_for(loop, &d.fired, 10000),
	    "masked log, background writer: callback ran");
	free(data);
	data = read_file(log);
	is_str(data, "bg ***\n", "masked log, background writer: masked");
	unlink(log);

	/* Given up: the log is closed and nothing held back is written. */
	xasprintf(&script, "echo $$ > %s; printf 'x token-12'; exec sleep 30",
	    bgpid);
	spec.argv = (char *[]){ "sh", "-c", script, NULL };
	p = start(loop, &spec, &d);
	for (i = 0, seen = 0; i < 500 && !seen; i++) {
		turn_for(loop, 10);
		free(data);
		data = read_file(log);
		seen = data != NULL && strcmp(data, "x ") == 0;
	}
	pid = read_pid(bgpid);
	ok(seen, "masked log, given up: the prefix is held back");
	proc_free(p);
	turn_for(loop, 300);
	free(data);
	data = read_file(log);
	is_str(data, "x ", "masked log, given up: the held prefix is dropped");
	ok(pid != -1 && pid_dead(pid, 0), "masked log, given up: reaped");
	is_int(d.fired, 0, "masked log, given up: no callback");

	unlink(log);
	unlink(bgpid);
	free(script);
	free(data);
	free(log);
	free(stop);
	free(bgpid);
	done_reset(&d);
}

static void
test_env_cwd(struct ev_loop *loop)
{
	struct proc_spec spec;
	struct done	 d = { 0 };
	char		*envp[] = { "A=1", "B=two words", "PATH=/usr/bin:/bin",
			    NULL };
	char		*env[] = { "env", NULL };
	char		*pwd[] = { "pwd", NULL };
	char		 real[PATH_MAX], *want;

	ok(run(loop, env, envp, &d), "env: callback ran");
	is_str(d.out, "A=1\nB=two words\nPATH=/usr/bin:/bin\n",
	    "env: exactly the environment given");
	ok(run(loop, env, NULL, &d), "env, NULL envp: callback ran");
	is_str(d.out, "", "env, NULL envp: an empty environment");

	memset(&spec, 0, sizeof spec);
	spec.argv = pwd;
	spec.envp = path_env;
	spec.cwd = dir;
	ok(start(loop, &spec, &d) != NULL && wait_for(loop, &d.fired, 10000),
	    "cwd: callback ran");
	if (realpath(dir, real) == NULL)
		util_strlcpy(real, dir, sizeof real);
	xasprintf(&want, "%s\n", real);
	is_str(d.out, want, "cwd: runs in the directory given");
	free(want);
	done_reset(&d);
}

static void
test_failures(struct ev_loop *loop)
{
	struct proc_spec spec;
	struct done	 d = { 0 };
	char		*missing[] = { "no-such-program-bk", NULL };
	char		*abs[] = { "/nonexistent/prog", NULL };
	char		*t[] = { "true", NULL };
	char		*empty[] = { NULL };
	char		*cause;

	memset(&spec, 0, sizeof spec);
	spec.envp = path_env;

	spec.argv = missing;
	cause = spawn_cause(loop, &spec, &d);
	is_str(cause, "cannot run no-such-program-bk: "
	    "No such file or directory",
	    "a missing program gives a cause naming it");
	free(cause);
	ok(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD,
	    "the child that could not exec was reaped");
	spec.argv = abs;
	cause = spawn_cause(loop, &spec, &d);
	is_str(cause, "cannot run /nonexistent/prog: No such file or directory",
	    "a missing absolute path gives a cause naming it");
	free(cause);

	spec.argv = (char *[]){ "/etc", NULL };
	cause = spawn_cause(loop, &spec, &d);
	is_str(cause, "cannot run /etc: Permission denied",
	    "a directory cannot be run");
	free(cause);

	spec.argv = t;
	spec.cwd = "/nonexistent/dir";
	cause = spawn_cause(loop, &spec, &d);
	is_str(cause, "cannot change directory to /nonexistent/dir: "
	    "No such file or directory", "a missing cwd gives a cause");
	free(cause);
	spec.cwd = NULL;

	spec.log_path = "/nonexistent/dir/log";
	cause = spawn_cause(loop, &spec, &d);
	is_str(cause, "cannot open /nonexistent/dir/log: "
	    "No such file or directory", "an unwritable log gives a cause");
	free(cause);
	spec.log_path = NULL;

	spec.argv = empty;
	cause = spawn_cause(loop, &spec, &d);
	is_str(cause, "empty command", "an empty argv gives a cause");
	free(cause);
	spec.argv = NULL;
	cause = spawn_cause(loop, &spec, &d);
	is_str(cause, "empty command", "a NULL argv gives a cause");
	free(cause);

	turn_for(loop, 50);
	is_int(d.fired, 0, "no callback for a proc that did not start");
}

static void
test_timeout(struct ev_loop *loop)
{
	struct proc_spec spec;
	struct done	 d = { 0 };
	char		*sleep30[] = { "sleep", "30", NULL };
	char		*stubborn[] = { "sh", "-c", "trap '' TERM; sleep 30",
			    NULL };

	memset(&spec, 0, sizeof spec);
	spec.argv = sleep30;
	spec.envp = path_env;
	spec.timeout_ms = 200;
	ok(start(loop, &spec, &d) != NULL && wait_for(loop, &d.fired, 10000),
	    "timeout: sleep 30 ended");
	ok(d.r.timed_out && !d.r.cancelled, "timeout: reported timed out");
	ok(!d.r.exited && d.r.signo == SIGTERM, "timeout: ended by SIGTERM");
	ok(d.r.elapsed_ms >= 200 && d.r.elapsed_ms < 10000,
	    "timeout: elapsed is at least the timeout");

	spec.argv = stubborn;
	spec.timeout_ms = 100;
	spec.kill_grace_ms = 200;
	ok(start(loop, &spec, &d) != NULL && wait_for(loop, &d.fired, 10000),
	    "ignoring SIGTERM: ended");
	ok(d.r.timed_out, "ignoring SIGTERM: reported timed out");
	ok(!d.r.exited && d.r.signo == SIGKILL,
	    "ignoring SIGTERM: SIGKILLed after the grace");
	ok(d.r.elapsed_ms >= 300, "ignoring SIGTERM: the grace was given");
	done_reset(&d);
}

static void
test_kill(struct ev_loop *loop)
{
	struct proc_spec spec;
	struct proc	*p;
	struct done	 d = { 0 };
	char		*sleep30[] = { "sleep", "30", NULL };
	char		*pidfile = tmp_path("abandoned");
	char		*script;
	pid_t		 pid;
	int		 i;

	memset(&spec, 0, sizeof spec);
	spec.argv = sleep30;
	spec.envp = path_env;
	p = start(loop, &spec, &d);
	turn_for(loop, 50);
	ok(p != NULL && !d.fired && proc_running(p), "kill: running");
	if (p != NULL)
		proc_kill(p, PROC_KILL_TERM);
	ok(wait_for(loop, &d.fired, 10000), "kill TERM: callback ran");
	ok(d.r.cancelled && !d.r.timed_out, "kill TERM: reported cancelled");
	ok(!d.r.exited && d.r.signo == SIGTERM, "kill TERM: ended by SIGTERM");

	spec.timeout_ms = 60000;
	p = start(loop, &spec, &d);
	if (p != NULL) {
		proc_kill(p, PROC_KILL_NOW);
		proc_kill(p, PROC_KILL_TERM);
	}
	ok(wait_for(loop, &d.fired, 10000), "kill NOW: callback ran");
	ok(d.r.cancelled && d.r.signo == SIGKILL, "kill NOW: SIGKILLed");
	is_int(d.fired, 1, "kill NOW then TERM: one callback");

	/* Given up: no callback, and proc.c still kills and reaps it. */
	xasprintf(&script, "echo $$ > %s; exec sleep 30", pidfile);
	spec.argv = (char *[]){ "sh", "-c", script, NULL };
	spec.timeout_ms = 0;
	p = start(loop, &spec, &d);
	for (i = 0; i < 500 && (pid = read_pid(pidfile)) == -1; i++)
		turn_for(loop, 10);
	proc_free(p);
	proc_free(NULL);
	turn_for(loop, 300);
	ok(pid != -1 && pid_dead(pid, 0), "proc_free: killed and reaped");
	is_int(d.fired, 0, "proc_free: no callback");
	unlink(pidfile);
	free(pidfile);
	free(script);
	done_reset(&d);
}

static void
test_group(struct ev_loop *loop)
{
	struct proc_spec spec;
	struct done	 d = { 0 };
	char		*pidfile = tmp_path("bg"), *script;
	char		*pgid[] = { "cut", "-d", " ", "-f", "5",
			    "/proc/self/stat", NULL };
	char		*want;
	uint64_t	 t0;
	pid_t		 pid;

	ok(run(loop, pgid, path_env, &d), "pgid: callback ran");
	xasprintf(&want, "%ld\n", (long)d.r.pid);
	is_str(d.out, want, "the child leads its own process group");
	free(want);

	/* The background sleep holds the pipe open: it must not hang us. */
	xasprintf(&script, "sleep 300 & echo $! > %s; echo started", pidfile);
	memset(&spec, 0, sizeof spec);
	spec.argv = (char *[]){ "sh", "-c", script, NULL };
	spec.envp = path_env;
	t0 = util_mono_ms();
	ok(start(loop, &spec, &d) != NULL && wait_for(loop, &d.fired, 10000),
	    "background sleep, captured: callback ran");
	ok(util_mono_ms() - t0 < 10000,
	    "background sleep: did not wait for it");
	ok(d.r.exited && d.r.status == 0, "background sleep: leader exited 0");
	is_str(d.out, "started\n", "background sleep: output kept");
	pid = read_pid(pidfile);
	ok(pid != -1 && pid_dead(pid, 1), "background sleep: killed");
	unlink(pidfile);
	free(script);

	spec.argv = (char *[]){ "sh", "-c",
	    "(echo from-bg; exec sleep 300) & sleep 0.2; echo from-leader",
	    NULL };
	ok(start(loop, &spec, &d) != NULL && wait_for(loop, &d.fired, 10000),
	    "background writer: callback ran");
	is_str(d.out, "from-bg\nfrom-leader\n",
	    "background writer: its output is drained too");

	spec.log_path = tmp_path("bglog");
	xasprintf(&script, "sleep 300 & echo $! > %s", pidfile);
	spec.argv = (char *[]){ "sh", "-c", script, NULL };
	ok(start(loop, &spec, &d) != NULL && wait_for(loop, &d.fired, 10000),
	    "background sleep, logged: callback ran");
	pid = read_pid(pidfile);
	ok(pid != -1 && pid_dead(pid, 1), "background sleep, logged: killed");
	unlink(spec.log_path);
	free((char *)spec.log_path);
	unlink(pidfile);
	free(script);
	free(pidfile);
	done_reset(&d);
}

static void
test_many(struct ev_loop *loop)
{
	struct proc_spec spec;
	struct done	 d[5];
	char		*scripts[5];
	char		*argv[5][4];
	int		 i, all, good = 1;
	uint64_t	 deadline;

	memset(d, 0, sizeof d);
	memset(&spec, 0, sizeof spec);
	spec.envp = path_env;
	for (i = 0; i < 5; i++) {
		/* The first started ends last. */
		xasprintf(&scripts[i], "sleep 0.%d; echo %d; exit %d", 5 - i,
		    i, 10 + i);
		argv[i][0] = "sh";
		argv[i][1] = "-c";
		argv[i][2] = scripts[i];
		argv[i][3] = NULL;
		spec.argv = argv[i];
		if (start(loop, &spec, &d[i]) == NULL)
			good = 0;
	}
	ok(good, "five at once: all started");
	deadline = util_mono_ms() + 10000;
	do {
		ev_run_once(loop, 1);
		for (all = 1, i = 0; i < 5; i++)
			all &= d[i].fired == 1;
	} while (!all && util_mono_ms() < deadline);
	ok(all, "five at once: each callback ran once");
	for (i = 0; i < 5; i++) {
		if (!d[i].r.exited || d[i].r.status != 10 + i ||
		    d[i].out == NULL || d[i].out[0] != '0' + i)
			good = 0;
	}
	ok(good, "five at once: each got its own status and output");
	for (i = 0; i < 5; i++) {
		free(scripts[i]);
		done_reset(&d[i]);
	}
}

/*
 * The kernel's own sigaction: glibc will not let sigaction touch its
 * signals 32 and 33, yet a daemon may inherit them ignored.
 */
struct ksigaction {
	void		(*handler)(int);
	unsigned long	  flags;
	void		 *restorer;
	uint64_t	  mask;
};

static int
raw_sigaction(int signo, const struct ksigaction *ksa,
    struct ksigaction *old)
{
#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
	return (syscall(SYS_rt_sigaction, signo, ksa, old, sizeof ksa->mask));
#else
	(void)signo;
	(void)ksa;
	(void)old;
	return (-1);
#endif
}

static void
test_inherit(struct ev_loop *loop)
{
	struct done	 d = { 0 };
	char		*ls[] = { "ls", "/proc/self/fd", NULL };
	char		*sig[] = { "grep", "-E", "^Sig(Blk|Ign)",
			    "/proc/self/status", NULL };
	sigset_t	 set, old;
	struct sigaction sa, oldsa, oldrt;
	struct ksigaction ign33 = { SIG_IGN, 0, NULL, 0 }, old33;
	int		 fd, high;

	/* Left open across exec on purpose; ls's own directory is 3. */
	fd = open("/dev/null", O_RDONLY);
	high = dup2(fd, 100);
	ok(run(loop, ls, path_env, &d), "fds: callback ran");
	is_str(d.out, "0\n1\n2\n3\n", "fds: only 0, 1 and 2 are inherited");
	close(fd);
	if (high != -1)
		close(high);

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGUSR2, &sa, &oldsa);
	sigaction(SIGRTMIN, &sa, &oldrt);
	if (raw_sigaction(33, &ign33, &old33) != 0)
		printf("# cannot ignore signal 33 here\n");
	ok(run(loop, sig, path_env, &d), "signals: callback ran");
	is_str(d.out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n",
	    "signals: none blocked or ignored in the child");
	sigprocmask(SIG_SETMASK, &old, NULL);
	sigaction(SIGUSR2, &oldsa, NULL);
	sigaction(SIGRTMIN, &oldrt, NULL);
	raw_sigaction(33, &old33, NULL);
	done_reset(&d);
}

int
main(void)
{
	struct ev_loop	*loop;
	struct done	 d = { 0 };
	char		*t[] = { "true", NULL };

	if (access("/proc/self/fd", R_OK) != 0)
		skip_all("needs /proc");
	if (mkdtemp(dir) == NULL)
		skip_all("cannot create a temporary directory");
	loop = ev_create();
	tick(loop, NULL);

	test_exit(loop);
	test_capture(loop);
	test_log(loop);
	test_log_mask(loop);
	test_env_cwd(loop);
	test_failures(loop);
	test_timeout(loop);
	test_kill(loop);
	test_group(loop);
	test_many(loop);
	test_inherit(loop);
	ev_free(loop);

	/* A new loop (maybe at the same address) gets SIGCHLD again. */
	loop = ev_create();
	tick(loop, NULL);
	ok(run(loop, t, path_env, &d), "a second loop reaps too");
	ev_free(loop);
	done_reset(&d);

	rmdir(dir);
	return (done_testing());
}
