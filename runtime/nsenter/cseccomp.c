/* cseccomp.c: linux.seccomp for the C create (fastcreate.c), without
 * compiling it. Compiling a profile is libseccomp's work in the Go command
 * (seccomp.Compile), which keeps every program it compiled in the cache
 * under the runtime's root; it also keeps there, for this file, an entry
 * named by the configuration itself (seccomp.CEntry): a header, which is
 * the configuration's JSON as encoding/json writes specs.LinuxSeccomp,
 * then the seccomp(2) flags and the BPF program. Here that JSON is written
 * again from the configuration as jansson read it, byte for byte as Go
 * would, and an entry is used only when its header is exactly that: a
 * configuration this file cannot write as Go would (a string that Go
 * escapes, a member of another type, a listener) or has no entry yet (the
 * first container with that profile) is the Go command's, which compiles
 * it and leaves the entry for the next create. */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <seccomp.h>

#include "fastint.h"

/* GOARCH is Go's name of the architecture the binary was built for, part
 * of seccomp.CEntry's header ("": unknown here, no C path). */
#if defined(__x86_64__) && defined(__ILP32__)
#define GOARCH "" /* x32: no Go port */
#elif defined(__x86_64__)
#define GOARCH "amd64"
#elif defined(__i386__)
#define GOARCH "386"
#elif defined(__aarch64__)
#define GOARCH "arm64"
#elif defined(__arm__)
#define GOARCH "arm"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define GOARCH "ppc64le"
#elif defined(__powerpc64__)
#define GOARCH "ppc64"
#elif defined(__s390x__)
#define GOARCH "s390x"
#elif defined(__riscv) && __riscv_xlen == 64
#define GOARCH "riscv64"
#elif defined(__loongarch64)
#define GOARCH "loong64"
#else
#define GOARCH ""
#endif

/* put_str writes a string member's value as encoding/json does for a
 * string without anything to escape; -1 for anything else. */
static int put_str(FILE *f, json_t *v)
{
	if (!json_is_string(v) || !fx_plain(json_string_value(v)))
		return -1;
	fprintf(f, "\"%s\"", json_string_value(v));
	return 0;
}

/* put_uint writes a non-negative integer (Go's uint and uint64; jansson
 * refuses the configuration before this for a value above INT64_MAX). */
static int put_uint(FILE *f, json_t *v)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	fprintf(f, "%lld", (long long)json_integer_value(v));
	return 0;
}

/* unset is a string member that is missing, null or "" (Go's zero). */
static int unset(json_t *o, const char *k)
{
	json_t *v = fx_member(o, k);
	return !v || (json_is_string(v) && !*json_string_value(v));
}

/* put_member writes member k of a struct's field that is not omitempty:
 * its string or number, or the zero value when it is missing or null. */
static int put_member(FILE *f, json_t *o, const char *k, int number)
{
	json_t *v = fx_member(o, k);

	fprintf(f, "\"%s\":", k);
	if (!v) {
		fputs(number ? "0" : "\"\"", f);
		return 0;
	}
	return number ? put_uint(f, v) : put_str(f, v);
}

/* put_strs writes a []string member: "null" for a nil slice unless the
 * member is omitempty (then nothing, for nil or empty). */
static int put_strs(FILE *f, json_t *o, const char *k, int omitempty, int *first)
{
	json_t *a = fx_member(o, k), *v;
	size_t i;

	if (a && !json_is_array(a))
		return -1;
	if (omitempty && (!a || !json_array_size(a)))
		return 0;
	fprintf(f, "%s\"%s\":", *first ? "" : ",", k);
	*first = 0;
	if (!a) {
		fputs("null", f);
		return 0;
	}
	fputc('[', f);
	json_array_foreach(a, i, v) {
		if (i)
			fputc(',', f);
		if (put_str(f, v) < 0)
			return -1;
	}
	fputc(']', f);
	return 0;
}

/* put_errno writes a *uint member (omitempty: nothing when nil). */
static int put_errno(FILE *f, json_t *o, const char *k)
{
	json_t *v = fx_member(o, k);

	if (!v)
		return 0;
	fprintf(f, ",\"%s\":", k);
	return put_uint(f, v);
}

static int put_arg(FILE *f, json_t *a)
{
	static const char *const known[] = {"index", "value", "valueTwo", "op", NULL};
	json_t *v;

	if (!json_is_object(a) || !fx_known(a, known))
		return -1;
	fputc('{', f);
	if (put_member(f, a, "index", 1) < 0)
		return -1;
	fputc(',', f);
	if (put_member(f, a, "value", 1) < 0)
		return -1;
	/* omitempty: not when 0 */
	if ((v = fx_member(a, "valueTwo")) && !(json_is_integer(v) && json_integer_value(v) == 0)) {
		fputs(",\"valueTwo\":", f);
		if (put_uint(f, v) < 0)
			return -1;
	}
	fputc(',', f);
	if (put_member(f, a, "op", 0) < 0)
		return -1;
	fputc('}', f);
	return 0;
}

static int put_syscall(FILE *f, json_t *s)
{
	static const char *const known[] = {"names", "action", "errnoRet", "args", NULL};
	json_t *v, *a;
	size_t i;
	int first = 1;

	if (!json_is_object(s) || !fx_known(s, known))
		return -1;
	fputc('{', f);
	if (put_strs(f, s, "names", 0, &first) < 0)
		return -1;
	fputc(',', f);
	if (put_member(f, s, "action", 0) < 0)
		return -1;
	if (put_errno(f, s, "errnoRet") < 0)
		return -1;
	a = fx_member(s, "args");
	if (a && !json_is_array(a))
		return -1;
	if (a && json_array_size(a)) {
		fputs(",\"args\":[", f);
		json_array_foreach(a, i, v) {
			if (i)
				fputc(',', f);
			if (put_arg(f, v) < 0)
				return -1;
		}
		fputc(']', f);
	}
	fputc('}', f);
	return 0;
}

/* header writes seccomp.CEntry's header for sec: -1 when this file
 * cannot write it as Go would, or sec has a listener. */
static int header(json_t *sec, char **out, size_t *len)
{
	static const char *const known[] = {"defaultAction", "defaultErrnoRet", "architectures", "flags",
					    "listenerPath",  "listenerMetadata", "syscalls",	  NULL};
	const struct scmp_version *ver = seccomp_version();
	FILE *f;
	json_t *v, *a;
	size_t i;
	int bad = 0, first = 0;

	if (!json_is_object(sec) || !fx_known(sec, known) || !ver)
		return -1;
	/* A listener (or its metadata, which Go refuses without one) is
	 * the Go command's. */
	if (!unset(sec, "listenerPath") || !unset(sec, "listenerMetadata"))
		return -1;
	if (!(f = open_memstream(out, len)))
		return -1;
	fputc('{', f);
	bad = put_member(f, sec, "defaultAction", 0) < 0;
	bad = bad || put_errno(f, sec, "defaultErrnoRet") < 0;
	bad = bad || put_strs(f, sec, "architectures", 1, &first) < 0;
	bad = bad || put_strs(f, sec, "flags", 1, &first) < 0;
	a = fx_member(sec, "syscalls");
	if (!bad && a && !json_is_array(a))
		bad = 1;
	if (!bad && a && json_array_size(a)) {
		fputs(",\"syscalls\":[", f);
		json_array_foreach(a, i, v) {
			if (i)
				fputc(',', f);
			if (put_syscall(f, v) < 0) {
				bad = 1;
				break;
			}
		}
		fputc(']', f);
	}
	fprintf(f, "}%clibseccomp %u.%u.%u %s%c", 0, ver->major, ver->minor, ver->micro, GOARCH, 0);
	/* SCMP_ACT_NOTIFY wants a listener, which is Go's; without one Go
	 * fails the create in its words. */
	if (fclose(f) != 0 || bad || !GOARCH[0] || memmem(*out, *len, "\"SCMP_ACT_NOTIFY\"", 17)) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* fnv1a is FNV-1a 64, Go's hash/fnv New64a. */
static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	while (n--) {
		h ^= (unsigned char)*p++;
		h *= 1099511628211ULL;
	}
	return h;
}

/* ocikit_seccomp_header is header() for a linux.seccomp object in JSON
 * (nsenter.SeccompHeader, which tests compare with seccomp.CEntry): 0
 * and the header, or -1. */
int ocikit_seccomp_header(const char *js, size_t n, char **out, size_t *len)
{
	json_t *sec = json_loadb(js, n, JSON_REJECT_DUPLICATES, NULL);
	int rc = sec ? header(sec, out, len) : -1;

	json_decref(sec);
	return rc;
}

int ocikit_seccomp_cached(json_t *sec, const char *root, char **payload, size_t *len)
{
	char *hdr = NULL, *data = NULL, path[PATH_MAX];
	size_t hlen = 0, dlen = 0;
	int fd, ok = 0;

	*payload = NULL;
	*len = 0;
	if (header(sec, &hdr, &hlen) < 0)
		return 0;
	if (snprintf(path, sizeof(path), "%s/.seccomp-cache/c-%016llx.bpf", root,
		     (unsigned long long)fnv1a(hdr, hlen)) >= (int)sizeof(path))
		goto out;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		goto out;
	ok = ocikit_readfull(fd, 16 << 20, &data, &dlen);
	close(fd);
	/* The header, then the flags and at least one instruction. */
	if (!ok || dlen < hlen + 4 + 8 || (dlen - hlen - 4) % 8 || memcmp(data, hdr, hlen)) {
		ok = 0;
		goto out;
	}
	if ((*payload = malloc(dlen - hlen))) {
		memcpy(*payload, data + hlen, dlen - hlen);
		*len = dlen - hlen;
	}
	ok = *payload != NULL;
out:
	free(hdr);
	free(data);
	return ok;
}
