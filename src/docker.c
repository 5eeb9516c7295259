/*
 * docker: container identity and configuration from Docker's own state.
 *
 * The Engine API answers GET /containers/<id>/json with the same document
 * as config.v2.json plus the HostConfig, with two differences this file
 * cares about: mounts are an array "Mounts" (state: object "MountPoints"
 * keyed by destination) and the HostConfig is nested (state: its own file).
 *
 * The HTTP client is deliberately tiny: one request per connection
 * ("Connection: close"), a non-blocking socket and poll() against one
 * deadline for the whole exchange, so a daemon that hangs or trickles bytes
 * costs at most timeout_ms.  The body is framed by Content-Length,
 * chunked transfer coding, or the close.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vigil/docker.h"
#include "vigil/jsonp.h"

/* ---- time ---- */

static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int64_t vg_docker_time(const char *s)
{
	struct tm tm = {0};
	int64_t ns = 0, off = 0;
	time_t t;
	size_t p = 19;

	if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
	    s[13] != ':' || s[16] != ':')
		return 0;
	tm.tm_year = digits(s, 4) - 1900;
	tm.tm_mon = digits(s + 5, 2) - 1;
	tm.tm_mday = digits(s + 8, 2);
	tm.tm_hour = digits(s + 11, 2);
	tm.tm_min = digits(s + 14, 2);
	tm.tm_sec = digits(s + 17, 2);
	if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 ||
	    tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
		return 0;
	if (s[p] == '.') {
		int64_t scale = 100000000;

		for (p++; isdigit((unsigned char)s[p]); p++) {
			ns += (s[p] - '0') * scale;
			scale /= 10;
		}
	}
	if (s[p] == '+' || s[p] == '-') {
		/* "+HH:MM" and nothing after; checked left to right so a short
		 * string is never read past its end */
		int hh = digits(s + p + 1, 2), mm = -1;

		if (hh >= 0 && s[p + 3] == ':')
			mm = digits(s + p + 4, 2);
		if (hh < 0 || mm < 0 || s[p + 6] != '\0')
			return 0;
		off = (hh * 3600 + mm * 60) * (s[p] == '-' ? -1 : 1);
	} else if (s[p] != 'Z' || s[p + 1] != '\0') {
		return 0;
	}
	t = timegm(&tm);
	/* past 2262 the nanoseconds overflow: unknown, as unparsed */
	if (t == (time_t)-1 || (int64_t)t - off > INT64_MAX / 1000000000 - 1)
		return 0;
	return ((int64_t)t - off) * 1000000000 + ns;
}

/* ---- document to struct ---- */

static void parse_mount(struct vg_container *c, const struct vg_jdoc *d, int m)
{
	struct vg_mount_spec *ms;

	if (vg_jsonp_type(d, m) != VG_J_OBJ) {
		c->parse_errors++;
		return;
	}
	if (c->nmounts >= VG_CTR_MOUNTS_MAX)
		return;
	ms = &c->mounts[c->nmounts++];
	memset(ms, 0, sizeof(*ms));
	vg_container_jstr(c, d, vg_jsonp_get(d, m, "Source"), ms->source, sizeof(ms->source));
	vg_container_jstr(c, d, vg_jsonp_get(d, m, "Destination"), ms->destination,
			  sizeof(ms->destination));
	vg_container_jstr(c, d, vg_jsonp_get(d, m, "Type"), ms->type, sizeof(ms->type));
	vg_container_jbool(c, d, vg_jsonp_get(d, m, "RW"), &ms->rw);
}

/* "MountPoints": {"/dest": {...}}  or  "Mounts": [{...}] */
static void parse_mounts(struct vg_container *c, const struct vg_jdoc *d, int i)
{
	enum vg_jtype t = vg_jsonp_type(d, i);

	if (t == VG_J_NONE || t == VG_J_NULL)
		return;
	if (t != VG_J_OBJ && t != VG_J_ARR) {
		c->parse_errors++;
		return;
	}
	c->nmounts = 0;
	for (int k = vg_jsonp_first(d, i); k >= 0; k = vg_jsonp_next(d, k))
		parse_mount(c, d, t == VG_J_OBJ ? k + 1 : k);
}

/* "6379/tcp" -> 6379 and "tcp" (proto stays as given without a '/');
 * false when it is not a port */
static bool port_key(const struct vg_jdoc *d, int k, unsigned long *port, char *proto,
		     size_t protosz)
{
	char key[32], *slash, *end;

	vg_jsonp_str(d, k, key, sizeof(key), -1, NULL);
	slash = strchr(key, '/');
	if (slash) {
		*slash = '\0';
		vg_container_scopy(proto, protosz, slash + 1);
	}
	*port = strtoul(key, &end, 10);
	return end != key && !*end && *port <= 65535;
}

/* A map keyed by "port/proto" to walk: absent or null is none, anything
 * but an object is malformed (counted) */
static bool port_map(struct vg_container *c, const struct vg_jdoc *d, int obj)
{
	enum vg_jtype t = vg_jsonp_type(d, obj);

	if (t != VG_J_OBJ && t != VG_J_NONE && t != VG_J_NULL)
		c->parse_errors++;
	return t == VG_J_OBJ;
}

/* "ExposedPorts": {"6379/tcp": {}, ...} */
static void parse_exposed(struct vg_container *c, const struct vg_jdoc *d, int obj)
{
	if (!port_map(c, d, obj))
		return;
	c->nexposed = 0;
	for (int k = vg_jsonp_first(d, obj); k >= 0 && c->nexposed < VG_CTR_PORTS_MAX;
	     k = vg_jsonp_next(d, k)) {
		struct vg_port_binding *e = &c->exposed[c->nexposed];
		char proto[8] = "tcp";
		unsigned long port;

		if (!port_key(d, k, &port, proto, sizeof(proto))) {
			c->parse_errors++;
			continue;
		}
		memset(e, 0, sizeof(*e));
		e->container_port = (uint16_t)port;
		vg_container_scopy(e->proto, sizeof(e->proto), proto);
		c->nexposed++;
	}
}

/* -P: each exposed port not bound already, on all addresses (a host port
 * Docker picks, 0 here) */
static void publish_exposed(struct vg_container *c)
{
	for (unsigned i = 0; i < c->nexposed && c->nports < VG_CTR_PORTS_MAX; i++) {
		const struct vg_port_binding *e = &c->exposed[i];
		bool bound = false;

		for (unsigned j = 0; j < c->nports && !bound; j++)
			bound = c->ports[j].container_port == e->container_port &&
				!strcmp(c->ports[j].proto, e->proto);
		if (!bound)
			c->ports[c->nports++] = *e;
	}
}

/* "PortBindings": {"6379/tcp": [{"HostIp": "", "HostPort": "6379"}], ...} */
static void parse_ports(struct vg_container *c, const struct vg_jdoc *d, int obj)
{
	if (!port_map(c, d, obj))
		return;
	c->nports = 0;
	for (int k = vg_jsonp_first(d, obj); k >= 0; k = vg_jsonp_next(d, k)) {
		char proto[8] = "tcp", *end;
		unsigned long cport;
		int arr = k + 1;

		if (!port_key(d, k, &cport, proto, sizeof(proto))) {
			c->parse_errors++;
			continue;
		}
		if (vg_jsonp_type(d, arr) == VG_J_NULL)
			continue;
		if (vg_jsonp_type(d, arr) != VG_J_ARR) {
			c->parse_errors++;
			continue;
		}
		for (int b = vg_jsonp_first(d, arr); b >= 0; b = vg_jsonp_next(d, b)) {
			struct vg_port_binding *pb;
			char hport[16] = "";
			unsigned long hp = 0;

			if (c->nports >= VG_CTR_PORTS_MAX)
				return;
			if (vg_jsonp_type(d, b) != VG_J_OBJ) {
				c->parse_errors++;
				continue;
			}
			pb = &c->ports[c->nports++];
			memset(pb, 0, sizeof(*pb));
			pb->container_port = (uint16_t)cport;
			vg_container_scopy(pb->proto, sizeof(pb->proto), proto);
			vg_container_jstr(c, d, vg_jsonp_get(d, b, "HostIp"), pb->host_ip,
					  sizeof(pb->host_ip));
			vg_container_jstr(c, d, vg_jsonp_get(d, b, "HostPort"), hport,
					  sizeof(hport));
			if (hport[0]) {
				/* a port, or a range ("8000-8010", -p 8000-8010:80):
				 * its first port stands for it */
				hp = strtoul(hport, &end, 10);
				if (*end == '-' && end[1] >= '0' && end[1] <= '9') {
					unsigned long last = strtoul(end + 1, &end, 10);

					if (last < hp || last > 65535)
						hp = 65536;
				}
				if (*end || hp > 65535) {
					c->parse_errors++;
					hp = 0;
				}
			}
			pb->host_port = (uint16_t)hp;
		}
	}
}

static void parse_secopt(struct vg_container *c, const struct vg_jdoc *d, int arr)
{
	enum vg_jtype t = vg_jsonp_type(d, arr);

	if (t == VG_J_NONE || t == VG_J_NULL)
		return;
	if (t != VG_J_ARR) {
		c->parse_errors++;
		return;
	}
	for (int i = vg_jsonp_first(d, arr); i >= 0; i = vg_jsonp_next(d, i)) {
		static const char nnp[] = "no-new-privileges";
		char opt[64];

		vg_jsonp_str(d, i, opt, sizeof(opt), -1, NULL);
		if (strncmp(opt, nnp, sizeof(nnp) - 1))
			continue;
		const char *rest = opt + sizeof(nnp) - 1;

		if (!*rest || !strcmp(rest, ":true") || !strcmp(rest, "=true"))
			c->no_new_privileges = true;
		else if (!strcmp(rest, ":false") || !strcmp(rest, "=false"))
			c->no_new_privileges = false;
	}
}

static void parse_hostcfg(struct vg_container *c, const struct vg_jdoc *d, int hc)
{
	if (vg_jsonp_type(d, hc) != VG_J_OBJ) {
		if (vg_jsonp_type(d, hc) != VG_J_NONE)
			c->parse_errors++;
		return;
	}
	vg_container_jbool(c, d, vg_jsonp_get(d, hc, "Privileged"), &c->privileged);
	vg_container_jbool(c, d, vg_jsonp_get(d, hc, "ReadonlyRootfs"), &c->readonly_rootfs);
	vg_container_jstr(c, d, vg_jsonp_get(d, hc, "NetworkMode"), c->network_mode,
			  sizeof(c->network_mode));
	vg_container_jstr(c, d, vg_jsonp_get(d, hc, "PidMode"), c->pid_mode, sizeof(c->pid_mode));
	vg_container_jstr(c, d, vg_jsonp_get(d, hc, "IpcMode"), c->ipc_mode, sizeof(c->ipc_mode));
	vg_container_jstr(c, d, vg_jsonp_get(d, hc, "UsernsMode"), c->userns_mode,
			  sizeof(c->userns_mode));
	vg_container_ji64(c, d, vg_jsonp_get(d, hc, "Memory"), &c->memory_limit);
	vg_container_ji64(c, d, vg_jsonp_get(d, hc, "NanoCpus"), &c->nano_cpus);
	vg_container_ji64(c, d, vg_jsonp_get(d, hc, "CpuQuota"), &c->cpu_quota);
	vg_container_ji64(c, d, vg_jsonp_get(d, hc, "CpuPeriod"), &c->cpu_period);
	vg_container_ji64(c, d, vg_jsonp_get(d, hc, "PidsLimit"), &c->pids_limit);
	vg_container_jcaps(c, d, vg_jsonp_get(d, hc, "CapAdd"), c->cap_add, &c->ncap_add);
	vg_container_jcaps(c, d, vg_jsonp_get(d, hc, "CapDrop"), c->cap_drop, &c->ncap_drop);
	parse_secopt(c, d, vg_jsonp_get(d, hc, "SecurityOpt"));
	parse_ports(c, d, vg_jsonp_get(d, hc, "PortBindings"));
	vg_container_jbool(c, d, vg_jsonp_get(d, hc, "PublishAllPorts"), &c->publish_all);
	/* config.v2.json (ExposedPorts) is read before hostconfig.json, and
	 * the inspect document's Config before its HostConfig */
	if (c->publish_all)
		publish_exposed(c);
}

/* What config.v2.json and the inspect document share. */
static void parse_common(struct vg_container *c, const struct vg_jdoc *d)
{
	char name[VG_CTR_NAME_MAX + 1] = "", started[64] = "";
	int cfg = vg_jsonp_get(d, 0, "Config");
	int state = vg_jsonp_get(d, 0, "State");
	int path = vg_jsonp_get(d, 0, "Path");
	int64_t pid = 0;

	vg_container_jstr(c, d, vg_jsonp_get(d, 0, "Name"), name, sizeof(name));
	if (name[0])
		vg_container_scopy(c->name, sizeof(c->name), name[0] == '/' ? name + 1 : name);
	vg_container_jstr(c, d, vg_jsonp_get(d, 0, "Image"), c->image_id, sizeof(c->image_id));

	if (vg_jsonp_type(d, cfg) == VG_J_OBJ) {
		vg_container_jstr(c, d, vg_jsonp_get(d, cfg, "Image"), c->image, sizeof(c->image));
		vg_container_jstr(c, d, vg_jsonp_get(d, cfg, "User"), c->user, sizeof(c->user));
		vg_container_jbool(c, d, vg_jsonp_get(d, cfg, "Tty"), &c->tty);
		vg_container_jlabels(c, d, vg_jsonp_get(d, cfg, "Labels"));
		vg_container_jenv(c, d, vg_jsonp_get(d, cfg, "Env"));
		parse_exposed(c, d, vg_jsonp_get(d, cfg, "ExposedPorts"));
	} else if (cfg >= 0) {
		c->parse_errors++;
	}
	if (vg_jsonp_type(d, state) == VG_J_OBJ) {
		vg_container_jbool(c, d, vg_jsonp_get(d, state, "Running"), &c->running);
		vg_container_ji64(c, d, vg_jsonp_get(d, state, "Pid"), &pid);
		if (pid > 0 && pid <= INT32_MAX)
			c->pid = (int32_t)pid;
		vg_container_jstr(c, d, vg_jsonp_get(d, state, "StartedAt"), started,
				  sizeof(started));
		if (started[0])
			c->started_ns = vg_docker_time(started);
	}
	/* the main process as it ran: Path + Args, else Entrypoint + Cmd */
	c->cmd[0] = '\0';
	if (vg_jsonp_type(d, path) == VG_J_STR) {
		vg_container_jcmd(c, d, path);
		vg_container_jcmd(c, d, vg_jsonp_get(d, 0, "Args"));
	} else if (vg_jsonp_type(d, cfg) == VG_J_OBJ) {
		vg_container_jcmd(c, d, vg_jsonp_get(d, cfg, "Entrypoint"));
		vg_container_jcmd(c, d, vg_jsonp_get(d, cfg, "Cmd"));
	}
}

enum doc_kind { DOC_CONFIG, DOC_HOSTCONFIG, DOC_INSPECT };

/* want_id: the id asked for, which an inspect answer must carry */
static int parse_doc(const char *json, size_t len, struct vg_container *c, enum doc_kind kind,
		     const char *want_id)
{
	struct vg_jdoc d;
	bool nnp = false;
	int err;

	if (!json || !c)
		return -EINVAL;
	err = vg_jsonp_parse_object(&d, json, len);
	if (err)
		return err;
	switch (kind) {
	case DOC_CONFIG:
		parse_common(c, &d);
		parse_mounts(c, &d, vg_jsonp_get(&d, 0, "MountPoints"));
		vg_container_jbool(c, &d, vg_jsonp_get(&d, 0, "NoNewPrivileges"), &nnp);
		if (nnp)
			c->no_new_privileges = true;
		break;
	case DOC_HOSTCONFIG:
		parse_hostcfg(c, &d, 0);
		break;
	case DOC_INSPECT:
		/*
		 * The Engine looks a name up too when no id matches, and a
		 * name may be 64 hex digits: an answer about another
		 * container is no answer about this one
		 */
		if (want_id && !vg_jsonp_eq(&d, vg_jsonp_get(&d, 0, "Id"), want_id)) {
			vg_jsonp_free(&d);
			return -ENOENT;
		}
		parse_common(c, &d);
		parse_mounts(c, &d, vg_jsonp_get(&d, 0, "Mounts"));
		parse_hostcfg(c, &d, vg_jsonp_get(&d, 0, "HostConfig"));
		break;
	}
	vg_jsonp_free(&d);
	return 0;
}

int vg_docker_parse_config(const char *json, size_t len, struct vg_container *c)
{
	return parse_doc(json, len, c, DOC_CONFIG, NULL);
}

int vg_docker_parse_hostconfig(const char *json, size_t len, struct vg_container *c)
{
	return parse_doc(json, len, c, DOC_HOSTCONFIG, NULL);
}

int vg_docker_parse_inspect(const char *json, size_t len, struct vg_container *c)
{
	return parse_doc(json, len, c, DOC_INSPECT, NULL);
}

static bool valid_id(const char *id)
{
	size_t n = 0;

	if (!id)
		return false;
	for (; id[n]; n++)
		if (!isdigit((unsigned char)id[n]) && !(id[n] >= 'a' && id[n] <= 'f'))
			return false;
	return n == VG_CTR_ID_LEN;
}

/* Raw state holds environment values: wipe it before it goes back. */
static void wipe_free(char *buf, size_t len)
{
	if (!buf)
		return;
	explicit_bzero(buf, len);
	free(buf);
}

int vg_docker_read_state(const char *root, const char *id, struct vg_container *c)
{
	char rel[128];
	char *buf = NULL;
	size_t len = 0;
	int err;

	if (!root || !c || !valid_id(id))
		return -EINVAL;
	snprintf(rel, sizeof(rel), "containers/%s/config.v2.json", id);
	err = vg_jsonp_read_file(root, rel, VG_JSONP_FILE_MAX, &buf, &len);
	if (err)
		return err;
	err = vg_docker_parse_config(buf, len, c);
	wipe_free(buf, len);
	if (err)
		return err;
	snprintf(rel, sizeof(rel), "containers/%s/hostconfig.json", id);
	buf = NULL;
	if (!vg_jsonp_read_file(root, rel, VG_JSONP_FILE_MAX, &buf, &len)) {
		if (vg_docker_parse_hostconfig(buf, len, c))
			c->parse_errors++;
		wipe_free(buf, len);
	}
	snprintf(c->source, sizeof(c->source), "docker-state");
	c->enrich = VG_ENRICH_DONE;
	return 0;
}

/* ---- HTTP/1.1 over a unix socket ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for ev on fd until deadline: 0, -ETIMEDOUT, or -errno. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		struct pollfd pfd = {.fd = fd, .events = ev};
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		return 0;
	}
}

/* more bytes needed: the walk resumes at r, the chunk it could not finish */
static int more(size_t *from, size_t r)
{
	if (from)
		*from = r;
	return 0;
}

/*
 * Walk a chunked body at b[0..n).  Returns 1 when complete (decoded length
 * in *out, written in place at b when decode), 0 when more bytes are
 * needed, -EPROTO when malformed.  from (NULL: from the start; not with
 * decode): where the last walk stopped for more bytes, the start of the
 * chunk it could not finish, so that each byte is walked once.
 */
static int chunked(char *b, size_t n, bool decode, size_t *out, size_t *from)
{
	size_t r = from ? *from : 0, w = 0;

	for (;;) {
		size_t sz = 0, k = r;
		int digits_seen = 0;

		while (k < n && isxdigit((unsigned char)b[k])) {
			int v = isdigit((unsigned char)b[k])
					? b[k] - '0'
					: (tolower((unsigned char)b[k]) - 'a' + 10);

			if (++digits_seen > 8)
				return -EPROTO;
			sz = sz * 16 + (size_t)v;
			k++;
		}
		if (k >= n)
			return more(from, r);
		if (!digits_seen)
			return -EPROTO;
		/* skip chunk extensions up to CRLF */
		while (k < n && b[k] != '\n')
			k++;
		if (k >= n)
			return more(from, r);
		k++;
		if (sz == 0) {
			/* trailers end with an empty line; accept the end of data too */
			*out = w;
			return 1;
		}
		/* sz + 2 would wrap with a 32-bit size_t (sz up to 2^32 - 1) */
		if (n - k < 2 || n - k - 2 < sz)
			return more(from, r);
		if (decode)
			memmove(b + w, b + k, sz);
		w += sz;
		k += sz;
		if (b[k] == '\r')
			k++;
		if (b[k] != '\n')
			return -EPROTO;
		r = k + 1;
	}
}

struct http_head {
	int status;
	size_t hdr_len; /* bytes up to and including the blank line */
	bool has_length;
	size_t length;
	bool chunked;
};

static int parse_head(const char *b, size_t n, struct http_head *h)
{
	const char *end = memmem(b, n, "\r\n\r\n", 4);
	const char *line, *eol;

	if (!end)
		return 0;
	memset(h, 0, sizeof(*h));
	h->hdr_len = (size_t)(end - b) + 4;
	if (n < 12 || strncmp(b, "HTTP/1.", 7) || b[8] != ' ')
		return -EPROTO;
	h->status = digits(b + 9, 3);
	if (h->status < 100)
		return -EPROTO;
	line = memchr(b, '\n', (size_t)(end - b) + 2) + 1;
	for (; line < end; line = eol + 1) {
		eol = memchr(line, '\n', (size_t)(end + 2 - line));
		if (!eol)
			break;
		size_t ll = (size_t)(eol - line);

		if (ll >= 15 && !strncasecmp(line, "Content-Length:", 15)) {
			/* digits within this line only: the buffer is not a
			 * string, and an empty value must not reach the next */
			size_t i = 15, nd = 0, cl = 0;

			while (i < ll && (line[i] == ' ' || line[i] == '\t'))
				i++;
			for (; i < ll && isdigit((unsigned char)line[i]); i++, nd++) {
				if (cl > SIZE_MAX / 20)
					return -EPROTO;
				cl = cl * 10 + (size_t)(line[i] - '0');
			}
			while (i < ll && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
				i++;
			if (!nd || i != ll)
				return -EPROTO;
			h->has_length = true;
			h->length = cl;
		} else if (ll >= 18 && !strncasecmp(line, "Transfer-Encoding:", 18)) {
			if (memmem(line, ll, "chunked", 7))
				h->chunked = true;
		}
	}
	return 1;
}

int vg_http_get_unix(const char *sock, const char *path, int timeout_ms, char *buf, size_t cap,
		     size_t *len, int *status)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : VG_DOCKER_TIMEOUT_MS);
	struct http_head h = {0};
	char req[512];
	size_t got = 0, sent = 0, reqlen, scanned = 0;
	bool have_head = false, done = false;
	int fd, err = 0, n;

	if (!sock || !path || !buf || cap < 2 || !len || !status || path[0] != '/' ||
	    strlen(sock) >= sizeof(sa.sun_path) || strpbrk(path, "\r\n "))
		return -EINVAL;
	*len = 0;
	*status = 0;
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\nHost: docker\r\nUser-Agent: vigil\r\n"
		     "Accept: application/json\r\nConnection: close\r\n\r\n",
		     path);
	if (n < 0 || (size_t)n >= sizeof(req))
		return -ENAMETOOLONG;
	reqlen = (size_t)n;
	memcpy(sa.sun_path, sock, strlen(sock));

	/*
	 * A unix socket's connect has no "in progress": a non-blocking one
	 * whose listener's backlog is full fails with EAGAIN and stays
	 * unconnected.  A blocking one waits for room, as long as its send
	 * timeout, and the rest is non-blocking.
	 */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	for (;;) {
		int64_t left = deadline - now_ms();
		struct timeval tv = {.tv_sec = left / 1000, .tv_usec = left % 1000 * 1000};

		if (left <= 0 || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
			err = left <= 0 ? -ETIMEDOUT : -errno;
			goto out;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		if (errno != EINTR) {
			err = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto out;
		}
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		err = -errno;
		goto out;
	}
	while (sent < reqlen) {
		ssize_t w = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			err = wait_fd(fd, POLLOUT, deadline);
			if (err)
				goto out;
			continue;
		}
		if (w < 0) {
			err = -errno;
			goto out;
		}
		sent += (size_t)w;
	}
	while (!done) {
		ssize_t r;

		if (got >= cap - 1) {
			err = -EFBIG;
			goto out;
		}
		r = recv(fd, buf + got, cap - 1 - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN) {
			err = wait_fd(fd, POLLIN, deadline);
			if (err)
				goto out;
			continue;
		}
		if (r < 0) {
			err = -errno;
			goto out;
		}
		if (r > 0)
			got += (size_t)r;
		if (!have_head) {
			int ph = parse_head(buf, got, &h);

			if (ph < 0) {
				err = ph;
				goto out;
			}
			have_head = ph == 1;
			if (have_head && h.has_length && h.length > cap - 1) {
				err = -EFBIG;
				goto out;
			}
		}
		if (have_head) {
			size_t body = got - h.hdr_len, dl;

			if (h.chunked) {
				int cr = chunked(buf + h.hdr_len, body, false, &dl, &scanned);

				if (cr < 0) {
					err = cr;
					goto out;
				}
				done = cr == 1;
			} else if (h.has_length) {
				done = body >= h.length;
			}
		}
		/* a runtime that always has another byte waiting is held to
		 * the deadline too */
		if (!done && now_ms() >= deadline) {
			err = -ETIMEDOUT;
			goto out;
		}
		if (r == 0 && !done) {
			/* closed: fine only when the body runs to the close */
			if (!have_head || h.chunked || h.has_length) {
				err = -EPROTO;
				goto out;
			}
			done = true;
		}
	}
	size_t blen = got - h.hdr_len;

	if (h.chunked)
		chunked(buf + h.hdr_len, blen, true, &blen, NULL);
	else if (h.has_length)
		blen = h.length;
	memmove(buf, buf + h.hdr_len, blen);
	/* wipe what is left of the raw response beyond the body */
	explicit_bzero(buf + blen, got - blen);
	buf[blen] = '\0';
	*len = blen;
	*status = h.status;
out:
	if (err)
		explicit_bzero(buf, got < cap ? got : cap);
	close(fd);
	return err;
}

static int api_get(const char *sock, const char *path, int timeout_ms, char **body, size_t *len)
{
	char *buf = malloc(VG_HTTP_RESP_MAX);
	int status = 0, err;

	*body = NULL;
	*len = 0;
	if (!buf)
		return -ENOMEM;
	err = vg_http_get_unix(sock, path, timeout_ms, buf, VG_HTTP_RESP_MAX, len, &status);
	if (!err && status == 404)
		err = -ENOENT;
	else if (!err && status != 200)
		err = -EPROTO;
	if (err) {
		/* a failed transfer wiped what it had received (len stays 0);
		 * a refused request (404: a container already gone) leaves its
		 * body and NUL, not the whole megabyte */
		wipe_free(buf, *len + 1);
		return err;
	}
	*body = buf;
	return 0;
}

int vg_docker_inspect(const char *sock, const char *id, int timeout_ms, struct vg_container *c)
{
	char path[128], *body;
	size_t len = 0;
	int err;

	if (!sock || !c || !valid_id(id))
		return -EINVAL;
	snprintf(path, sizeof(path), "/containers/%s/json", id);
	err = api_get(sock, path, timeout_ms, &body, &len);
	if (err)
		return err;
	err = parse_doc(body, len, c, DOC_INSPECT, id);
	wipe_free(body, len + 1);
	if (err)
		return err;
	snprintf(c->source, sizeof(c->source), "docker-api");
	c->enrich = VG_ENRICH_DONE;
	return 0;
}

int vg_docker_list(const char *sock, int timeout_ms, char (*ids)[VG_CTR_ID_LEN + 1], unsigned max,
		   unsigned *n)
{
	struct vg_jdoc d;
	char *body;
	size_t len = 0;
	int err;

	if (!sock || !ids || !n)
		return -EINVAL;
	*n = 0;
	err = api_get(sock, "/containers/json", timeout_ms, &body, &len);
	if (err)
		return err;
	err = vg_jsonp_parse_alloc(&d, body, len);
	if (!err && vg_jsonp_type(&d, 0) != VG_J_ARR)
		err = -EPROTO;
	if (!err) {
		for (int i = vg_jsonp_first(&d, 0); i >= 0 && *n < max; i = vg_jsonp_next(&d, i)) {
			char id[VG_CTR_ID_LEN + 2];

			vg_jsonp_str(&d, vg_jsonp_get(&d, i, "Id"), id, sizeof(id), -1, NULL);
			if (valid_id(id))
				vg_container_scopy(ids[(*n)++], VG_CTR_ID_LEN + 1, id);
		}
	}
	vg_jsonp_free(&d);
	wipe_free(body, len + 1);
	return err;
}
