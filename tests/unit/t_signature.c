/*
 * The webhook signature check against GitHub's documented example
 * ("Validating webhook deliveries": secret "It's a Secret to Everybody",
 * payload "Hello, World!") and the ways a signature can be wrong.
 */

#include "config.h"

#include "daemon.h"
#include "tap.h"

static const char key[] = "It's a Secret to Everybody";
static const char body[] = "Hello, World!";
static const char good256[] = "sha256="
    "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
/* The same HMAC-SHA1 by openssl dgst -sha1 -hmac, a second implementation. */
static const char good1[] = "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59";

static int
check(const char *s256, const char *s1, int legacy, const char **algo,
    const char **why)
{
	*why = NULL;
	return (signature_check(key, strlen(key), body, strlen(body), s256,
	    s1, legacy, algo, why));
}

int
main(void)
{
	const char	*algo, *why;
	char		 bad[sizeof good256];

	is_int(check(good256, NULL, 0, &algo, &why), 0,
	    "GitHub's documented sha256 example verifies");
	is_str(algo, "sha256", "algorithm is sha256");

	is_int(check("sha256="
	    "757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17",
	    NULL, 0, &algo, &why), 0, "upper-case hex verifies too");

	memcpy(bad, good256, sizeof bad);
	bad[sizeof bad - 2] = bad[sizeof bad - 2] == '7' ? '8' : '7';
	is_int(check(bad, NULL, 0, &algo, &why), -1,
	    "last digit changed: rejected");
	like(why, "does not match", "reason says it does not match");

	is_int(signature_check("other", 5, body, strlen(body), good256, NULL,
	    0, &algo, &why), -1, "another secret: rejected");
	is_int(signature_check(key, strlen(key), "Hello, World?", 13, good256,
	    NULL, 0, &algo, &why), -1, "another body: rejected");

	is_int(check(NULL, NULL, 0, &algo, &why), -1, "no header: rejected");
	like(why, "no X-Hub-Signature-256", "reason names the header");

	is_int(check("sha256=abc", NULL, 0, &algo, &why), -1,
	    "short hex: rejected");
	like(why, "64 hex digits", "reason says what is expected");
	is_int(check(good256 + 7, NULL, 0, &algo, &why), -1,
	    "no sha256= prefix: rejected");
	is_int(check("sha256="
	    "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1z",
	    NULL, 0, &algo, &why), -1, "non-hex digit: rejected");
	is_int(check("sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59", NULL,
	    0, &algo, &why), -1, "sha1 value in the sha256 header: rejected");

	is_int(check(NULL, good1, 0, &algo, &why), -1,
	    "sha1 only, legacy off: rejected");
	like(why, "legacy", "reason mentions legacy signatures");
	is_int(check(NULL, good1, 1, &algo, &why), 0,
	    "sha1 only, legacy on: verifies");
	is_str(algo, "sha1", "algorithm is sha1");
	is_int(check(NULL, "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca5a", 1,
	    &algo, &why), -1, "wrong sha1, legacy on: rejected");
	is_int(check(bad, good1, 1, &algo, &why), -1,
	    "a bad sha256 is not rescued by a good sha1");

	is_int(signature_check(key, strlen(key), "", 0, "sha256="
	    "4f9ac8b4f8b7e3bc1e4a8cf1a9e6b1d1e0d2b6b4a1c4c1c3f8b4c1f1e3a2b1c0",
	    NULL, 0, &algo, &why), -1, "empty body with a made-up signature");
	return (done_testing());
}
