/*
 * The load generator of the webhook intake benchmark. It sends COUNT signed
 * GitHub push deliveries to one URL and keeps CONCURRENCY of them in flight
 * through the libcurl multi interface: each slot owns one easy handle that
 * is re-added as soon as its answer is in, so the connections stay busy
 * and are kept alive between requests.
 *
 * Every request carries the same body, so its HMAC is computed once; only
 * X-GitHub-Delivery changes (PREFIX-N, N from 1). Latency runs from adding
 * the handle to the answer, on the monotonic clock. The one line printed
 * at the end is for scripts:
 *
 *	requests=N ok=N fail=N seconds=S.SSS rate=R.R p50_ms=X.XXX p99_ms=Y.YYY
 *
 * where ok counts 2xx answers, rate is ok answers per second, and the
 * percentiles are over every request, failed ones included. With -o the
 * delivery id of every 2xx answer goes to a file, so the caller can check
 * that each acknowledged delivery was stored.
 */

#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define SECRET_MAX	4096
#define BODY_MAX	(25 * 1024 * 1024)
#define PREFIX_MAX	128
#define CONC_MAX	1024
#define COUNT_MAX	100000000L
/* Transport errors reported on stderr before falling silent. */
#define ERRORS_SHOWN	5

/* One connection's worth of work: the request it is sending now. */
struct slot {
	CURL			*easy;
	struct curl_slist	*headers;
	long			 n;		/* request number, from 1 */
	double			 start;
	char			 errbuf[CURL_ERROR_SIZE];
};

static const char	*url;
static char		 prefix[PREFIX_MAX];
static char		 sig_header[64 + sizeof "X-Hub-Signature-256: sha256="];
static unsigned char	*body;
static size_t		 body_len;

static void	 usage(void) __attribute__((__noreturn__));
static void	 die(const char *, ...)
		    __attribute__((__format__(__printf__, 1, 2), __noreturn__));
static long	 parse_num(const char *, const char *, long, long);
static unsigned char *read_file(const char *, size_t, size_t *);
static void	 sign_body(const char *);
static void	 random_prefix(void);
static double	 now(void);
static size_t	 discard(char *, size_t, size_t, void *);
static int	 slot_start(CURLM *, struct slot *, long);
static int	 cmp_double(const void *, const void *);
static double	 percentile(const double *, long, int);

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen -u url -s secretfile -b bodyfile "
	    "-c concurrency -n count\n"
	    "               [-o idsfile] [-p prefix]\n");
	exit(1);
}

static void
die(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "loadgen: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static long
parse_num(const char *what, const char *s, long min, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		die("%s must be between %ld and %ld: %s", what, min, max, s);
	return (v);
}

/* Read a whole file of at most max bytes; the caller frees the result. */
static unsigned char *
read_file(const char *path, size_t max, size_t *lenp)
{
	FILE		*f;
	unsigned char	*p, *q;
	size_t		 len = 0, size = 8192, got;

	if ((f = fopen(path, "rb")) == NULL)
		die("%s: %s", path, strerror(errno));
	if ((p = malloc(size)) == NULL)
		die("out of memory");
	for (;;) {
		got = fread(p + len, 1, size - len, f);
		len += got;
		if (len < size)
			break;
		if (size > max)
			die("%s: larger than %zu bytes", path, max);
		if ((q = realloc(p, size * 2)) == NULL)
			die("out of memory");
		p = q;
		size *= 2;
	}
	if (ferror(f))
		die("%s: read error", path);
	fclose(f);
	if (len > max)
		die("%s: larger than %zu bytes", path, max);
	*lenp = len;
	return (p);
}

/*
 * Build the X-Hub-Signature-256 header once. The secret is the file less
 * trailing line ends, as the daemon and the baseline read it.
 */
static void
sign_body(const char *secret_path)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		*secret, md[EVP_MAX_MD_SIZE];
	unsigned int		 md_len = 0, i;
	size_t			 secret_len;
	int			 n;

	secret = read_file(secret_path, SECRET_MAX, &secret_len);
	while (secret_len > 0 && (secret[secret_len - 1] == '\n' ||
	    secret[secret_len - 1] == '\r'))
		secret_len--;
	if (secret_len == 0)
		die("%s: empty secret", secret_path);
	if (HMAC(EVP_sha256(), secret, (int)secret_len, body, body_len, md,
	    &md_len) == NULL || md_len != 32)
		die("HMAC failed");
	OPENSSL_cleanse(secret, secret_len);
	free(secret);

	n = snprintf(sig_header, sizeof sig_header,
	    "X-Hub-Signature-256: sha256=");
	if (n < 0 || (size_t)n + 2 * md_len >= sizeof sig_header)
		die("signature header too long");
	for (i = 0; i < md_len; i++) {
		sig_header[n++] = hex[md[i] >> 4];
		sig_header[n++] = hex[md[i] & 0xf];
	}
	sig_header[n] = '\0';
}

/* A default prefix unlikely to repeat, so two runs never share an id. */
static void
random_prefix(void)
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		r[8];
	size_t			i;

	if (RAND_bytes(r, sizeof r) != 1)
		die("RAND_bytes failed");
	for (i = 0; i < sizeof r; i++) {
		prefix[2 * i] = hex[r[i] >> 4];
		prefix[2 * i + 1] = hex[r[i] & 0xf];
	}
	prefix[2 * sizeof r] = '\0';
}

static double
now(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die("clock_gettime: %s", strerror(errno));
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static size_t
discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
	return (size * nmemb);
}

/*
 * Point a slot at request n and hand it to the multi handle. The headers
 * are rebuilt each time because the delivery id is among them; the easy
 * handle keeps its other options and its connection in the multi's pool.
 */
static int
slot_start(CURLM *multi, struct slot *s, long n)
{
	struct curl_slist	*h = NULL, *t;
	char			 id[PREFIX_MAX + 64];
	static const char	*fixed[] = {
		"Content-Type: application/json",
		"X-GitHub-Event: push",
		"User-Agent: GitHub-Hookshot/beekeeper-bench",
		"Expect:",
	};
	size_t			 i;
	int			 len;

	len = snprintf(id, sizeof id, "X-GitHub-Delivery: %s-%ld", prefix, n);
	if (len < 0 || (size_t)len >= sizeof id)
		return (-1);
	for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		if ((t = curl_slist_append(h, fixed[i])) == NULL)
			goto fail;
		h = t;
	}
	if ((t = curl_slist_append(h, sig_header)) == NULL)
		goto fail;
	h = t;
	if ((t = curl_slist_append(h, id)) == NULL)
		goto fail;
	h = t;

	curl_slist_free_all(s->headers);
	s->headers = h;
	s->n = n;
	s->errbuf[0] = '\0';
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
	s->start = now();
	if (curl_multi_add_handle(multi, s->easy) != CURLM_OK)
		return (-1);
	return (0);

fail:
	curl_slist_free_all(h);
	return (-1);
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return ((x > y) - (x < y));
}

/* Nearest-rank percentile of a sorted array. */
static double
percentile(const double *v, long n, int p)
{
	long	rank;

	if (n == 0)
		return (0.0);
	rank = (long)(((long long)p * n + 99) / 100);
	if (rank < 1)
		rank = 1;
	return (v[rank - 1]);
}

int
main(int argc, char **argv)
{
	CURLM		*multi;
	CURLMsg		*msg;
	struct slot	*slots, *s;
	double		*lat, t0, elapsed;
	char		*priv;
	unsigned char	*ok;
	const char	*secret_path = NULL, *body_path = NULL;
	const char	*ids_path = NULL;
	FILE		*ids;
	long		 conc = 0, count = 0, next, done = 0, nok = 0, i, code;
	long		 nerr = 0;
	int		 ch, running, left, len;

	while ((ch = getopt(argc, argv, "b:c:n:o:p:s:u:")) != -1) {
		switch (ch) {
		case 'b':
			body_path = optarg;
			break;
		case 'c':
			conc = parse_num("concurrency", optarg, 1, CONC_MAX);
			break;
		case 'n':
			count = parse_num("count", optarg, 1, COUNT_MAX);
			break;
		case 'o':
			ids_path = optarg;
			break;
		case 'p':
			len = snprintf(prefix, sizeof prefix, "%s", optarg);
			if (len <= 0 || (size_t)len >= sizeof prefix ||
			    strpbrk(prefix, "\r\n") != NULL)
				die("bad prefix");
			break;
		case 's':
			secret_path = optarg;
			break;
		case 'u':
			url = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || url == NULL || secret_path == NULL ||
	    body_path == NULL || conc == 0 || count == 0)
		usage();
	if (prefix[0] == '\0')
		random_prefix();
	if (conc > count)
		conc = count;

	body = read_file(body_path, BODY_MAX, &body_len);
	sign_body(secret_path);

	ids = NULL;
	if (ids_path != NULL && (ids = fopen(ids_path, "w")) == NULL)
		die("%s: %s", ids_path, strerror(errno));
	if ((lat = calloc(count, sizeof *lat)) == NULL ||
	    (ok = calloc(count, 1)) == NULL ||
	    (slots = calloc(conc, sizeof *slots)) == NULL)
		die("out of memory");

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		die("curl_global_init failed");
	if ((multi = curl_multi_init()) == NULL)
		die("curl_multi_init failed");
	/* One connection per slot: wait for a free one, never open more. */
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, conc);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, conc);

	for (i = 0; i < conc; i++) {
		s = &slots[i];
		if ((s->easy = curl_easy_init()) == NULL)
			die("curl_easy_init failed");
		curl_easy_setopt(s->easy, CURLOPT_URL, url);
		curl_easy_setopt(s->easy, CURLOPT_POST, 1L);
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)body_len);
		curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(s->easy, CURLOPT_TIMEOUT, 60L);
		curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->errbuf);
		curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
	}

	t0 = now();
	for (next = 1; next <= conc; next++)
		if (slot_start(multi, &slots[next - 1], next) != 0)
			die("cannot start request %ld", next);

	while (done < count) {
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			die("curl_multi_perform failed");
		while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			priv = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    &priv);
			s = (struct slot *)(void *)priv;
			lat[s->n - 1] = now() - s->start;
			code = 0;
			curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE,
			    &code);
			if (msg->data.result == CURLE_OK && code >= 200 &&
			    code < 300) {
				ok[s->n - 1] = 1;
				nok++;
			} else if (nerr++ < ERRORS_SHOWN) {
				if (msg->data.result != CURLE_OK)
					fprintf(stderr, "loadgen: request "
					    "%ld: %s\n", s->n, s->errbuf[0] ?
					    s->errbuf : curl_easy_strerror(
					    msg->data.result));
				else
					fprintf(stderr, "loadgen: request "
					    "%ld: HTTP %ld\n", s->n, code);
			}
			done++;
			curl_multi_remove_handle(multi, s->easy);
			if (next <= count) {
				if (slot_start(multi, s, next) != 0)
					die("cannot start request %ld", next);
				next++;
			}
		}
		if (done < count &&
		    curl_multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK)
			die("curl_multi_poll failed");
	}
	elapsed = now() - t0;
	if (nerr > ERRORS_SHOWN)
		fprintf(stderr, "loadgen: %ld more failures not shown\n",
		    nerr - ERRORS_SHOWN);

	if (ids != NULL) {
		for (i = 0; i < count; i++)
			if (ok[i])
				fprintf(ids, "%s-%ld\n", prefix, i + 1);
		if (fclose(ids) != 0)
			die("%s: %s", ids_path, strerror(errno));
	}

	qsort(lat, count, sizeof *lat, cmp_double);
	printf("requests=%ld ok=%ld fail=%ld seconds=%.3f rate=%.1f "
	    "p50_ms=%.3f p99_ms=%.3f\n", count, nok, count - nok, elapsed,
	    elapsed > 0 ? nok / elapsed : 0.0, percentile(lat, count, 50) * 1e3,
	    percentile(lat, count, 99) * 1e3);
	if (fflush(stdout) != 0)
		die("stdout: %s", strerror(errno));

	for (i = 0; i < conc; i++) {
		curl_easy_cleanup(slots[i].easy);
		curl_slist_free_all(slots[i].headers);
	}
	curl_multi_cleanup(multi);
	curl_global_cleanup();
	free(slots);
	free(ok);
	free(lat);
	free(body);
	return (0);
}
