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
int		 cmd_approve(int, char **);
int		 cmd_reject(int, char **);
int		 cmd_drain(int, char **);
int		 cmd_undrain(int, char **);
int		 cmd_drain_pool(int, char **);
char		*act_describe(const json_t *);
char		*act_outcome(const json_t *);

/* follow.c */
int		 cmd_log(int, char **);
int		 cmd_watch(int, char **);

#endif /* TUI_H */
