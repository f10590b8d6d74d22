/*
 * The bus's wire contract, shared by beekeeperd and the beekeeper tool:
 * the protocol version, default endpoints, topics and command names.
 * beekeeper-protocol(7) is its description for clients written by
 * others; BEEKEEPER_PROTOCOL changes whenever this contract does in a way
 * an existing client would notice (fields may be added without it).
 */

#ifndef PROTO_H
#define PROTO_H

#define BEEKEEPER_PROTOCOL		1

#define PROTO_PUBLISH_DEFAULT		"tcp://127.0.0.1:7701"
#define PROTO_CONTROL_DEFAULT		"tcp://127.0.0.1:7702"

/* A control request larger than this gets an error reply. */
#define PROTO_REQUEST_MAX		(1024 * 1024)

/* Finished builds a snapshot holds, newest finished first. */
#define PROTO_RECENT_BUILDS		100

/* The heartbeat's period. */
#define PROTO_HEARTBEAT_MS		1000

#define PROTO_TOPIC_BUILD		"build"
#define PROTO_TOPIC_TASK		"task"
#define PROTO_TOPIC_POOL		"pool"
#define PROTO_TOPIC_INSTANCE		"instance"
#define PROTO_TOPIC_PROJECT		"project"
#define PROTO_TOPIC_AUDIT		"audit"
#define PROTO_TOPIC_GITHUB		"github"
#define PROTO_TOPIC_HEARTBEAT		"hb"

#endif /* PROTO_H */
