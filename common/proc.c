/*
 * Child processes run from the event loop: git fetches, local CI tasks.
 * proc.c owns every child it forks, from fork to reaping, and never blocks
 * the loop on one (proc_spawn waits only until the child has called
 * execve, so that a missing program is an error and not an exit code).
 *
 * Invariants:
 * - Each child leads its own process group, and the group is what gets
 *   signalled: on timeout and on cancel SIGTERM (and SIGCONT, in case it
 *   is stopped), then SIGKILL after the grace; and SIGKILL as soon as the
 *   leader exits, so nothing a task put in the background outlives it.
 *   Processes that leave the group (setsid, setpgid) escape; only a
 *   cgroup would catch those.
 * - The group is signalled only while its leader is unreaped (running or
 *   a zombie), so its ID cannot have been reused: an exit is seen with
 *   waitid(WNOWAIT), the group is killed, and only then is the leader
 *   reaped.
 * - proc.c reaps its own children, with one SIGCHLD handler per loop
 *   registered on first use and waitpid on each live pid, never on -1.
 *   The rest of the program must not reap children (no waitpid(-1), no
 *   SIG_IGN for SIGCHLD), or their exits are lost.
 * - The exit callback runs exactly once, after the leader is reaped and
 *   the captured output drained; a background process still holding the
 *   pipe cannot delay it, since the group has been killed by then. The
 *   proc is freed by proc.c as soon as the callback returns.
 * - With a mask, the child's output comes through a pipe and only its
 *   masked form reaches the log: the raw bytes are never on disk, not
 *   even while the task runs. The masker is flushed and the log closed
 *   after the final drain and before the callback, which so sees the
 *   whole log.
 * - With die_with_parent, the leader is SIGKILLed by the kernel if the
 *   daemon dies first (PR_SET_PDEATHSIG, checked against a parent that
 *   died before it was set), so a killed daemon leaves no task running.
 * - A proc must have finished, or been given up with proc_free, before
 *   its loop is freed: ev_free cannot tell us.
 */

#include "config.h"

#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define PROC_DEFAULT_PATH	"/usr/local/bin:/usr/bin:/bin"
#define PROC_READ_TURNS		4	/* reads of one pipe per loop turn */

enum proc_state {
	PROC_RUNNING,
	PROC_TERMINATING,	/* SIGTERM sent, grace timer running */
	PROC_KILLED,		/* SIGKILL sent */
	PROC_DONE		/* reaped, in its callback */
};

/* What the child writes to the error pipe when it cannot exec. */
enum proc_stage {
	PROC_STAGE_SETUP,
	PROC_STAGE_CWD,
	PROC_STAGE_EXEC
};
struct proc_failure {
	int		 stage;
	int		 error;
};

/* Everything the child needs, prepared before fork: it may not allocate. */
struct proc_child {
	char *const	*argv;
	char *const	*envp;
	char		**paths;	/* execve candidates, NULL-terminated */
	const char	*cwd;
	int		 nullfd;
	int		 outfd;
	int		 errfd;
	long		 maxfd;
	pid_t		 parent;
	int		 die_with_parent;
};

struct proc_loop;

struct proc {
	struct proc_loop	*pl;
	pid_t			 pid;
	char			*name;		/* argv[0], for messages */
	enum proc_state		 state;
	proc_exit_cb		 cb;		/* NULL once given up */
	void			*arg;

	int			 fd;		/* output pipe, or -1 */
	struct ev_io		*io;
	struct buf		 output;
	size_t			 capture_max;
	int			 capture;
	int			 truncated;

	struct mask		*mask;		/* masked log, or NULL */
	int			 logfd;		/* -1 once closed or failed */
	struct buf		 masked;

	struct ev_timer		*timer;		/* timeout, then grace */
	uint64_t		 grace_ms;
	int			 timed_out;
	int			 cancelled;
	uint64_t		 started;

	TAILQ_ENTRY(proc)	 entry;
};

/*
 * One record per loop that ever spawned. Records are never freed: the
 * loop's SIGCHLD entry points at its record and ev.c has no way to remove
 * it. ev_free puts SIGCHLD back to SIG_DFL, which is how a record whose
 * loop was freed (and whose address came back) knows to register again.
 */
struct proc_loop {
	struct ev_loop		*loop;
	int			 watching;
	TAILQ_HEAD(, proc)	 procs;
	LIST_ENTRY(proc_loop)	 entry;
};
static LIST_HEAD(, proc_loop) proc_loops = LIST_HEAD_INITIALIZER(proc_loops);

static char	*proc_empty_env[] = { NULL };

static void	 proc_sigchld(struct ev_loop *, int, void *);

static int
proc_sigchld_lost(void)
{
	struct sigaction	 sa;

	if (sigaction(SIGCHLD, NULL, &sa) != 0)
		return (0);
	return (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN);
}

static struct proc_loop *
proc_loop_get(struct ev_loop *loop, char **cause)
{
	struct proc_loop	*pl;

	LIST_FOREACH(pl, &proc_loops, entry) {
		if (pl->loop == loop)
			break;
	}
	if (pl == NULL) {
		pl = xcalloc(1, sizeof *pl);
		pl->loop = loop;
		TAILQ_INIT(&pl->procs);
		LIST_INSERT_HEAD(&proc_loops, pl, entry);
	}
	if (!pl->watching || proc_sigchld_lost()) {
		if (ev_signal_add(loop, SIGCHLD, proc_sigchld, pl) != 0) {
			xasprintf(cause, "cannot watch SIGCHLD: %s",
			    strerror(errno));
			return (NULL);
		}
		pl->watching = 1;
	}
	return (pl);
}

/* Signal the whole group. Only called while the leader is unreaped. */
static void
proc_signal(struct proc *p, int signo)
{
	if (kill(-p->pid, signo) != 0 && errno != ESRCH)
		log_warn("proc: kill %s group %ld: %s", p->name, (long)p->pid,
		    strerror(errno));
}

static void
proc_grace(struct ev_loop *loop, void *arg)
{
	struct proc	*p = arg;

	(void)loop;
	p->timer = NULL;
	log_debug("proc: %s [%ld] outlived its grace, killing", p->name,
	    (long)p->pid);
	proc_signal(p, SIGKILL);
	p->state = PROC_KILLED;
}

/* SIGTERM now, SIGKILL after the grace unless the leader exits first. */
static void
proc_terminate(struct proc *p)
{
	if (p->state != PROC_RUNNING)
		return;
	ev_timer_del(p->timer);
	proc_signal(p, SIGTERM);
	proc_signal(p, SIGCONT);
	p->state = PROC_TERMINATING;
	p->timer = ev_timer_add(p->pl->loop, p->grace_ms, proc_grace, p);
}

static void
proc_timeout(struct ev_loop *loop, void *arg)
{
	struct proc	*p = arg;

	(void)loop;
	p->timer = NULL;
	log_debug("proc: %s [%ld] timed out", p->name, (long)p->pid);
	p->timed_out = 1;
	proc_terminate(p);
}

/* Keep what fits under the cap; the rest is read and dropped. */
static void
proc_keep(struct proc *p, const char *data, size_t len)
{
	size_t	 room;

	room = p->capture_max - p->output.len;
	if (len > room) {
		len = room;
		p->truncated = 1;
	}
	if (len != 0 && buf_add(&p->output, data, len) != 0)
		p->truncated = 1;
}

/*
 * The masked log is a regular file, so a write does not keep the loop
 * waiting. After a failed write nothing more is written: a log with a hole
 * in it could join the pieces on either side into a secret.
 */
static void
proc_log_write(struct proc *p, const char *data, size_t len)
{
	ssize_t	 n;

	while (p->logfd != -1 && len != 0) {
		n = write(p->logfd, data, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("proc: write %s log: %s", p->name,
			    n == 0 ? "no progress" : strerror(errno));
			close(p->logfd);
			p->logfd = -1;
			break;
		}
		data += n;
		len -= n;
	}
}

static void
proc_log_feed(struct proc *p, const char *data, size_t len)
{
	if (p->logfd == -1)
		return;
	buf_reset(&p->masked);
	if (mask_feed(p->mask, data, len, &p->masked) != 0) {
		/* masked is uncapped, so never; if so, stop as on EIO. */
		log_warn("proc: cannot mask %s output", p->name);
		close(p->logfd);
		p->logfd = -1;
		return;
	}
	proc_log_write(p, p->masked.data, p->masked.len);
}

/*
 * The end of the stream: what the masker held back may now be written.
 * Not when given up (flush is 0), as the stream was cut short and what is
 * held may be the start of a secret whose rest is still in the pipe.
 */
static void
proc_log_close(struct proc *p, int flush)
{
	if (p->mask == NULL)
		return;
	if (flush && p->logfd != -1) {
		buf_reset(&p->masked);
		if (mask_flush(p->mask, &p->masked) == 0)
			proc_log_write(p, p->masked.data, p->masked.len);
	}
	if (p->logfd != -1)
		close(p->logfd);
	p->logfd = -1;
	mask_free(p->mask);
	p->mask = NULL;
	buf_release(&p->masked);
}

static void
proc_close_capture(struct proc *p)
{
	ev_io_del(p->io);
	p->io = NULL;
	if (p->fd != -1)
		close(p->fd);
	p->fd = -1;
}

/*
 * Read what the pipe holds, at most a few reads per turn so one chatty
 * task cannot starve the loop; drain (after the group is dead) reads on
 * until the pipe is empty.
 */
static void
proc_read_some(struct proc *p, int drain)
{
	char	 data[16384];
	ssize_t	 n;
	int	 turns = 0;

	while (p->fd != -1 && (drain || turns++ < PROC_READ_TURNS)) {
		n = read(p->fd, data, sizeof data);
		if (n > 0) {
			if (p->mask != NULL)
				proc_log_feed(p, data, n);
			else
				proc_keep(p, data, n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n == -1)
			log_warn("proc: read %s output: %s", p->name,
			    strerror(errno));
		proc_close_capture(p);
	}
	/* What a masked task printed is not left lying on the stack. */
	if (p->mask != NULL)
		explicit_bzero(data, sizeof data);
}

static void
proc_read(struct ev_loop *loop, int fd, void *arg)
{
	(void)loop;
	(void)fd;
	proc_read_some(arg, 0);
}

static void
proc_discard(struct proc *p)
{
	ev_timer_del(p->timer);
	p->timer = NULL;
	proc_close_capture(p);
	proc_log_close(p, 0);
	buf_release(&p->output);
	free(p->name);
	free(p);
}

/*
 * The leader is reaped (status from waitpid, or lost if someone else
 * reaped it) and the group killed: drain the pipe and report.
 */
static void
proc_finish(struct proc *p, int status, int lost)
{
	struct proc_result	 r;
	proc_exit_cb		 cb = p->cb;

	TAILQ_REMOVE(&p->pl->procs, p, entry);
	ev_timer_del(p->timer);
	p->timer = NULL;
	proc_read_some(p, 1);
	proc_close_capture(p);
	proc_log_close(p, 1);
	p->state = PROC_DONE;
	if (cb == NULL) {
		proc_discard(p);
		return;
	}

	memset(&r, 0, sizeof r);
	r.pid = p->pid;
	if (lost)
		log_warn("proc: %s [%ld] was reaped elsewhere", p->name,
		    (long)p->pid);
	else if (WIFEXITED(status)) {
		r.exited = 1;
		r.status = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status))
		r.signo = WTERMSIG(status);
	r.timed_out = p->timed_out;
	r.cancelled = p->cancelled;
	if (p->capture) {
		if (p->output.data == NULL)
			buf_add(&p->output, "", 0);
		r.output = &p->output;
		r.truncated = p->truncated;
	}
	r.elapsed_ms = ev_now(p->pl->loop) - p->started;
	log_debug("proc: %s [%ld] done: exit %d signal %d%s%s", p->name,
	    (long)p->pid, r.exited ? r.status : -1, r.signo,
	    r.timed_out ? ", timed out" : "", r.cancelled ? ", cancelled" : "");
	cb(p, &r, p->arg);
	proc_discard(p);
}

/*
 * Returns 1 if the leader had exited and p is gone. The exit is looked at
 * without reaping so the group ID is still ours when it is killed.
 */
static int
proc_check(struct proc *p)
{
	siginfo_t	 si;
	int		 status = 0;
	pid_t		 rv;

	memset(&si, 0, sizeof si);
	while (waitid(P_PID, p->pid, &si, WEXITED|WNOHANG|WNOWAIT) != 0) {
		if (errno == EINTR)
			continue;
		if (errno == ECHILD) {
			/* Not ours to signal any more: the ID may be reused. */
			proc_finish(p, 0, 1);
			return (1);
		}
		log_warn("proc: waitid %ld: %s", (long)p->pid,
		    strerror(errno));
		return (0);
	}
	if (si.si_pid == 0)
		return (0);

	proc_signal(p, SIGKILL);
	while ((rv = waitpid(p->pid, &status, 0)) == -1 && errno == EINTR)
		;
	proc_finish(p, status, rv == -1);
	return (1);
}

/*
 * A callback may spawn, kill or give up other procs, so the walk starts
 * over after each one that finished.
 */
static void
proc_sigchld(struct ev_loop *loop, int signo, void *arg)
{
	struct proc_loop	*pl = arg;
	struct proc		*p;

	(void)loop;
	(void)signo;
again:
	TAILQ_FOREACH(p, &pl->procs, entry) {
		if (proc_check(p))
			goto again;
	}
}

/*
 * The execve candidates, as execvp would try them but with PATH taken
 * from the environment the child will get.
 */
static char **
proc_paths(const char *file, char *const *envp)
{
	const char	*path = PROC_DEFAULT_PATH, *s, *e;
	char		**paths;
	size_t		 n = 1, i = 0, len;
	int		 dirlen;

	if (strchr(file, '/') != NULL) {
		paths = xcalloc(2, sizeof *paths);
		paths[0] = xstrdup(file);
		return (paths);
	}
	for (; *envp != NULL; envp++) {
		if (strncmp(*envp, "PATH=", 5) == 0) {
			path = *envp + 5;
			break;
		}
	}
	for (s = path; *s != '\0'; s++)
		n += (*s == ':');
	paths = xcalloc(n + 1, sizeof *paths);
	for (s = path; i < n; s = e + 1) {
		if ((e = strchr(s, ':')) == NULL)
			e = s + strlen(s);
		len = e - s;
		if (len == 0)
			xasprintf(&paths[i++], "./%s", file);
		else {
			dirlen = len > INT_MAX ? INT_MAX : (int)len;
			xasprintf(&paths[i++], "%.*s/%s", dirlen, s, file);
		}
		if (*e == '\0')
			break;
	}
	return (paths);
}

static void
proc_paths_free(char **paths)
{
	size_t	 i;

	for (i = 0; paths[i] != NULL; i++)
		free(paths[i]);
	free(paths);
}

static __dead void
proc_child_fail(int errfd, int stage)
{
	struct proc_failure	 f;

	f.stage = stage;
	f.error = errno;
	(void)write(errfd, &f, sizeof f);
	_exit(127);
}

/* Make sure fd is not 0, 1 or 2 before those are overwritten. */
static int
proc_child_lift(int fd)
{
	if (fd > 2)
		return (fd);
	return (fcntl(fd, F_DUPFD_CLOEXEC, 3));
}

/*
 * In the child, between fork and execve: only async-signal-safe calls,
 * since ZeroMQ's threads may have held locks at the fork.
 */
static __dead void
proc_child(struct proc_child *c)
{
	struct sigaction	 sa;
	sigset_t		 set;
	int			 signo, fd, error = 0, i;
	static const char	 kzero[64];

	setpgid(0, 0);
	/*
	 * Die with the daemon: a task must not go on unwatched. The
	 * parent may already be gone by now, and then no signal comes.
	 */
	if (c->die_with_parent &&
	    (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != c->parent))
		_exit(127);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (signo = 1; signo < NSIG; signo++) {
		if (signo == SIGKILL || signo == SIGSTOP ||
		    sigaction(signo, &sa, NULL) == 0)
			continue;
#ifdef SYS_rt_sigaction
		/*
		 * glibc keeps sigaction off its own signals (32 and 33), but
		 * an ignored one is inherited across execve. The kernel's
		 * struct, all zeros, is SIG_DFL whatever its layout.
		 */
		(void)syscall(SYS_rt_sigaction, signo, kzero, NULL,
		    (size_t)(NSIG - 1) / 8);
#endif
	}
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);

	/* The error pipe ends on 3 (close-on-exec); 4 and up are closed. */
	if ((fd = proc_child_lift(c->errfd)) == -1)
		proc_child_fail(c->errfd, PROC_STAGE_SETUP);
	c->errfd = fd;
	if ((c->nullfd = proc_child_lift(c->nullfd)) == -1 ||
	    (c->outfd = proc_child_lift(c->outfd)) == -1)
		proc_child_fail(c->errfd, PROC_STAGE_SETUP);
	if (dup2(c->nullfd, 0) == -1 || dup2(c->outfd, 1) == -1 ||
	    dup2(c->outfd, 2) == -1)
		proc_child_fail(c->errfd, PROC_STAGE_SETUP);
	if (c->errfd != 3) {
		if (dup3(c->errfd, 3, O_CLOEXEC) == -1)
			proc_child_fail(c->errfd, PROC_STAGE_SETUP);
		c->errfd = 3;
	}
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 4U, ~0U, 0U) != 0)
#endif
	{
		for (fd = 4; fd < c->maxfd; fd++)
			(void)close(fd);
	}

	if (c->cwd != NULL && chdir(c->cwd) != 0)
		proc_child_fail(c->errfd, PROC_STAGE_CWD);

	/* As execvp: go on past ENOENT, report EACCES if nothing ran. */
	for (i = 0; c->paths[i] != NULL; i++) {
		execve(c->paths[i], c->argv, c->envp);
		if (errno == EACCES)
			error = EACCES;
		else if (errno != ENOENT && errno != ENOTDIR) {
			error = errno;
			break;
		}
	}
	errno = error != 0 ? error : ENOENT;
	proc_child_fail(c->errfd, PROC_STAGE_EXEC);
}

/* Blocks until the child has exec'd (EOF) or reported why it could not. */
static int
proc_wait_exec(int fd, struct proc_failure *f)
{
	size_t	 got = 0;
	ssize_t	 n;

	while (got < sizeof *f) {
		n = read(fd, (char *)f + got, sizeof *f - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	return (got == sizeof *f ? -1 : 0);
}

struct proc *
proc_spawn(struct ev_loop *loop, const struct proc_spec *spec,
    proc_exit_cb cb, void *arg, char **cause)
{
	struct proc_loop	*pl;
	struct proc		*p;
	struct proc_child	 c;
	struct proc_failure	 f;
	sigset_t		 all, old;
	int			 outpipe[2] = { -1, -1 }, errpipe[2];
	int			 logfd = -1, status, saved, masking;
	pid_t			 pid;

	if (spec->argv == NULL || spec->argv[0] == NULL ||
	    *spec->argv[0] == '\0') {
		*cause = xstrdup("empty command");
		return (NULL);
	}
	if ((pl = proc_loop_get(loop, cause)) == NULL)
		return (NULL);

	memset(&c, 0, sizeof c);
	c.argv = spec->argv;
	c.parent = getpid();
	c.die_with_parent = spec->die_with_parent;
	c.envp = spec->envp != NULL ? spec->envp : proc_empty_env;
	c.cwd = spec->cwd;
	if ((c.maxfd = sysconf(_SC_OPEN_MAX)) < 0 || c.maxfd > 65536)
		c.maxfd = 65536;
	if ((c.nullfd = open("/dev/null", O_RDONLY|O_CLOEXEC)) == -1) {
		xasprintf(cause, "cannot open /dev/null: %s", strerror(errno));
		return (NULL);
	}
	/* Masked: the child writes to us and we write the log. */
	masking = spec->log_path != NULL && spec->nmask != 0;
	if (spec->log_path != NULL) {
		logfd = open(spec->log_path,
		    O_WRONLY|O_APPEND|O_CREAT|O_NOCTTY|O_CLOEXEC, 0640);
		if (logfd == -1) {
			xasprintf(cause, "cannot open %s: %s", spec->log_path,
			    strerror(errno));
			close(c.nullfd);
			return (NULL);
		}
	}
	if (spec->log_path == NULL || masking) {
		if (pipe2(outpipe, O_CLOEXEC) != 0) {
			xasprintf(cause, "pipe: %s", strerror(errno));
			close(c.nullfd);
			if (logfd != -1)
				close(logfd);
			return (NULL);
		}
		c.outfd = outpipe[1];
	} else {
		c.outfd = logfd;
		logfd = -1;
	}
	if (pipe2(errpipe, O_CLOEXEC) != 0) {
		xasprintf(cause, "pipe: %s", strerror(errno));
		close(c.nullfd);
		close(c.outfd);
		if (outpipe[0] != -1)
			close(outpipe[0]);
		if (logfd != -1)
			close(logfd);
		return (NULL);
	}
	c.errfd = errpipe[1];
	c.paths = proc_paths(spec->argv[0], c.envp);

	/* No handler of ours may run in the child before it execs. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		proc_child(&c);
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);

	close(c.nullfd);
	close(c.outfd);
	close(errpipe[1]);
	proc_paths_free(c.paths);
	if (pid == -1) {
		xasprintf(cause, "cannot run %s: fork: %s", spec->argv[0],
		    strerror(saved));
		goto fail;
	}
	/* Both sides set the group, so it exists whichever runs first. */
	(void)setpgid(pid, pid);
	if (proc_wait_exec(errpipe[0], &f) != 0) {
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
		if (f.stage == PROC_STAGE_CWD)
			xasprintf(cause, "cannot change directory to %s: %s",
			    spec->cwd, strerror(f.error));
		else if (f.stage == PROC_STAGE_EXEC)
			xasprintf(cause, "cannot run %s: %s", spec->argv[0],
			    strerror(f.error));
		else
			xasprintf(cause, "cannot set up %s: %s", spec->argv[0],
			    strerror(f.error));
		goto fail;
	}
	close(errpipe[0]);

	p = xcalloc(1, sizeof *p);
	p->pl = pl;
	p->pid = pid;
	p->name = xstrdup(spec->argv[0]);
	p->cb = cb;
	p->arg = arg;
	p->fd = outpipe[0];
	p->capture = spec->log_path == NULL;
	p->capture_max = spec->capture_max != 0 ? spec->capture_max :
	    PROC_CAPTURE_MAX;
	buf_init(&p->output, 0);
	p->logfd = logfd;
	buf_init(&p->masked, 0);
	if (masking)
		p->mask = mask_create(spec->mask, spec->nmask);
	p->grace_ms = spec->kill_grace_ms != 0 ? spec->kill_grace_ms :
	    PROC_KILL_GRACE;
	p->started = ev_now(loop);
	if (p->fd != -1) {
		util_set_nonblock(p->fd);
		p->io = ev_io_add(loop, p->fd, EV_READ, proc_read, p);
	}
	if (spec->timeout_ms != 0)
		p->timer = ev_timer_add(loop, spec->timeout_ms, proc_timeout,
		    p);
	TAILQ_INSERT_TAIL(&pl->procs, p, entry);
	log_debug("proc: %s [%ld] started", p->name, (long)pid);
	return (p);

fail:
	close(errpipe[0]);
	if (outpipe[0] != -1)
		close(outpipe[0]);
	if (logfd != -1)
		close(logfd);
	return (NULL);
}

/*
 * Cancel: PROC_KILL_TERM asks the group to stop and kills it after the
 * grace, PROC_KILL_NOW kills it at once. The callback still runs, with
 * cancelled set (unless the proc had already timed out).
 */
void
proc_kill(struct proc *p, int how)
{
	if (p == NULL || p->state == PROC_DONE || p->cb == NULL)
		return;
	if (!p->timed_out)
		p->cancelled = 1;
	if (how == PROC_KILL_NOW) {
		if (p->state == PROC_KILLED)
			return;
		ev_timer_del(p->timer);
		p->timer = NULL;
		proc_signal(p, SIGKILL);
		p->state = PROC_KILLED;
		return;
	}
	proc_terminate(p);
}

/*
 * Give up on a proc whose callback has not run: its group is killed, the
 * callback never runs and the pointer is dead on return. proc.c still
 * reaps the leader later. From inside the callback this does nothing, as
 * the proc is freed when the callback returns.
 */
void
proc_free(struct proc *p)
{
	if (p == NULL || p->state == PROC_DONE || p->cb == NULL)
		return;
	p->cb = NULL;
	p->arg = NULL;
	ev_timer_del(p->timer);
	p->timer = NULL;
	proc_close_capture(p);
	proc_log_close(p, 0);
	buf_release(&p->output);
	if (p->state != PROC_KILLED) {
		proc_signal(p, SIGKILL);
		p->state = PROC_KILLED;
	}
}

pid_t
proc_pid(struct proc *p)
{
	return (p->pid);
}

/* Whether the leader is still unreaped: false only inside the callback. */
int
proc_running(struct proc *p)
{
	return (p->state != PROC_DONE);
}
