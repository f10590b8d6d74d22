/*
 * Prototypes of common/: the pieces linked into every BeeKeeper program.
 * Nothing here knows about webhooks, builds or the console.
 */

#ifndef COMMON_H
#define COMMON_H

#include <sys/types.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifndef __dead
#define __dead __attribute__((__noreturn__))
#endif
#define printflike(a, b) __attribute__((__format__(__printf__, a, b)))

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* log.c */
enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_TRACE
};
void		 log_init(const char *, int, int);
void		 log_set_level(int);
int		 log_get_level(void);
void		 log_error(const char *, ...) printflike(1, 2);
void		 log_warn(const char *, ...) printflike(1, 2);
void		 log_info(const char *, ...) printflike(1, 2);
void		 log_debug(const char *, ...) printflike(1, 2);
void		 log_trace(const char *, ...) printflike(1, 2);
__dead void	 fatal(const char *, ...) printflike(1, 2);
__dead void	 fatalx(const char *, ...) printflike(1, 2);

/* xmalloc.c */
void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
void		*xrealloc(void *, size_t);
void		*xreallocarray(void *, size_t, size_t);
char		*xstrdup(const char *);
char		*xstrndup(const char *, size_t);
int		 xasprintf(char **, const char *, ...) printflike(2, 3);
int		 xvasprintf(char **, const char *, va_list);
void		 freezero(void *, size_t);
void		 freezero_str(char *);

/* buf.c */
struct buf {
	char	*data;		/* always NUL-terminated after len bytes */
	size_t	 len;
	size_t	 size;		/* allocated */
	size_t	 max;		/* 0: no cap */
};
void		 buf_init(struct buf *, size_t);
void		 buf_release(struct buf *);
void		 buf_reset(struct buf *);
int		 buf_add(struct buf *, const void *, size_t);
int		 buf_addstr(struct buf *, const char *);
int		 buf_printf(struct buf *, const char *, ...) printflike(2, 3);
char		*buf_detach(struct buf *, size_t *);

/* ev.c */
struct ev_loop;
struct ev_timer;
struct ev_io;

#define EV_READ		0x1
#define EV_WRITE	0x2

typedef void	(*ev_io_cb)(struct ev_loop *, int, void *);
typedef void	(*ev_timer_cb)(struct ev_loop *, void *);
typedef void	(*ev_signal_cb)(struct ev_loop *, int, void *);
typedef void	(*ev_hook_cb)(struct ev_loop *, void *);
typedef int	(*ev_timeout_cb)(struct ev_loop *, void *);

struct ev_loop	*ev_create(void);
void		 ev_free(struct ev_loop *);
int		 ev_run(struct ev_loop *);
void		 ev_stop(struct ev_loop *);
int		 ev_stopped(struct ev_loop *);
uint64_t	 ev_now(struct ev_loop *);
int64_t		 ev_time(struct ev_loop *);
void		 ev_set_virtual(struct ev_loop *, int64_t);
void		 ev_advance(struct ev_loop *, uint64_t);
int		 ev_run_once(struct ev_loop *, int);
struct ev_io	*ev_io_add(struct ev_loop *, int, int, ev_io_cb, void *);
struct ev_io	*ev_zmq_add(struct ev_loop *, void *, int, ev_io_cb, void *);
void		 ev_io_set(struct ev_io *, int);
void		 ev_io_del(struct ev_io *);
struct ev_timer	*ev_timer_add(struct ev_loop *, uint64_t, ev_timer_cb, void *);
void		 ev_timer_del(struct ev_timer *);
int		 ev_signal_add(struct ev_loop *, int, ev_signal_cb, void *);
void		 ev_before_sleep(struct ev_loop *, ev_hook_cb, void *);
void		 ev_timeout_hook(struct ev_loop *, ev_timeout_cb, void *);

/* proc.c */
#define PROC_CAPTURE_MAX	(1024 * 1024)	/* default capture_max */
#define PROC_KILL_GRACE		5000		/* default kill_grace_ms */
#define PROC_KILL_TERM		0	/* SIGTERM, SIGKILL after the grace */
#define PROC_KILL_NOW		1	/* SIGKILL at once */
struct proc;
struct proc_spec {
	char *const	*argv;		/* argv[0] looked up in envp's PATH */
	char *const	*envp;		/* the whole environment; NULL: empty */
	const char	*cwd;		/* NULL: the caller's */
	const char	*log_path;	/* append output here; NULL: capture */
	size_t		 capture_max;	/* 0: PROC_CAPTURE_MAX */
	uint64_t	 timeout_ms;	/* 0: none */
	uint64_t	 kill_grace_ms;	/* 0: PROC_KILL_GRACE */
	int		 die_with_parent; /* SIGKILL if the daemon dies */
	const char *const *mask;	/* secrets kept out of log_path */
	size_t		 nmask;		/* 0: the child writes the log */
};
struct proc_result {
	pid_t		 pid;
	int		 exited;	/* exited normally with status */
	int		 status;
	int		 signo;		/* or killed by this signal */
	int		 timed_out;
	int		 cancelled;	/* by proc_kill */
	struct buf	*output;	/* captured; NULL with log_path */
	int		 truncated;	/* output passed capture_max */
	uint64_t	 elapsed_ms;	/* by ev_now */
};
/* The proc is freed when this returns. */
typedef void	(*proc_exit_cb)(struct proc *, const struct proc_result *,
		    void *);
struct proc	*proc_spawn(struct ev_loop *, const struct proc_spec *,
		    proc_exit_cb, void *, char **);
void		 proc_kill(struct proc *, int);
void		 proc_free(struct proc *);
pid_t		 proc_pid(struct proc *);
int		 proc_running(struct proc *);

/* mask.c */
struct mask;
struct mask	*mask_create(const char *const *, size_t);
void		 mask_free(struct mask *);
size_t		 mask_holdback(const struct mask *);
int		 mask_feed(struct mask *, const void *, size_t, struct buf *);
int		 mask_flush(struct mask *, struct buf *);

/* pipeline.c */
enum pipeline_event {
	PIPELINE_PUSH,
	PIPELINE_PULL_REQUEST,
	PIPELINE_TAG
};
struct pipeline_env {
	char		*name;
	char		*value;
};
struct pipeline_task {
	char		*slug;		/* "phase" or "phase:subtask" */
	char		*phase;		/* the phase's key */
	char		*name;		/* display name: name: or the key */
	char		*image;		/* NULL if none */
	char		*run;		/* NULL if none */
	char		*profile;	/* "default" unless set */
	int		 critical;
	uint64_t	 timeout_ms;	/* 0: the profile's default */
	struct pipeline_env *env;	/* phase's, then subtask's, in file order */
	size_t		 nenv;
	u_int		 line;		/* where the task is defined, 1-based */
	u_int		 column;
};
struct pipeline_phase {
	char		*name;		/* the phase's key */
	struct pipeline_task *tasks;
	size_t		 ntasks;
};
struct pipeline {
	struct pipeline_phase *phases;
	size_t		 nphases;
};
struct pipeline	*pipeline_parse(const char *, const char *, size_t,
		    enum pipeline_event, char **);
void		 pipeline_free(struct pipeline *);
int		 pipeline_event_parse(const char *, enum pipeline_event *);
const char	*pipeline_event_name(enum pipeline_event);
void		 pipeline_print(const struct pipeline *, FILE *);

/* sandbox.c */
struct sandbox_spec {
	const char	 *workspace;	/* absolute; writable; cwd and HOME */
	const char	**hide;		/* absolute paths made invisible */
	size_t		  nhide;
	const char	 *run;		/* the shell command: /bin/sh -c RUN */
	const char	 *image;	/* used only when run is NULL */
	const char	**env;		/* names passed into a container */
	size_t		  nenv;
	int		  bwrap;	/* wrap in bubblewrap */
};
int		 sandbox_bwrap_works(void);
const char	*sandbox_container_runtime(void);
char		**sandbox_argv(const struct sandbox_spec *, char **);
void		 sandbox_argv_free(char **);

/* curvekey.c */
#define CURVEKEY_Z85	40	/* a key in Z85: 32 bytes as 40 characters */
struct curvekey {
	char	 public[CURVEKEY_Z85 + 1];
	char	 secret[CURVEKEY_Z85 + 1];
	char	 server[CURVEKEY_Z85 + 1];
};
int		 curvekey_valid(const char *, size_t);
int		 curvekey_parse(const char *, const char *, int,
		    struct curvekey *, char **);
int		 curvekey_read(const char *, int, struct curvekey *, char **);
int		 curvekey_is_pair(const char *);
void		 curvekey_clear(struct curvekey *);
int		 curvekey_generate(const char *, int, struct curvekey *,
		    char **);

/* util.c */
int		 util_parse_size(const char *, uint64_t, uint64_t *,
		    const char **);
int		 util_parse_duration(const char *, uint64_t *, const char **);
int		 util_parse_bool(const char *, int *);
int		 util_hex_encode(const unsigned char *, size_t, char *, size_t);
int		 util_hex_decode(const char *, unsigned char *, size_t);
char		*util_read_file(const char *, size_t, size_t *, char **);
int		 util_set_cloexec(int);
int		 util_set_nonblock(int);
uint64_t	 util_mono_ms(void);
int64_t		 util_wall_ms(void);
uint64_t	 util_backoff(uint64_t, uint64_t, u_int);
size_t		 util_strlcpy(char *, const char *, size_t);

#endif /* COMMON_H */
