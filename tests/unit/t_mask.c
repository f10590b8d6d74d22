/*
 * The secret masker: exact output for one feed, for every way of cutting
 * the input in two, for one byte at a time, and at the end of the stream.
 */

#include "config.h"

#include "common.h"
#include "tap.h"

/* Mask in as one feed and a flush; returns the output, to be freed. */
static char *
mask_all(const char *const *secrets, size_t n, const char *in)
{
	struct mask	*m;
	struct buf	 out;

	m = mask_create(secrets, n);
	buf_init(&out, 0);
	if (mask_feed(m, in, strlen(in), &out) != 0 ||
	    mask_flush(m, &out) != 0)
		buf_addstr(&out, "<failed>");
	mask_free(m);
	return (buf_detach(&out, NULL));
}

/* The same, fed in chunks of step bytes. */
static char *
mask_steps(const char *const *secrets, size_t n, const char *in,
    size_t step)
{
	struct mask	*m;
	struct buf	 out;
	size_t		 len = strlen(in), i, k;

	m = mask_create(secrets, n);
	buf_init(&out, 0);
	for (i = 0; i < len; i += k) {
		k = len - i < step ? len - i : step;
		if (mask_feed(m, in + i, k, &out) != 0)
			buf_addstr(&out, "<failed>");
	}
	if (mask_flush(m, &out) != 0)
		buf_addstr(&out, "<failed>");
	mask_free(m);
	return (buf_detach(&out, NULL));
}

/* Whether every split of in into two feeds gives want. */
static int
mask_splits(const char *const *secrets, size_t n, const char *in,
    const char *want)
{
	struct mask	*m;
	struct buf	 out;
	size_t		 len = strlen(in), at;
	int		 good = 1;

	for (at = 0; at <= len; at++) {
		m = mask_create(secrets, n);
		buf_init(&out, 0);
		if (mask_feed(m, in, at, &out) != 0 ||
		    mask_feed(m, in + at, len - at, &out) != 0 ||
		    mask_flush(m, &out) != 0 || strcmp(out.data, want) != 0) {
			printf("# split at %zu: got '%s'\n", at,
			    out.data != NULL ? out.data : "(null)");
			good = 0;
		}
		buf_release(&out);
		mask_free(m);
	}
	return (good);
}

#define CHECK(secrets, in, want, name) do {				\
	char	*got_ = mask_all((secrets), nitems(secrets), (in));	\
	is_str(got_, (want), name);					\
	free(got_);							\
	got_ = mask_steps((secrets), nitems(secrets), (in), 1);		\
	is_str(got_, (want), name ", 1-byte feeds");			\
	free(got_);							\
	ok(mask_splits((secrets), nitems(secrets), (in), (want)),	\
	    name ", split at every byte");				\
} while (0)

static void
test_basic(void)
{
	const char *const one[] = { "token-123" };
	const char *const two[] = { "hunter2", "s3cr3t" };
	const char *const nested[] = { "abc", "abcdef", "bcd" };
	const char *const empty[] = { "", "xy", NULL };
	const char *const rep[] = { "aa" };

	CHECK(one, "the token is token-123.\n", "the token is ***.\n",
	    "one secret");
	CHECK(one, "token-123 first", "*** first", "secret at the start");
	CHECK(one, "last: token-123", "last: ***", "secret at the end");
	CHECK(one, "token-123", "***", "secret alone");
	CHECK(one, "token-123token-123", "******", "adjacent repeats");
	CHECK(one, "token-12 token-1234", "token-12 ***4",
	    "near misses and a longer word");
	CHECK(one, "tototoken-123", "toto***", "a false start then a match");
	CHECK(two, "a=hunter2 b=s3cr3t c=hunter2", "a=*** b=*** c=***",
	    "two secrets");
	CHECK(two, "hunter2s3cr3t", "******", "two secrets adjacent");
	CHECK(nested, "xabcdefx", "x***x", "the longest match wins");
	CHECK(nested, "xabcdex", "x***dex",
	    "a shorter secret when the longer does not complete");
	CHECK(nested, "xbcdx abcx", "x***x ***x", "each secret on its own");
	CHECK(nested, "abcd", "***d",
	    "the leftmost match wins over an overlapping later one");
	CHECK(empty, "a xy b", "a *** b", "empty and NULL secrets ignored");
	CHECK(rep, "aaaaa", "******a", "overlapping repeats go left to right");
	CHECK(one, "", "", "empty input");
}

static void
test_none(void)
{
	const char *const none[] = { "" };
	struct mask	*m;
	struct buf	 out;
	char		*got;

	m = mask_create(NULL, 0);
	is_int(mask_holdback(m), 0, "no secrets: nothing held back");
	buf_init(&out, 0);
	is_int(mask_feed(m, "token-123 ", 10, &out), 0, "no secrets: feed");
	is_str(out.data, "token-123 ", "no secrets: passed at once");
	is_int(mask_flush(m, &out), 0, "no secrets: flush");
	is_str(out.data, "token-123 ", "no secrets: flush adds nothing");
	buf_release(&out);
	mask_free(m);
	mask_free(NULL);

	got = mask_steps(none, nitems(none), "only empty secrets", 3);
	is_str(got, "only empty secrets", "only empty secrets: unchanged");
	free(got);
}

static void
test_hold(void)
{
	const char *const one[] = { "token-123" };
	const char *const two[] = { "ab", "abcdefgh" };
	struct mask	*m;
	struct buf	 out;

	m = mask_create(one, nitems(one));
	is_int(mask_holdback(m), 8, "holdback is the longest length less 1");
	buf_init(&out, 0);
	mask_feed(m, "see token-12", 12, &out);
	is_str(out.data, "see ", "a possible secret is held back");
	mask_feed(m, "3!", 2, &out);
	is_str(out.data, "see ***!", "and masked once it completes");
	mask_feed(m, "tok", 3, &out);
	is_str(out.data, "see ***!", "a new prefix is held");
	mask_feed(m, "x", 1, &out);
	is_str(out.data, "see ***!tokx", "and let go when it cannot match");
	mask_feed(m, "token-12", 8, &out);
	is_int(mask_flush(m, &out), 0, "flush");
	is_str(out.data, "see ***!tokxtoken-12",
	    "a prefix that never completes is emitted at the flush");
	is_int(mask_flush(m, &out), 0, "a second flush");
	is_str(out.data, "see ***!tokxtoken-12", "adds nothing");
	buf_release(&out);
	mask_free(m);

	m = mask_create(two, nitems(two));
	is_int(mask_holdback(m), 7, "holdback of the longest of two");
	buf_init(&out, 0);
	mask_feed(m, "x ab", 4, &out);
	is_str(out.data, "x ", "a whole short secret waits for a longer");
	mask_feed(m, "cd", 2, &out);
	is_str(out.data, "x ", "still could be the longer");
	mask_feed(m, "e", 1, &out);
	is_str(out.data, "x ", "still");
	mask_feed(m, "X", 1, &out);
	is_str(out.data, "x ***cdeX", "the short one once the long one fails");
	mask_feed(m, "ab", 2, &out);
	mask_flush(m, &out);
	is_str(out.data, "x ***cdeX***", "a short secret at the end of stream");
	buf_release(&out);
	mask_free(m);
}

/* A capped out buffer: a failed feed changes neither out nor the masker. */
static void
test_cap(void)
{
	const char *const one[] = { "token-123" };
	struct mask	*m;
	struct buf	 out;

	m = mask_create(one, nitems(one));
	buf_init(&out, 6);
	is_int(mask_feed(m, "ab tok", 6, &out), 0, "capped: first feed");
	is_str(out.data, "ab ", "capped: prefix held");
	is_int(mask_feed(m, "en-123 and more", 15, &out), -1,
	    "capped: a feed out cannot take fails");
	is_str(out.data, "ab ", "capped: out unchanged");
	is_int(mask_feed(m, "en-123", 6, &out), 0,
	    "capped: the masker is as it was");
	is_str(out.data, "ab ***", "capped: the secret is still masked");
	buf_release(&out);
	mask_free(m);
}

static void
test_large(void)
{
	const char *const secrets[] = { "AKIAIOSFODNN7EXAMPLE", "pass" };
	struct buf	 in, want;
	char		*got;
	size_t		 i;
	int		 good;

	buf_init(&in, 0);
	buf_init(&want, 0);
	for (i = 0; i < 20000; i++) {
		buf_printf(&in, "line %zu AKIAIOSFODNN7EXAMPL%s pas%s\n", i,
		    i % 3 == 0 ? "E" : "", i % 5 == 0 ? "s" : "");
		buf_printf(&want, "line %zu %s %s\n", i,
		    i % 3 == 0 ? "***" : "AKIAIOSFODNN7EXAMPL",
		    i % 5 == 0 ? "***" : "pas");
	}
	got = mask_all(secrets, nitems(secrets), in.data);
	ok(strcmp(got, want.data) == 0, "large input in one feed");
	free(got);
	got = mask_steps(secrets, nitems(secrets), in.data, 16384);
	ok(strcmp(got, want.data) == 0, "large input in 16384-byte feeds");
	free(got);
	for (good = 1, i = 1; i < 40; i += 7) {
		got = mask_steps(secrets, nitems(secrets), in.data, i);
		if (strcmp(got, want.data) != 0) {
			printf("# %zu-byte feeds differ\n", i);
			good = 0;
		}
		free(got);
	}
	ok(good, "large input in small feeds of several sizes");
	buf_release(&in);
	buf_release(&want);
}

int
main(void)
{
	test_basic();
	test_none();
	test_hold();
	test_cap();
	test_large();
	return (done_testing());
}
