/*
 * Masking of secrets in a stream of output: every occurrence of a secret's
 * value becomes "***" before the bytes reach a log.
 *
 * Invariants:
 * - The output is the same however the input is cut into chunks: bytes
 *   that could begin a secret completed by later input are held back (at
 *   most mask_holdback of them) until the next feed or the flush decides.
 * - At each position the longest secret that matches wins, and scanning
 *   goes on after it (leftmost, then longest). A shorter secret that
 *   matches is not taken while a longer one could still complete, which
 *   is why a held-back position may already hold a whole secret.
 * - Our copies of the secrets, and the raw bytes held back, are wiped
 *   before their memory is freed or reused.
 *
 * Secrets are few and short, so each position is simply compared with each
 * secret; a table of the bytes that begin a secret skips most positions.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

#define MASK_REPLACEMENT	"***"

struct mask {
	char		**secrets;	/* longest first */
	size_t		 *lens;
	size_t		  n;
	size_t		  longest;
	unsigned char	  first[256];	/* bytes that begin a secret */
	struct buf	  pend;		/* held back, then held and new */
};

static int
mask_cmp(const void *a, const void *b)
{
	size_t	 la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return (la < lb ? 1 : la > lb ? -1 : 0);
}

/* The strings are copied; empty (and NULL) ones are ignored. */
struct mask *
mask_create(const char *const *secrets, size_t n)
{
	struct mask	*m;
	size_t		 i;

	m = xcalloc(1, sizeof *m);
	buf_init(&m->pend, 0);
	for (i = 0; i < n; i++) {
		if (secrets[i] == NULL || *secrets[i] == '\0')
			continue;
		m->secrets = xreallocarray(m->secrets, m->n + 1,
		    sizeof *m->secrets);
		m->secrets[m->n++] = xstrdup(secrets[i]);
	}
	if (m->n == 0)
		return (m);

	/* Longest first, so the first secret that matches is the longest. */
	qsort(m->secrets, m->n, sizeof *m->secrets, mask_cmp);
	m->lens = xcalloc(m->n, sizeof *m->lens);
	for (i = 0; i < m->n; i++) {
		m->lens[i] = strlen(m->secrets[i]);
		m->first[(unsigned char)m->secrets[i][0]] = 1;
	}
	m->longest = m->lens[0];
	return (m);
}

void
mask_free(struct mask *m)
{
	size_t	 i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++)
		freezero(m->secrets[i], m->lens[i]);
	free(m->secrets);
	free(m->lens);
	freezero(m->pend.data, m->pend.size);
	freezero(m, sizeof *m);
}

/* The most bytes mask_feed may hold back between calls. */
size_t
mask_holdback(const struct mask *m)
{
	return (m->longest != 0 ? m->longest - 1 : 0);
}

/*
 * Mask m->pend into out. Unless final, stop at the first position where
 * a secret longer than what is left could still match, and return that
 * position: the bytes from there on are to be held back. Returns -1 if
 * out would not take the bytes.
 */
static ssize_t
mask_scan(struct mask *m, struct buf *out, int final)
{
	const char	*p = m->pend.data;
	size_t		 len = m->pend.len, run = 0, i = 0, left, j;
	int		 hold;

	while (i < len) {
		if (!m->first[(unsigned char)p[i]]) {
			i++;
			continue;
		}
		left = len - i;
		hold = 0;
		for (j = 0; j < m->n; j++) {
			if (m->lens[j] > left) {
				if (!final &&
				    memcmp(p + i, m->secrets[j], left) == 0) {
					hold = 1;
					break;
				}
				continue;
			}
			if (memcmp(p + i, m->secrets[j], m->lens[j]) == 0)
				break;
		}
		if (hold)
			break;
		if (j == m->n) {
			i++;
			continue;
		}
		if (buf_add(out, p + run, i - run) != 0 ||
		    buf_addstr(out, MASK_REPLACEMENT) != 0)
			return (-1);
		i += m->lens[j];
		run = i;
	}
	if (buf_add(out, p + run, i - run) != 0)
		return (-1);
	return (i);
}

/*
 * Append the masked form of data to out, holding back what may begin a
 * secret. On failure (out is capped) out and m are left as they were.
 */
int
mask_feed(struct mask *m, const void *data, size_t len, struct buf *out)
{
	size_t	 held = m->pend.len, outlen = out->len, rest;
	ssize_t	 done;

	if (m->n == 0)
		return (buf_add(out, data, len));
	if (buf_add(&m->pend, data, len) != 0)
		return (-1);
	if ((done = mask_scan(m, out, 0)) == -1) {
		explicit_bzero(m->pend.data + held, len);
		m->pend.len = held;
		out->len = outlen;
		if (out->data != NULL)
			out->data[outlen] = '\0';
		return (-1);
	}
	rest = m->pend.len - done;
	memmove(m->pend.data, m->pend.data + done, rest);
	explicit_bzero(m->pend.data + rest, m->pend.len - rest);
	m->pend.len = rest;
	return (0);
}

/*
 * The end of the stream: what was held back can no longer become a
 * longer secret, so mask it as it stands and emit it.
 */
int
mask_flush(struct mask *m, struct buf *out)
{
	size_t	 outlen = out->len;

	if (m->pend.len == 0)
		return (0);
	if (mask_scan(m, out, 1) == -1) {
		out->len = outlen;
		if (out->data != NULL)
			out->data[outlen] = '\0';
		return (-1);
	}
	explicit_bzero(m->pend.data, m->pend.len);
	m->pend.len = 0;
	return (0);
}
