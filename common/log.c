/*
 * Logging: one line per event, to stderr while in the foreground and to
 * syslog once detached. The level decides what is written; -v raises it.
 * Callers never pass secrets or request bodies here.
 */

#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "common.h"

static int	 log_foreground = 1;
static int	 log_level = LOG_LEVEL_INFO;
static const char *log_name = "beekeeper";

static const struct {
	const char	*name;
	int		 priority;
} log_levels[] = {
	[LOG_LEVEL_ERROR] = { "error", LOG_ERR },
	[LOG_LEVEL_WARN] = { "warn", LOG_WARNING },
	[LOG_LEVEL_INFO] = { "info", LOG_INFO },
	[LOG_LEVEL_DEBUG] = { "debug", LOG_DEBUG },
	[LOG_LEVEL_TRACE] = { "trace", LOG_DEBUG },
};

void
log_init(const char *name, int foreground, int level)
{
	log_name = name;
	log_foreground = foreground;
	log_set_level(level);
	if (!foreground)
		openlog(name, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_level(int level)
{
	if (level < LOG_LEVEL_ERROR)
		level = LOG_LEVEL_ERROR;
	if (level > LOG_LEVEL_TRACE)
		level = LOG_LEVEL_TRACE;
	log_level = level;
}

int
log_get_level(void)
{
	return (log_level);
}

static void
log_vwrite(int level, const char *fmt, va_list ap, const char *suffix)
{
	char		 msg[2048], stamp[32];
	struct timespec	 ts;
	struct tm	 tm;
	int		 saved = errno;

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (!log_foreground) {
		syslog(log_levels[level].priority, "%s%s%s", msg,
		    suffix != NULL ? ": " : "", suffix != NULL ? suffix : "");
		errno = saved;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s %s: %s%s%s\n", stamp,
	    ts.tv_nsec / 1000000, log_name, log_levels[level].name, msg,
	    suffix != NULL ? ": " : "", suffix != NULL ? suffix : "");
	fflush(stderr);
	errno = saved;
}

#define LOG_FUNC(fn, level)					\
void								\
fn(const char *fmt, ...)					\
{								\
	va_list	 ap;						\
								\
	va_start(ap, fmt);					\
	log_vwrite(level, fmt, ap, NULL);			\
	va_end(ap);						\
}
LOG_FUNC(log_error, LOG_LEVEL_ERROR)
LOG_FUNC(log_warn, LOG_LEVEL_WARN)
LOG_FUNC(log_info, LOG_LEVEL_INFO)
LOG_FUNC(log_debug, LOG_LEVEL_DEBUG)
LOG_FUNC(log_trace, LOG_LEVEL_TRACE)

/* fatal adds strerror(errno); fatalx is for states that have no errno. */
void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	char	 err[256];

	strerror_r(errno, err, sizeof err);
	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, fmt, ap, err);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
