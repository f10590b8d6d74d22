/*
 * The XML tree over expat, on answers shaped as the EC2 API reference
 * shows them (namespaced, lists of <item>), and on what must be refused:
 * malformed, empty, too deep, too large. Then aws_error_parse on EC2's
 * XML errors and the JSON services' "__type".
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "tap.h"

static const char describe[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<DescribeInstancesResponse "
    "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
    "  <requestId>8f7724cf-496f-496e-8fe3-example</requestId>\n"
    "  <reservationSet>\n"
    "    <item>\n"
    "      <reservationId>r-1234567890abcdef0</reservationId>\n"
    "      <instancesSet>\n"
    "        <item>\n"
    "          <instanceId>i-1</instanceId>\n"
    "          <instanceState><code>16</code><name>running</name>"
    "</instanceState>\n"
    "          <tagSet><item><key>beekeeper:pool</key>"
    "<value>linux &amp; more</value></item></tagSet>\n"
    "        </item>\n"
    "        <item><instanceId>i-2</instanceId></item>\n"
    "      </instancesSet>\n"
    "    </item>\n"
    "  </reservationSet>\n"
    "  <nextToken>page-2</nextToken>\n"
    "</DescribeInstancesResponse>\n";

static void
check_tree(void)
{
	struct xml_node	*x, *items, *item;
	char		*cause = NULL;
	int		 n = 0;

	x = xml_parse(describe, strlen(describe), 1024 * 1024, &cause);
	if (!ok(x != NULL, "an EC2 answer parses"))
		return;
	is_str(xml_name(x), "DescribeInstancesResponse",
	    "the root's local name, without its namespace");
	is_str(xml_get(x, "nextToken"), "page-2", "a leaf's text");
	items = xml_child(xml_child(xml_child(x, "reservationSet"), "item"),
	    "instancesSet");
	for (item = xml_child(items, "item"); item != NULL;
	    item = xml_next(item))
		n++;
	is_int(n, 2, "a list's items, in order, by xml_next");
	item = xml_child(items, "item");
	is_str(xml_get(item, "instanceState/name"), "running",
	    "a path of child names");
	is_str(xml_get(item, "tagSet/item/value"), "linux & more",
	    "entities are decoded");
	is_str(xml_text_of(xml_child(item, "tagSet")), "",
	    "an element with children has no text of its own");
	ok(xml_get(item, "instanceState/missing") == NULL,
	    "a missing element on the path is NULL");
	ok(xml_get(xml_next(item), "instanceState/name") == NULL,
	    "...also when the first step is missing");
	xml_free(x);
}

static void
check_refusals(void)
{
	struct xml_node	*x;
	char		*cause = NULL, *deep;
	size_t		 i;

	x = xml_parse("<a><b></a>", 10, 1024, &cause);
	ok(x == NULL && cause != NULL && strstr(cause, "malformed XML") !=
	    NULL, "malformed XML is refused, saying where");
	free(cause);
	cause = NULL;
	x = xml_parse("", 0, 1024, &cause);
	ok(x == NULL && cause != NULL, "an empty document is refused");
	free(cause);
	cause = NULL;
	x = xml_parse(describe, strlen(describe), 100, &cause);
	ok(x == NULL && cause != NULL && strstr(cause, "at most 100") != NULL,
	    "a document over the cap is refused before parsing");
	free(cause);
	cause = NULL;
	deep = xmalloc(100 * 7 + 1);
	for (i = 0; i < 100; i++)
		memcpy(deep + i * 3, "<a>", 3);
	for (i = 0; i < 100; i++)
		memcpy(deep + 300 + i * 4, "</a>", 4);
	deep[700] = '\0';
	x = xml_parse(deep, strlen(deep), 1024 * 1024, &cause);
	ok(x == NULL && cause != NULL && strstr(cause, "deeper") != NULL,
	    "a document nested 100 deep is refused");
	free(cause);
	free(deep);
}

static void
check_errors(void)
{
	static const char ec2[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<Response><Errors><Error><Code>InsufficientInstanceCapacity"
	    "</Code><Message>We currently do not have sufficient capacity."
	    "</Message></Error></Errors><RequestID>ea966190</RequestID>"
	    "</Response>";
	static const char ecs[] = "{\"__type\":\"com.amazonaws.ecs#"
	    "ClusterNotFoundException\",\"message\":\"Cluster not found.\"}";
	static const char logs[] = "{\"__type\":\"ThrottlingException:"
	    "http://internal.amazon.com/\",\"Message\":\"Rate exceeded\"}";
	char	*code, *message;

	aws_error_parse(ec2, strlen(ec2), &code, &message);
	is_str(code, "InsufficientInstanceCapacity", "EC2's error code");
	is_str(message, "We currently do not have sufficient capacity.",
	    "EC2's error message");
	free(code);
	free(message);
	aws_error_parse(ecs, strlen(ecs), &code, &message);
	is_str(code, "ClusterNotFoundException", "a JSON __type after '#'");
	is_str(message, "Cluster not found.", "a JSON message");
	free(code);
	free(message);
	aws_error_parse(logs, strlen(logs), &code, &message);
	is_str(code, "ThrottlingException", "a JSON __type before ':'");
	is_str(message, "Rate exceeded", "a JSON Message");
	free(code);
	free(message);
	aws_error_parse("<html>Bad Gateway", 17, &code, &message);
	ok(code == NULL && message == NULL, "a proxy's HTML page: no code");
	aws_error_parse("", 0, &code, &message);
	ok(code == NULL && message == NULL, "an empty body: no code");
}

int
main(void)
{
	check_tree();
	check_refusals();
	check_errors();
	done_testing();
}
