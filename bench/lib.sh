# shellcheck shell=sh
# Helpers shared by the benchmark scripts, sourced by them: wait for a
# server to say where it listens, and stop it. Both act on $pid.

# wait_port LOG: wait up to 10 s for the server $pid to write
# "listening on 127.0.0.1:PORT" to LOG, and set port.
wait_port()
{
	i=0
	while [ "$i" -lt 100 ]; do
		port=$(sed -n \
		    's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
		    "$1" | head -n 1)
		[ -n "$port" ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# stop NAME: SIGTERM the server $pid, give it 10 s, and reap it. Returns
# its exit status.
stop()
{
	kill -TERM "$pid" 2>/dev/null
	i=0
	while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "bench: $1 still running 10 s after SIGTERM, killing it" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid"
	status=$?
	pid=
	return "$status"
}
