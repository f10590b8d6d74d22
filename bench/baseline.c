/*
 * The baseline for the webhook intake benchmark: the least a server can do
 * for POST /github/webhook and still be correct. It accumulates the body,
 * checks X-Hub-Signature-256 in constant time and answers 202 (401 on a bad
 * signature), storing nothing. libmicrohttpd runs with one internal polling
 * thread on epoll, as close as libmicrohttpd gets to the daemon's single
 * event loop, so the ratio daemon / baseline prices what the daemon adds:
 * parsing, the store, the bus.
 *
 * It binds to 127.0.0.1 only, prints "listening on 127.0.0.1:PORT" once
 * bound and runs until SIGTERM or SIGINT.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define WEBHOOK_PATH	"/github/webhook"
#define SIG_HEADER	"X-Hub-Signature-256"
#define SIG_PREFIX	"sha256="
#define SECRET_MAX	4096
/* GitHub caps webhook payloads at 25 MB. */
#define BODY_MAX	(25 * 1024 * 1024)

/* Named so from libmicrohttpd 0.9.74 on; configure accepts 0.9.71. */
#ifndef MHD_HTTP_CONTENT_TOO_LARGE
#define MHD_HTTP_CONTENT_TOO_LARGE 413
#endif

/* One request in flight: the body accumulated so far. */
struct request {
	unsigned char	*body;
	size_t		 len;
	size_t		 size;
	int		 too_big;
};

static unsigned char	 secret[SECRET_MAX];
static size_t		 secret_len;
/* One empty response, queued with whatever status each request needs. */
static struct MHD_Response *empty;

static void	 usage(void) __attribute__((__noreturn__));
static void	 die(const char *, ...)
		    __attribute__((__format__(__printf__, 1, 2), __noreturn__));
static int	 parse_port(const char *);
static void	 read_secret(const char *);
static int	 hexval(int);
static int	 signature_ok(const char *, const unsigned char *, size_t);
static int	 body_append(struct request *, const char *, size_t);
static enum MHD_Result answer(void *, struct MHD_Connection *,
		    const char *, const char *, const char *, const char *,
		    size_t *, void **);
static void	 completed(void *, struct MHD_Connection *, void **,
		    enum MHD_RequestTerminationCode);

static void
usage(void)
{
	fprintf(stderr, "usage: baseline -p port -s secretfile\n");
	exit(1);
}

static void
die(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "baseline: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int
parse_port(const char *s)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 0 || v > 65535)
		die("bad port: %s", s);
	return ((int)v);
}

/*
 * The secret is the file's content less trailing line ends, as the daemon
 * reads webhook_secret_file, so an editor's final newline does not change it.
 */
static void
read_secret(const char *path)
{
	FILE	*f;

	if ((f = fopen(path, "r")) == NULL)
		die("%s: %s", path, strerror(errno));
	secret_len = fread(secret, 1, sizeof secret, f);
	if (ferror(f))
		die("%s: read error", path);
	if (secret_len == sizeof secret)
		die("%s: secret too long", path);
	fclose(f);
	while (secret_len > 0 && (secret[secret_len - 1] == '\n' ||
	    secret[secret_len - 1] == '\r'))
		secret_len--;
	if (secret_len == 0)
		die("%s: empty secret", path);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/*
 * Check "sha256=<64 hex digits>" against the HMAC of the body. The digest
 * comparison is constant time; the format checks before it leak nothing
 * about the secret.
 */
static int
signature_ok(const char *header, const unsigned char *body, size_t len)
{
	unsigned char	 want[EVP_MAX_MD_SIZE], got[32];
	unsigned int	 want_len = 0;
	const char	*hex;
	size_t		 i;
	int		 hi, lo;

	if (header == NULL || strncmp(header, SIG_PREFIX,
	    strlen(SIG_PREFIX)) != 0)
		return (0);
	hex = header + strlen(SIG_PREFIX);
	if (strlen(hex) != 2 * sizeof got)
		return (0);
	for (i = 0; i < sizeof got; i++) {
		hi = hexval((unsigned char)hex[2 * i]);
		lo = hexval((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return (0);
		got[i] = (unsigned char)(hi << 4 | lo);
	}
	if (HMAC(EVP_sha256(), secret, (int)secret_len, body, len, want,
	    &want_len) == NULL || want_len != sizeof got)
		return (0);
	return (CRYPTO_memcmp(want, got, sizeof got) == 0);
}

static int
body_append(struct request *r, const char *data, size_t len)
{
	unsigned char	*p;
	size_t		 size;

	if (len > BODY_MAX - r->len)
		return (-1);
	if (r->len + len > r->size) {
		size = r->size == 0 ? 8192 : r->size;
		while (size < r->len + len)
			size *= 2;
		if ((p = realloc(r->body, size)) == NULL)
			return (-1);
		r->body = p;
		r->size = size;
	}
	memcpy(r->body + r->len, data, len);
	r->len += len;
	return (0);
}

/*
 * libmicrohttpd calls this once with the headers, once per chunk of body
 * and once more with no data when the body is complete: the answer is
 * queued on that last call.
 */
static enum MHD_Result
answer(void *arg, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data,
    size_t *data_len, void **ctx)
{
	struct request	*r = *ctx;
	const char	*sig;
	unsigned int	 status;

	if (r == NULL) {
		if (strcmp(url, WEBHOOK_PATH) != 0)
			return (MHD_queue_response(c, MHD_HTTP_NOT_FOUND,
			    empty));
		if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
			return (MHD_queue_response(c,
			    MHD_HTTP_METHOD_NOT_ALLOWED, empty));
		if ((r = calloc(1, sizeof *r)) == NULL)
			return (MHD_NO);
		*ctx = r;
		return (MHD_YES);
	}

	if (*data_len != 0) {
		if (!r->too_big && body_append(r, data, *data_len) != 0)
			r->too_big = 1;
		*data_len = 0;
		return (MHD_YES);
	}

	if (r->too_big)
		status = MHD_HTTP_CONTENT_TOO_LARGE;
	else {
		sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    SIG_HEADER);
		if (signature_ok(sig, r->body, r->len))
			status = MHD_HTTP_ACCEPTED;
		else
			status = MHD_HTTP_UNAUTHORIZED;
	}
	return (MHD_queue_response(c, status, empty));
}

static void
completed(void *arg, struct MHD_Connection *c, void **ctx,
    enum MHD_RequestTerminationCode toe)
{
	struct request	*r = *ctx;

	if (r == NULL)
		return;
	free(r->body);
	free(r);
	*ctx = NULL;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in		 sin;
	struct MHD_Daemon		*d;
	const union MHD_DaemonInfo	*info;
	sigset_t			 set;
	const char			*secret_path = NULL;
	int				 ch, port = -1, sig;

	while ((ch = getopt(argc, argv, "p:s:")) != -1) {
		switch (ch) {
		case 'p':
			port = parse_port(optarg);
			break;
		case 's':
			secret_path = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || port == -1 || secret_path == NULL)
		usage();
	read_secret(secret_path);

	if ((empty = MHD_create_response_from_buffer(0, (void *)"",
	    MHD_RESPMEM_PERSISTENT)) == NULL)
		die("cannot create response");

	/*
	 * Block the signals before libmicrohttpd starts its thread, so that
	 * thread inherits the mask and only sigwait below sees them.
	 */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		die("pthread_sigmask failed");

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL, answer, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
	    MHD_OPTION_END);
	if (d == NULL)
		die("cannot listen on 127.0.0.1:%d", port);
	if ((info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)) == NULL)
		die("cannot get the bound port");
	printf("listening on 127.0.0.1:%u\n", (unsigned int)info->port);
	fflush(stdout);

	do {
		if (sigwait(&set, &sig) != 0)
			die("sigwait failed");
	} while (sig != SIGTERM && sig != SIGINT);

	MHD_stop_daemon(d);
	MHD_destroy_response(empty);
	OPENSSL_cleanse(secret, sizeof secret);
	return (0);
}
