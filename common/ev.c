/*
 * The event loop: one per process. File descriptors and ZeroMQ sockets are
 * polled together by zmq_poll(); timers are one-shot and kept sorted;
 * signals arrive through a self-pipe and are dispatched like any other
 * event, so no handler runs in signal context.
 *
 * Every turn runs the before-sleep hooks first (where batched work such as
 * group commit and publishing happens), then sleeps until the nearest
 * timer, a descriptor or a hook's own deadline (libmicrohttpd's timeout).
 *
 * All time comes from ev_now() and ev_time(), cached once per turn. In
 * virtual mode (ev_set_virtual) the loop never sleeps: when nothing is
 * ready it jumps the clock to the next timer, so tests and simulations run
 * hours of scheduling in milliseconds.
 */

#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "common.h"

struct ev_io {
	struct ev_loop		*loop;
	int			 fd;
	void			*zsock;
	int			 events;
	ev_io_cb		 cb;
	void			*arg;
	int			 dead;
	TAILQ_ENTRY(ev_io)	 entry;
};

struct ev_timer {
	struct ev_loop		*loop;
	uint64_t		 when;
	ev_timer_cb		 cb;
	void			*arg;
	TAILQ_ENTRY(ev_timer)	 entry;
};

struct ev_hook {
	ev_hook_cb		 cb;
	ev_timeout_cb		 timeout;
	void			*arg;
	TAILQ_ENTRY(ev_hook)	 entry;
};

struct ev_signal {
	int			 signo;
	ev_signal_cb		 cb;
	void			*arg;
	TAILQ_ENTRY(ev_signal)	 entry;
};

struct ev_loop {
	TAILQ_HEAD(, ev_io)	 ios;
	TAILQ_HEAD(, ev_timer)	 timers;
	TAILQ_HEAD(, ev_hook)	 hooks;
	TAILQ_HEAD(, ev_signal)	 signals;
	u_int			 nios;
	int			 stopped;
	int			 dispatching;

	uint64_t		 now;		/* monotonic ms */
	int64_t			 wall;		/* unix ms */
	int			 virtual;
	int64_t			 virtual_wall0;

	int			 sigpipe[2];
	struct ev_io		*sigio;
};

/* One self-pipe per process: signal handlers cannot know the loop. */
static int	ev_sigpipe_fd = -1;

static void
ev_sighandler(int signo)
{
	unsigned char	 c = signo;
	int		 saved = errno;

	if (ev_sigpipe_fd != -1)
		(void)write(ev_sigpipe_fd, &c, 1);
	errno = saved;
}

static void
ev_update_clock(struct ev_loop *loop)
{
	if (loop->virtual) {
		loop->wall = loop->virtual_wall0 + (int64_t)loop->now;
		return;
	}
	loop->now = util_mono_ms();
	loop->wall = util_wall_ms();
}

struct ev_loop *
ev_create(void)
{
	struct ev_loop	*loop;

	loop = xcalloc(1, sizeof *loop);
	TAILQ_INIT(&loop->ios);
	TAILQ_INIT(&loop->timers);
	TAILQ_INIT(&loop->hooks);
	TAILQ_INIT(&loop->signals);
	loop->sigpipe[0] = loop->sigpipe[1] = -1;
	ev_update_clock(loop);
	return (loop);
}

void
ev_free(struct ev_loop *loop)
{
	struct ev_io		*io;
	struct ev_timer		*t;
	struct ev_hook		*h;
	struct ev_signal	*s;

	if (loop == NULL)
		return;
	while ((io = TAILQ_FIRST(&loop->ios)) != NULL) {
		TAILQ_REMOVE(&loop->ios, io, entry);
		free(io);
	}
	while ((t = TAILQ_FIRST(&loop->timers)) != NULL) {
		TAILQ_REMOVE(&loop->timers, t, entry);
		free(t);
	}
	while ((h = TAILQ_FIRST(&loop->hooks)) != NULL) {
		TAILQ_REMOVE(&loop->hooks, h, entry);
		free(h);
	}
	while ((s = TAILQ_FIRST(&loop->signals)) != NULL) {
		TAILQ_REMOVE(&loop->signals, s, entry);
		signal(s->signo, SIG_DFL);
		free(s);
	}
	if (loop->sigpipe[0] != -1) {
		ev_sigpipe_fd = -1;
		close(loop->sigpipe[0]);
		close(loop->sigpipe[1]);
	}
	free(loop);
}

void
ev_stop(struct ev_loop *loop)
{
	loop->stopped = 1;
}

int
ev_stopped(struct ev_loop *loop)
{
	return (loop->stopped);
}

uint64_t
ev_now(struct ev_loop *loop)
{
	return (loop->now);
}

int64_t
ev_time(struct ev_loop *loop)
{
	return (loop->wall);
}

/* Switch to a virtual clock starting at monotonic 0 and wall time wall0. */
void
ev_set_virtual(struct ev_loop *loop, int64_t wall0)
{
	loop->virtual = 1;
	loop->now = 0;
	loop->virtual_wall0 = wall0;
	ev_update_clock(loop);
}

static void
ev_fire_timers(struct ev_loop *loop)
{
	struct ev_timer	*t;
	ev_timer_cb	 cb;
	void		*arg;

	/* A callback may add timers that are already due; they run too. */
	while ((t = TAILQ_FIRST(&loop->timers)) != NULL &&
	    t->when <= loop->now) {
		TAILQ_REMOVE(&loop->timers, t, entry);
		cb = t->cb;
		arg = t->arg;
		free(t);
		cb(loop, arg);
	}
}

/* Move a virtual clock forward by ms, firing every timer due on the way. */
void
ev_advance(struct ev_loop *loop, uint64_t ms)
{
	struct ev_timer	*t;
	uint64_t	 target = loop->now + ms;

	if (!loop->virtual)
		fatalx("ev_advance on a real clock");
	while ((t = TAILQ_FIRST(&loop->timers)) != NULL &&
	    t->when <= target) {
		if (t->when > loop->now)
			loop->now = t->when;
		ev_update_clock(loop);
		ev_fire_timers(loop);
	}
	loop->now = target;
	ev_update_clock(loop);
}

static struct ev_io *
ev_io_new(struct ev_loop *loop, int fd, void *zsock, int events,
    ev_io_cb cb, void *arg)
{
	struct ev_io	*io;

	io = xcalloc(1, sizeof *io);
	io->loop = loop;
	io->fd = fd;
	io->zsock = zsock;
	io->events = events;
	io->cb = cb;
	io->arg = arg;
	TAILQ_INSERT_TAIL(&loop->ios, io, entry);
	loop->nios++;
	return (io);
}

struct ev_io *
ev_io_add(struct ev_loop *loop, int fd, int events, ev_io_cb cb, void *arg)
{
	return (ev_io_new(loop, fd, NULL, events, cb, arg));
}

struct ev_io *
ev_zmq_add(struct ev_loop *loop, void *zsock, int events, ev_io_cb cb,
    void *arg)
{
	return (ev_io_new(loop, -1, zsock, events, cb, arg));
}

void
ev_io_set(struct ev_io *io, int events)
{
	io->events = events;
}

/*
 * Removal during dispatch only marks the entry: the dispatch loop is
 * walking the list and frees dead entries when it is done.
 */
void
ev_io_del(struct ev_io *io)
{
	struct ev_loop	*loop;

	if (io == NULL)
		return;
	loop = io->loop;
	if (loop->dispatching) {
		io->dead = 1;
		return;
	}
	TAILQ_REMOVE(&loop->ios, io, entry);
	loop->nios--;
	free(io);
}

struct ev_timer *
ev_timer_add(struct ev_loop *loop, uint64_t ms, ev_timer_cb cb, void *arg)
{
	struct ev_timer	*t, *next;

	t = xcalloc(1, sizeof *t);
	t->loop = loop;
	t->when = loop->now + ms;
	t->cb = cb;
	t->arg = arg;
	/* Equal deadlines fire in the order they were added. */
	TAILQ_FOREACH(next, &loop->timers, entry) {
		if (next->when > t->when)
			break;
	}
	if (next != NULL)
		TAILQ_INSERT_BEFORE(next, t, entry);
	else
		TAILQ_INSERT_TAIL(&loop->timers, t, entry);
	return (t);
}

/* Cancel a pending timer. A timer that has fired is already freed. */
void
ev_timer_del(struct ev_timer *t)
{
	if (t == NULL)
		return;
	TAILQ_REMOVE(&t->loop->timers, t, entry);
	free(t);
}

static void
ev_signal_read(struct ev_loop *loop, int fd, void *arg)
{
	unsigned char		 c[64];
	ssize_t			 n, i;
	struct ev_signal	*s;

	while ((n = read(fd, c, sizeof c)) > 0) {
		for (i = 0; i < n; i++) {
			TAILQ_FOREACH(s, &loop->signals, entry) {
				if (s->signo == c[i])
					s->cb(loop, c[i], s->arg);
			}
		}
	}
}

int
ev_signal_add(struct ev_loop *loop, int signo, ev_signal_cb cb, void *arg)
{
	struct ev_signal	*s;
	struct sigaction	 sa;

	if (loop->sigpipe[0] == -1) {
		if (pipe(loop->sigpipe) != 0)
			return (-1);
		util_set_nonblock(loop->sigpipe[0]);
		util_set_nonblock(loop->sigpipe[1]);
		util_set_cloexec(loop->sigpipe[0]);
		util_set_cloexec(loop->sigpipe[1]);
		ev_sigpipe_fd = loop->sigpipe[1];
		loop->sigio = ev_io_add(loop, loop->sigpipe[0], EV_READ,
		    ev_signal_read, NULL);
	}
	s = xcalloc(1, sizeof *s);
	s->signo = signo;
	s->cb = cb;
	s->arg = arg;
	TAILQ_INSERT_TAIL(&loop->signals, s, entry);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = ev_sighandler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return (sigaction(signo, &sa, NULL));
}

void
ev_before_sleep(struct ev_loop *loop, ev_hook_cb cb, void *arg)
{
	struct ev_hook	*h;

	h = xcalloc(1, sizeof *h);
	h->cb = cb;
	h->arg = arg;
	TAILQ_INSERT_TAIL(&loop->hooks, h, entry);
}

/*
 * A timeout hook returns how long the loop may sleep at most for its
 * owner (-1 for no limit): libmicrohttpd keeps deadlines of its own.
 */
void
ev_timeout_hook(struct ev_loop *loop, ev_timeout_cb cb, void *arg)
{
	struct ev_hook	*h;

	h = xcalloc(1, sizeof *h);
	h->timeout = cb;
	h->arg = arg;
	TAILQ_INSERT_TAIL(&loop->hooks, h, entry);
}

static long
ev_sleep_time(struct ev_loop *loop)
{
	struct ev_timer	*t;
	struct ev_hook	*h;
	long		 ms = -1;
	int		 hms;

	if ((t = TAILQ_FIRST(&loop->timers)) != NULL)
		ms = t->when <= loop->now ? 0 : (long)(t->when - loop->now);
	TAILQ_FOREACH(h, &loop->hooks, entry) {
		if (h->timeout == NULL)
			continue;
		hms = h->timeout(loop, h->arg);
		if (hms >= 0 && (ms == -1 || hms < ms))
			ms = hms;
	}
	return (ms);
}

/*
 * One turn of the loop. With block set it may sleep; returns the number
 * of descriptors that were ready, or -1 on a poll error.
 */
int
ev_run_once(struct ev_loop *loop, int block)
{
	struct ev_hook	*h;
	struct ev_io	*io, *io1;
	zmq_pollitem_t	*items;
	struct ev_io   **map;
	struct ev_timer	*t;
	long		 timeout;
	u_int		 n, i;
	int		 rc;

	TAILQ_FOREACH(h, &loop->hooks, entry) {
		if (h->cb != NULL)
			h->cb(loop, h->arg);
	}
	if (loop->stopped)
		return (0);

	timeout = block && !loop->virtual ? ev_sleep_time(loop) : 0;

	n = 0;
	items = xcalloc(loop->nios + 1, sizeof *items);
	map = xcalloc(loop->nios + 1, sizeof *map);
	TAILQ_FOREACH(io, &loop->ios, entry) {
		if (io->events == 0)
			continue;
		items[n].socket = io->zsock;
		items[n].fd = io->fd;
		items[n].events = ((io->events & EV_READ) ? ZMQ_POLLIN : 0) |
		    ((io->events & EV_WRITE) ? ZMQ_POLLOUT : 0);
		map[n++] = io;
	}
	rc = zmq_poll(items, n, timeout);
	if (rc == -1 && errno != EINTR) {
		log_error("zmq_poll: %s", zmq_strerror(errno));
		free(items);
		free(map);
		return (-1);
	}
	ev_update_clock(loop);

	loop->dispatching = 1;
	for (i = 0; rc > 0 && i < n; i++) {
		io = map[i];
		if (io->dead || items[i].revents == 0)
			continue;
		io->cb(loop, io->fd, io->arg);
	}
	loop->dispatching = 0;
	for (io = TAILQ_FIRST(&loop->ios); io != NULL; io = io1) {
		io1 = TAILQ_NEXT(io, entry);
		if (io->dead) {
			TAILQ_REMOVE(&loop->ios, io, entry);
			loop->nios--;
			free(io);
		}
	}
	free(items);
	free(map);

	if (loop->virtual && rc <= 0 &&
	    (t = TAILQ_FIRST(&loop->timers)) != NULL && t->when > loop->now) {
		loop->now = t->when;
		ev_update_clock(loop);
	}
	ev_fire_timers(loop);
	return (rc < 0 ? 0 : rc);
}

int
ev_run(struct ev_loop *loop)
{
	while (!loop->stopped) {
		if (ev_run_once(loop, 1) == -1)
			return (-1);
	}
	return (0);
}
