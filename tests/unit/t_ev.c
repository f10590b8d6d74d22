/*
 * The event loop: timers on a virtual clock, descriptors, signals as
 * events, before-sleep hooks and timeout hooks.
 */

#include "config.h"

#include <signal.h>
#include <unistd.h>

#include "common.h"
#include "tap.h"

static char	 order[64];
static size_t	 norder;
static uint64_t	 fired_at[8];

struct mark {
	char		 c;
	int		 slot;
};

static void
timer_mark(struct ev_loop *loop, void *arg)
{
	struct mark	*m = arg;

	order[norder++] = m->c;
	fired_at[m->slot] = ev_now(loop);
}

static void
timer_rearm(struct ev_loop *loop, void *arg)
{
	int	*n = arg;

	if (++*n < 5)
		ev_timer_add(loop, 1000, timer_rearm, n);
}

static int	 got_read;
static void
pipe_read(struct ev_loop *loop, int fd, void *arg)
{
	char	 c;

	if (read(fd, &c, 1) == 1)
		got_read = c;
}

static int	 got_signal;
static void
on_signal(struct ev_loop *loop, int signo, void *arg)
{
	got_signal = signo;
	ev_stop(loop);
}

static int	 hook_calls;
static void
hook(struct ev_loop *loop, void *arg)
{
	hook_calls++;
}

static int
timeout_hook(struct ev_loop *loop, void *arg)
{
	return (*(int *)arg);
}

int
main(void)
{
	struct ev_loop	*loop;
	struct ev_timer	*t;
	struct mark	 a = { 'a', 0 }, b = { 'b', 1 }, c = { 'c', 2 },
			 d = { 'd', 3 };
	int		 fds[2], n = 0, tmo = 20;
	uint64_t	 t0;

	/* Virtual clock: time only moves when the test or the loop says. */
	loop = ev_create();
	ev_set_virtual(loop, 1700000000000LL);
	is_int(ev_now(loop), 0, "virtual clock starts at 0");
	is_int(ev_time(loop), 1700000000000LL, "virtual wall time as given");
	ev_timer_add(loop, 3000, timer_mark, &c);
	ev_timer_add(loop, 1000, timer_mark, &a);
	t = ev_timer_add(loop, 2000, timer_mark, &d);
	ev_timer_add(loop, 1000, timer_mark, &b);
	ev_timer_del(t);
	ev_advance(loop, 999);
	is_int(norder, 0, "nothing fires before its time");
	ev_advance(loop, 1);
	order[norder] = '\0';
	is_str(order, "ab", "equal deadlines fire in the order added");
	is_int(fired_at[0], 1000, "timer a fired at t=1000");
	ev_advance(loop, 5000);
	order[norder] = '\0';
	is_str(order, "abc", "a cancelled timer never fires");
	is_int(fired_at[2], 3000, "timer c saw its own deadline as now");
	is_int(ev_now(loop), 6000, "clock ends where advanced to");
	is_int(ev_time(loop), 1700000006000LL, "wall time moved with it");

	/* A virtual loop never sleeps: it jumps to the next timer. */
	ev_timer_add(loop, 1000, timer_rearm, &n);
	while (n < 5)
		ev_run_once(loop, 1);
	is_int(n, 5, "a re-arming timer ran five times");
	is_int(ev_now(loop), 11000, "the loop jumped 5 s without sleeping");
	ev_free(loop);

	/* Real clock: descriptors, hooks, signals. */
	loop = ev_create();
	if (pipe(fds) != 0)
		return (1);
	ev_io_add(loop, fds[0], EV_READ, pipe_read, NULL);
	ev_before_sleep(loop, hook, NULL);
	ev_timeout_hook(loop, timeout_hook, &tmo);
	if (write(fds[1], "z", 1) != 1)
		return (1);
	ev_run_once(loop, 1);
	is_int(got_read, 'z', "a readable pipe calls its callback");
	ok(hook_calls == 1, "the before-sleep hook ran once per turn");
	t0 = util_mono_ms();
	ev_run_once(loop, 1);
	ok(util_mono_ms() - t0 < 1000,
	    "a timeout hook bounds how long the loop sleeps");

	ev_signal_add(loop, SIGUSR1, on_signal, NULL);
	raise(SIGUSR1);
	ev_timer_add(loop, 5000, timer_mark, &a);
	ev_run(loop);
	is_int(got_signal, SIGUSR1, "a signal arrives as an event");
	ok(ev_stopped(loop), "ev_stop from a callback ends ev_run");
	ev_free(loop);
	close(fds[0]);
	close(fds[1]);
	return (done_testing());
}
