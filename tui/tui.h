/*
 * beekeeper's one internal header: the command table and the prototypes
 * of the console's files, grouped by file.
 */

#ifndef TUI_H
#define TUI_H

#include <jansson.h>

#include "common.h"

struct cmd_entry {
	const char	*name;
	const char	*usage;		/* the arguments, for usage() */
	const char	*help;		/* one line, for usage() and help */
	int		 (*exec)(int, char **);
};

/*
 * Exit statuses of the commands that talk to the daemon: 1 is also a
 * usage error, as for every command.
 */
#define EXIT_REFUSED		1	/* the daemon said no, and why */
#define EXIT_UNREACHABLE	2	/* no answer, or not a reply */

/* main.c */
extern int		 json_output;
extern const char	*control_endpoint;
extern const char	*control_key_file;
extern const char	*server_key_file;

/* cmds.c */
extern const struct cmd_entry	cmd_table[];
const struct cmd_entry *cmd_find(const char *);
int		 cmd_usage(const char *);
int		 cmd_options(int, char **);
int		 cmd_plan(int, char **);
int		 cmd_keygen(int, char **);

/* run.c */
int		 cmd_run(int, char **);

/* reap.c */
int		 cmd_reap(int, char **);

/* client.c */
#define CLIENT_TIMEOUT_MS	5000
const char	*client_endpoint(void);
void		*client_context(void);
int		 client_secure(void *);
int		 client_request(json_t *, int, json_t **);
json_t		*client_number(const char *);
void		 client_print_json(const json_t *, int);
void		 client_close(void);

/* table.c */
struct table;
struct table	*table_create(size_t);
void		 table_row(struct table *);
void		 table_cell(struct table *, const char *, ...)
		    printflike(2, 3);
void		 table_value(struct table *, const json_t *, const char *);
void		 table_print(const struct table *, FILE *);
void		 table_free(struct table *);
const char	*json_text(const json_t *, const char *);
json_int_t	 json_number(const json_t *, const char *, json_int_t);
char		*fmt_value(const json_t *);
char		*fmt_time(const json_t *);
char		*fmt_duration(const json_t *, const char *, const char *);
char		*fmt_ref(const json_t *, const char *);

/* query.c */
int		 cmd_status(int, char **);
int		 cmd_builds(int, char **);
int		 cmd_build(int, char **);
int		 cmd_pools(int, char **);
int		 cmd_instances(int, char **);
int		 cmd_projects(int, char **);
int		 cmd_audit(int, char **);

/* act.c */
int		 cmd_cap(int, char **);
int		 cmd_uncap(int, char **);
int		 cmd_cancel(int, char **);
int		 cmd_retry(int, char **);

/* vars.c */
int		 cmd_vars(int, char **);
int		 cmd_set_var(int, char **);
int		 cmd_unset_var(int, char **);
int		 cmd_set_secret(int, char **);
int		 cmd_unset_secret(int, char **);

int		 cmd_approve(int, char **);
int		 cmd_reject(int, char **);
int		 cmd_drain(int, char **);
int		 cmd_undrain(int, char **);
int		 cmd_drain_pool(int, char **);
int		 act_request(json_t *, char *);
char		*act_describe(const json_t *);
char		*act_outcome(const json_t *);

/* follow.c */
int		 cmd_log(int, char **);
int		 cmd_watch(int, char **);

/* client.c, for the console */
int		 client_key_ready(void);
int		 client_has_key(void);
int		 client_has_pair(void);
int		 client_send(void *, json_t *, int);

/* model.c */
enum model_coll {
	MODEL_BUILDS,
	MODEL_TASKS,
	MODEL_POOLS,
	MODEL_INSTANCES,
	MODEL_PROJECTS,
	MODEL_GITHUB,
	MODEL_NCOLL
};
enum model_result {
	MODEL_APPLIED,		/* the state changed */
	MODEL_OLD,		/* already in the state: ignored */
	MODEL_HELD,		/* kept until the snapshot comes */
	MODEL_GAP,		/* messages were missed: resync */
	MODEL_RESTART,		/* the daemon started again: resync */
	MODEL_BAD		/* not a message of the protocol */
};
#define MODEL_EVENTS_MAX	1000
#define MODEL_HELD_MAX		10000
struct model {
	json_t		*coll[MODEL_NCOLL];	/* key -> object */
	json_t		*events;	/* recent messages, oldest first */
	json_t		*held;		/* [topic, msg] until synced */
	json_int_t	 seq;		/* last applied */
	json_int_t	 start;		/* the daemon's run */
	int		 synced;
	int64_t		 last_time;	/* of the last message applied */
	u_int		 version;	/* bumped on every change */
};
struct model	*model_create(void);
void		 model_free(struct model *);
void		 model_unsync(struct model *);
enum model_result model_snapshot(struct model *, const json_t *);
enum model_result model_apply(struct model *, const char *, const json_t *);
enum model_result model_heartbeat(struct model *, const json_t *);
void		 model_audit(struct model *, const json_t *);
size_t		 model_list(const struct model *, enum model_coll, json_t ***);
json_t		*model_get(const struct model *, enum model_coll, const char *);
char		*model_key(const json_t *);

/* net.c */
enum net_state {
	NET_CONNECTING,
	NET_SYNCING,
	NET_SYNCED,
	NET_DISCONNECTED
};
#define NET_SILENT_MS		3000	/* no heartbeat: disconnected */
#define NET_RETRY_MS		1000	/* hello again while disconnected */
struct net;
/* The reply (NULL on failure, with why), borrowed. */
typedef void	(*net_reply_cb)(json_t *, const char *, void *);
typedef void	(*net_change_cb)(void *);
struct net	*net_create(struct ev_loop *, struct model *, net_change_cb,
		    void *);
void		 net_free(struct net *);
void		 net_request(struct net *, json_t *, int, net_reply_cb,
		    void *);
enum net_state	 net_state(const struct net *);
const char	*net_state_text(const struct net *);
const char	*net_role(const struct net *);
int		 net_protocol(const struct net *);
u_int		 net_resyncs(const struct net *);

/*
 * The console. Views are pure formatters: they turn the model into rows
 * of text with a colour role, and screen.c alone talks to ncurses.
 */
enum view_id {
	VIEW_BUILDS,
	VIEW_BUILD,
	VIEW_POOLS,
	VIEW_INSTANCES,
	VIEW_PROJECTS,
	VIEW_EVENTS,
	VIEW_HELP,
	VIEW_COUNT
};
#define VIEW_BIT(v)	(1U << (v))
#define VIEW_LISTS	(VIEW_BIT(VIEW_BUILDS) | VIEW_BIT(VIEW_POOLS) | \
			 VIEW_BIT(VIEW_INSTANCES) | VIEW_BIT(VIEW_PROJECTS) | \
			 VIEW_BIT(VIEW_EVENTS))
#define VIEW_ALL	((1U << VIEW_COUNT) - 1)

/* Colour roles: screen.c maps them to colours or monochrome attributes. */
enum role {
	ROLE_NORMAL,
	ROLE_HEADER,
	ROLE_TITLE,
	ROLE_COLUMNS,
	ROLE_OK,
	ROLE_FAILED,
	ROLE_RUNNING,
	ROLE_QUEUED,
	ROLE_MUTED,
	ROLE_SELECTED,
	ROLE_TAGGED,
	ROLE_FKEY,
	ROLE_FKEY_LABEL,
	ROLE_MESSAGE,
	ROLE_ERROR,
	ROLE_DISCONNECTED,
	ROLE_COUNT
};

struct row {
	char		*key;		/* what an action acts on; NULL: none */
	char		*text;
	enum role	 role;
};
struct rows {
	char		*columns;	/* the column header line */
	struct row	*v;
	size_t		 n;
	size_t		 size;
};

struct viewstate {
	char		*selkey;	/* the selected row's key */
	size_t		 sel;
	size_t		 top;
	char		*filter;
	json_t		*tags;		/* key -> true */
};

enum prompt_mode {
	PROMPT_NONE,
	PROMPT_COMMAND,		/* ":" */
	PROMPT_FILTER,		/* "/" */
	PROMPT_NUMBER,		/* cap's N */
	PROMPT_CONFIRM		/* y/n */
};

struct console {
	struct ev_loop	*loop;
	struct model	*model;
	struct net	*net;
	enum view_id	 view;
	enum view_id	 back[8];
	size_t		 nback;
	struct viewstate vs[VIEW_COUNT];
	int		 sort;		/* builds: newest, state, project */

	json_int_t	 build;		/* the build view's build */
	char		*task;		/* its selected task's slug */
	struct buf	 log;
	json_int_t	 log_next;
	int		 log_finished;
	int		 log_busy;	/* a log request is out */
	u_int		 log_gen;
	struct ev_timer	*log_timer;

	enum prompt_mode prompt;
	struct buf	 input;
	char		*ask;		/* the question asked */
	json_t		*pending;	/* requests awaiting y or a number */
	char		*message;
	int		 message_error;

	struct rows	 rows;		/* as last drawn */
	int		 dirty;
	int		 clear;		/* Ctrl-L */
	int		 quit;
	uint64_t	 drawn_at;
	struct ev_timer	*draw_timer;
	int		 utf8;
};

/* console.c */
int		 cmd_console(int, char **);
void		 console_dirty(struct console *);
void		 console_rows(struct console *);
void		 console_message(struct console *, int, const char *, ...)
		    printflike(3, 4);
void		 console_view(struct console *, enum view_id);
void		 console_back(struct console *);
void		 console_send(struct console *, json_t *, const char *);
int		 console_admin(struct console *, const char *);
const char	*console_selected(struct console *);
void		 console_open_build(struct console *, json_int_t);
void		 console_select_task(struct console *, const char *);
const char	*view_name(enum view_id);

/* list.c */
void		 rows_reset(struct rows *);
void		 rows_add(struct rows *, const char *, enum role, const char *,
		    ...) printflike(4, 5);
void		 rows_columns(struct rows *, const char *, ...)
		    printflike(2, 3);
enum role	 role_of_state(const char *);
char		*fmt_age(json_int_t, int64_t);
void		 list_move(struct console *, long);

/* view-*.c */
void		 view_builds_rows(struct console *, struct rows *, int);
void		 view_build_rows(struct console *, struct rows *, int);
void		 view_pools_rows(struct console *, struct rows *, int);
void		 view_instances_rows(struct console *, struct rows *, int);
void		 view_projects_rows(struct console *, struct rows *, int);
void		 view_events_rows(struct console *, struct rows *, int);
const char	*view_build_log(struct console *);
const char	*view_builds_sort_name(int);
int		 view_builds_sorts(void);
char		*fmt_money(const json_t *, const char *);

/* keys.c */
struct key_entry {
	int		 key;		/* a curses key code */
	int		 alias;		/* a letter, or 0 */
	const char	*name;		/* for the F-key bar and help */
	const char	*help;
	u_int		 views;		/* VIEW_BIT()s */
	int		 admin;		/* an action: a viewer may not */
	void		 (*fn)(struct console *);
};
extern const struct key_entry	key_table[];
extern const size_t		key_count;
const struct key_entry *keys_find(enum view_id, int);
void		 keys_dispatch(struct console *, int);
char		*keys_label(const struct key_entry *);
void		 keys_help_rows(struct console *, struct rows *, int);

/* prompt.c */
struct pcmd_entry {
	const char	*name;
	int		 min, max;	/* arguments */
	const char	*usage;
	const char	*help;
	int		 confirm;	/* destructive: ask y/n */
	int		 view;		/* -1, or the view it opens */
	const char	*what[2];	/* the arguments' protocol names */
	int		 number[2];	/* sent as a number */
};
extern const struct pcmd_entry	pcmd_table[];
struct pcmd {
	const struct pcmd_entry	*ce;
	int			 argc;
	char			*argv[2];
};
int		 prompt_parse(const char *, struct pcmd *, char **);
void		 prompt_release(struct pcmd *);
json_t		*prompt_request(const struct pcmd *);
char		*prompt_describe(const json_t *);
void		 prompt_open(struct console *, enum prompt_mode, const char *);
void		 prompt_confirm(struct console *, json_t *, const char *);
void		 prompt_key(struct console *, int);
void		 prompt_run(struct console *, const char *);

/* screen.c */
int		 screen_init(struct console *);
void		 screen_end(void);
void		 screen_draw(struct console *);
void		 screen_resize(struct console *);
int		 screen_getkey(void);

#endif /* TUI_H */
