/*
 * ECS's and CloudWatch Logs' requests and answers: the JSON the daemon
 * sends (read back with jansson, as ECS would) and the fields it takes
 * from answers shaped as the ECS and Logs API references show them.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon.h"
#include "tap.h"

static json_t *
load(char *text)
{
	json_t	*j = json_loads(text, 0, NULL);

	free(text);
	return (j);
}

static void
check_requests(void)
{
	static const char *const env[] = { "A=1", "B=x=y", "broken" };
	static const char *const arns[] = { "arn:t/1", "arn:t/2" };
	struct ecs_taskdef	 d;
	json_t			*j, *c, *o;
	char			*s;

	s = ecs_family("beekeeper", "beeware/briefcase:3.11");
	is_str(s, "beekeeper-beeware_briefcase_3_11",
	    "a family name keeps only what ECS allows");
	free(s);

	d.family = "beekeeper-python";
	d.image = "python:3.12";
	d.memory_mb = 1024;
	d.log_group = "/beekeeper/ci";
	d.region = "eu-west-1";
	j = load(ecs_register_body(&d));
	c = json_array_get(json_object_get(j, "containerDefinitions"), 0);
	is_str(json_string_value(json_object_get(j, "family")),
	    "beekeeper-python", "RegisterTaskDefinition: the family");
	is_str(json_string_value(json_object_get(c, "image")), "python:3.12",
	    "  the image");
	o = json_object_get(json_object_get(c, "logConfiguration"),
	    "options");
	is_str(json_string_value(json_object_get(json_object_get(c,
	    "logConfiguration"), "logDriver")), "awslogs", "  logs: awslogs");
	is_str(json_string_value(json_object_get(o, "awslogs-group")),
	    "/beekeeper/ci", "  to the group");
	is_str(json_string_value(json_object_get(o, "awslogs-region")),
	    "eu-west-1", "  in the region");
	is_str(json_string_value(json_object_get(o,
	    "awslogs-stream-prefix")), "beekeeper", "  with the prefix");
	ok(json_integer_value(json_object_get(c, "memoryReservation")) ==
	    1024, "  memory");
	json_decref(j);

	j = load(ecs_start_body("ci", "arn:td/1", "arn:ci/9", "make test",
	    env, 3, "build:7"));
	is_str(json_string_value(json_array_get(json_object_get(j,
	    "containerInstances"), 0)), "arn:ci/9",
	    "StartTask names the container instance the pool chose");
	c = json_array_get(json_object_get(json_object_get(j, "overrides"),
	    "containerOverrides"), 0);
	is_str(json_string_value(json_array_get(json_object_get(c,
	    "command"), 2)), "make test", "  the command, through sh -c");
	ok(json_array_size(json_object_get(c, "environment")) == 2,
	    "  the environment, without an entry that has no '='");
	is_str(json_string_value(json_object_get(json_array_get(
	    json_object_get(c, "environment"), 1), "value")), "x=y",
	    "  a value may hold '='");
	is_str(json_string_value(json_object_get(j, "group")), "build:7",
	    "  the group");
	json_decref(j);

	j = load(ecs_describe_tasks_body("ci", arns, 2));
	ok(json_array_size(json_object_get(j, "tasks")) == 2,
	    "DescribeTasks of several tasks at once");
	json_decref(j);
	j = load(ecs_arns_body("ci", "containerInstances", arns, 2,
	    "DRAINING"));
	is_str(json_string_value(json_object_get(j, "status")), "DRAINING",
	    "UpdateContainerInstancesState: the status");
	json_decref(j);
	j = load(ecs_log_events_body("/g", "s", "f/1"));
	ok(json_is_true(json_object_get(j, "startFromHead")) &&
	    strcmp(json_string_value(json_object_get(j, "nextToken")),
	    "f/1") == 0, "GetLogEvents from the head, then by token");
	json_decref(j);
	s = ecs_log_stream("arn:aws:ecs:eu-west-1:1:task/ci/0123abcd");
	is_str(s, "beekeeper/task/0123abcd",
	    "the log stream is PREFIX/CONTAINER/TASK-ID");
	free(s);
}

static void
check_answers(void)
{
	static const char tasks[] = "{\"tasks\":[{\"taskArn\":\"arn:t/1\","
	    "\"lastStatus\":\"STOPPED\",\"stopCode\":\"EssentialContainer"
	    "Exited\",\"stoppedReason\":\"Essential container in task "
	    "exited\",\"containerInstanceArn\":\"arn:ci/9\",\"containers\":"
	    "[{\"name\":\"task\",\"exitCode\":3}]},{\"taskArn\":\"arn:t/2\","
	    "\"lastStatus\":\"RUNNING\",\"containers\":[{\"name\":\"task\"}]}"
	    "],\"failures\":[{\"arn\":\"arn:t/3\",\"reason\":\"MISSING\"}]}";
	static const char cis[] = "{\"containerInstances\":[{"
	    "\"containerInstanceArn\":\"arn:ci/9\",\"ec2InstanceId\":\"i-1\","
	    "\"status\":\"ACTIVE\",\"runningTasksCount\":2,"
	    "\"agentConnected\":true}],\"failures\":[]}";
	static const char list[] = "{\"containerInstanceArns\":[\"a\",\"b\"],"
	    "\"nextToken\":\"n\"}";
	static const char events[] = "{\"events\":[{\"timestamp\":1,"
	    "\"message\":\"hello\"},{\"timestamp\":2,\"message\":\"x\\n\"}],"
	    "\"nextForwardToken\":\"f/2\",\"nextBackwardToken\":\"b/1\"}";
	struct ecs_task		*t;
	struct ecs_instance	*ci;
	struct buf		 b;
	char			**arns, *next, *failure, *cause = NULL;
	size_t			 n, i;
	int			 more;

	if (ok(ecs_tasks_parse(tasks, strlen(tasks), &t, &n, &failure,
	    &cause) == 0 && n == 2, "a DescribeTasks answer")) {
		is_str(t[0].last_status, "STOPPED", "  a task's status");
		ok(t[0].exit_code == 3, "  its container's exit code");
		is_str(t[0].stop_code, "EssentialContainerExited",
		    "  its stop code");
		is_str(t[0].container_instance, "arn:ci/9",
		    "  where it ran");
		ok(t[1].exit_code == -1, "  no exit code while running");
		is_str(failure, "arn:t/3: MISSING", "  its failures, "
		    "as a sentence");
		ecs_tasks_free(t, n);
		free(failure);
	}
	ok(ecs_tasks_parse("{}", 2, &t, &n, &failure, &cause) == -1 &&
	    cause != NULL, "an answer without tasks is an error");
	free(cause);
	cause = NULL;
	if (ok(ecs_instances_parse(cis, strlen(cis), &ci, &n, &cause) == 0 &&
	    n == 1, "a DescribeContainerInstances answer")) {
		is_str(ci[0].ec2_id, "i-1", "  the EC2 instance");
		ok(ci[0].running == 2 && ci[0].connected,
		    "  its running tasks and agent");
		ecs_instances_free(ci, n);
	}
	if (ok(ecs_list_parse(list, strlen(list), "containerInstanceArns",
	    &arns, &n, &next, &cause) == 0 && n == 2,
	    "a ListContainerInstances page")) {
		is_str(next, "n", "  and its next token");
		for (i = 0; i < n; i++)
			free(arns[i]);
		free(arns);
		free(next);
	}
	buf_init(&b, 0);
	if (ok(ecs_log_events_parse(events, strlen(events), &b, &next, &more,
	    &cause) == 0 && more, "a GetLogEvents page")) {
		is_str(b.data, "hello\nx\n", "  its messages, one line each");
		is_str(next, "f/2", "  the forward token");
		free(next);
	}
	buf_release(&b);
}

int
main(void)
{
	check_requests();
	check_answers();
	done_testing();
}
