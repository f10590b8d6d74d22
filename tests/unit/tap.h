/*
 * A few TAP helpers for the unit tests: each test program prints a plan
 * at the end ("done_testing") and one "ok N - name" line per check, read
 * by automake's tap-driver.sh.
 */

#ifndef TAP_H
#define TAP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	tap_n;
static int	tap_failed;

static inline int
tap_ok(int cond, const char *file, int line, const char *name)
{
	tap_n++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tap_n, name);
	if (!cond) {
		printf("#   failed at %s:%d\n", file, line);
		tap_failed++;
	}
	fflush(stdout);
	return (cond);
}

#define ok(cond, name)	tap_ok((cond), __FILE__, __LINE__, (name))

#define is_str(got, want, name) do {					\
	const char *tap_g = (got), *tap_w = (want);			\
	if (!ok(tap_g != NULL && tap_w != NULL ? strcmp(tap_g, tap_w) == 0 \
	    : tap_g == tap_w, (name)))					\
		printf("#   got '%s', want '%s'\n",			\
		    tap_g != NULL ? tap_g : "(null)",			\
		    tap_w != NULL ? tap_w : "(null)");			\
} while (0)

#define is_int(got, want, name) do {					\
	long long tap_g = (got), tap_w = (want);			\
	if (!ok(tap_g == tap_w, (name)))				\
		printf("#   got %lld, want %lld\n", tap_g, tap_w);	\
} while (0)

#define like(got, sub, name) do {					\
	const char *tap_g = (got);					\
	if (!ok(tap_g != NULL && strstr(tap_g, (sub)) != NULL, (name)))	\
		printf("#   '%s' does not contain '%s'\n",		\
		    tap_g != NULL ? tap_g : "(null)", (sub));		\
} while (0)

static inline int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	return (tap_failed != 0);
}

static inline void
skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	exit(0);
}

#endif /* TAP_H */
