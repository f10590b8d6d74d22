/*
 * beekeeper's one internal header: the command table and the prototypes
 * of the console's files, grouped by file.
 */

#ifndef TUI_H
#define TUI_H

#include "common.h"

struct cmd_entry {
	const char	*name;
	const char	*usage;		/* the arguments, for usage() */
	const char	*help;		/* one line, for usage() and help */
	int		 (*exec)(int, char **);
};

/* main.c */
extern int	 json_output;

/* cmds.c */
extern const struct cmd_entry	cmd_table[];
const struct cmd_entry *cmd_find(const char *);
int		 cmd_plan(int, char **);

/* run.c */
int		 cmd_run(int, char **);

#endif /* TUI_H */
