/*
 * beekeeper: the operator's tool. Without a command, on a terminal, it
 * opens the console (console.c). With a command it acts once and exits;
 * the commands live in cmds.c, one table entry each, and the table also
 * writes usage(). Global options come before the command, the command's
 * own options after it; -j is also taken after it, by every command that
 * prints something.
 */

#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui.h"

int		 json_output;
const char	*control_endpoint;	/* -c; NULL: the environment's */
const char	*control_key_file;	/* -k; NULL: the environment's */
const char	*server_key_file;	/* -s; NULL: the environment's */

static __dead void
usage(void)
{
	const struct cmd_entry	*ce;

	fprintf(stderr, "usage: beekeeper [-j] [-c endpoint] [-k keyfile] "
	    "[-s serverkey] [command [argument ...]]\n");
	fprintf(stderr, "commands:\n");
	for (ce = cmd_table; ce->name != NULL; ce++)
		fprintf(stderr, "  %s %s\n      %s\n", ce->name, ce->usage,
		    ce->help);
	exit(1);
}

int
main(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "server-key", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct cmd_entry		*ce;
	int				 ch, rc;

	log_init("beekeeper", 1, LOG_LEVEL_WARN);
	/* "+": stop at the command, whose options are its own. */
	while ((ch = getopt_long(argc, argv, "+c:hjk:s:", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c':
			control_endpoint = optarg;
			break;
		case 'j':
			json_output = 1;
			break;
		case 'k':
			control_key_file = optarg;
			break;
		case 's':
			server_key_file = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	/* No command: the console on a terminal, else how to use it. */
	if (argc == 0 && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
		rc = cmd_console(argc, argv);
		client_close();
		return (rc);
	}
	if (argc == 0)
		usage();
	if ((ce = cmd_find(argv[0])) == NULL) {
		fprintf(stderr, "beekeeper: unknown command: %s\n", argv[0]);
		usage();
	}
	optind = 0;
	rc = ce->exec(argc, argv);
	/* Wipe the key, if a command read it. */
	client_close();
	return (rc);
}
