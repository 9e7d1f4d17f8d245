/*
 * vcache_diff: seeded sequences of libvmemcache calls, built once against the reference
 * libvmemcache.so.0 and once against libmorselcache.so (same source, same seeds).
 *
 *   vcache_diff exact SEED none|lru|lru-victims DIR
 *                                          every call's result, value checksum (and whether the
 *                                          bytes are the value last put), hook call and count,
 *                                          one line each: the pool never fills, so the two
 *                                          outputs must be equal; lru-victims adds evictions of
 *                                          the LRU victim (evict with a NULL key)
 *   vcache_diff evict SEED DIR             an LRU pool that keeps filling: checks invariants
 *                                          (hits return the last value put, evicted keys miss,
 *                                          one hook call per eviction, statistics add up) and
 *                                          prints a summary; exits 1 on a violation
 *   vcache_diff which                      the file that defines vmemcache_new in this process
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <libvmemcache.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xorshift.h"

/* The bytes of version `ver` of key `k`'s value: a function of both, checkable on read. */
static void fill(unsigned char *buf, size_t n, unsigned k, unsigned ver)
{
	uint64_t x = 0x9E3779B97F4A7C15ull * (k + 1) + ver * 0x100000001B3ull + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (unsigned char)x;
	}
}

static uint64_t sum(const unsigned char *b, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

#define NKEYS_EXACT 64
#define NKEYS_EVICT 400
static unsigned ver[NKEYS_EVICT];
static size_t vsz[NKEYS_EVICT];
static int present[NKEYS_EVICT]; /* evict mode: 1 while the model says it may be in the cache */
static unsigned long hook_evicts, hook_misses;
static int exact_mode;
static unsigned char *val;

static int key_of(const void *key, size_t ks)
{
	char s[16];
	if (ks == 0 || ks >= sizeof(s))
		return -1;
	memcpy(s, key, ks);
	s[ks] = 0;
	return atoi(s + 1);
}

static void on_evict(VMEMcache *c, const void *key, size_t ks, void *arg)
{
	(void)c;
	(void)arg;
	hook_evicts++;
	int k = key_of(key, ks);
	if (exact_mode)
		printf("  hook evict %.*s\n", (int)ks, (const char *)key);
	else if (k >= 0)
		present[k] = 0;
}

static void on_miss(VMEMcache *c, const void *key, size_t ks, void *arg)
{
	(void)arg;
	hook_misses++;
	int k = key_of(key, ks);
	if (exact_mode)
		printf("  hook miss %.*s\n", (int)ks, (const char *)key);
	if (k >= 0 && k % 3 == 0) { /* a cache in front of a backing store: fetch and put */
		ver[k]++;
		vsz[k] = 100 + k * 7;
		fill(val, vsz[k], k, ver[k]);
		int r = vmemcache_put(c, key, ks, val, vsz[k]);
		if (exact_mode)
			printf("  hook put -> %d\n", r);
		else if (r == 0)
			present[k] = 1;
	}
}

static void print_stats(VMEMcache *c)
{
	size_t v[6];
	for (int s = 0; s < 6; s++)
		if (vmemcache_get_stat(c, (enum vmemcache_statistic)s, &v[s], sizeof(v[s])))
			v[s] = (size_t)-1;
	printf("stats put=%zu get=%zu hit=%zu miss=%zu evict=%zu entries=%zu\n", v[0], v[1], v[2], v[3], v[4], v[5]);
}

static VMEMcache *make(size_t size, enum vmemcache_repl_p p, const char *dir)
{
	VMEMcache *c = vmemcache_new();
	if (!c || vmemcache_set_size(c, size) || vmemcache_set_extent_size(c, 256) ||
	    vmemcache_set_eviction_policy(c, p) || vmemcache_add(c, dir)) {
		fprintf(stderr, "cannot create the cache: %s\n", vmemcache_errormsg());
		exit(2);
	}
	vmemcache_callback_on_evict(c, on_evict, NULL);
	vmemcache_callback_on_miss(c, on_miss, NULL);
	return c;
}

static int exact(unsigned seed, enum vmemcache_repl_p p, int victims, const char *dir)
{
	(void)seed;
	exact_mode = 1;
	VMEMcache *c = make(8 << 20, p, dir);
	static unsigned char out[20000];
	char key[16];
	for (int i = 0; i < 3000; i++) {
		unsigned k = next() % NKEYS_EXACT, op = next() % 100;
		int ks = snprintf(key, sizeof(key), "k%u", k);
		errno = 0;
		if (op < 35) {
			size_t n = next() % 16385;
			fill(val, n, k, ver[k] + 1);
			int r = vmemcache_put(c, key, ks, val, n);
			printf("put %s %zu -> %d errno %d\n", key, n, r, r ? errno : 0);
			if (r == 0) {
				vsz[k] = n;
				ver[k]++;
			}
		} else if (op < 75) {
			size_t off = next() % 3 ? 0 : next() % 17000, bs = next() % 4 ? sizeof(out) : next() % 5000;
			size_t vs = 12345;
			ssize_t r = vmemcache_get(c, key, ks, out, bs, off, &vs);
			int e = r < 0 ? errno : 0;
			const char *check = "";
			if (r >= 0) { /* the bytes must be those of the version last put */
				fill(val, vsz[k], k, ver[k]);
				check = (size_t)r <= vsz[k] && !memcmp(out, val + (off < vsz[k] ? off : vsz[k]), (size_t)r) ? " ok" : " WRONG";
			}
			printf("get %s off %zu buf %zu -> %zd errno %d vsize %zu sum %016llx%s\n", key, off, bs, r,
			       e, vs, (unsigned long long)sum(out, r > 0 ? (size_t)r : 0), check);
		} else if (op < 85) {
			size_t vs = 12345;
			int r = vmemcache_exists(c, key, ks, &vs);
			printf("exists %s -> %d vsize %zu\n", key, r, vs);
		} else if (op < 93) {
			int r = vmemcache_evict(c, key, ks);
			printf("evict %s -> %d errno %d\n", key, r, r ? errno : 0);
		} else if (op < 96 && victims) {
			int r = vmemcache_evict(c, NULL, 0);
			printf("evict-lru -> %d\n", r);
		} else {
			print_stats(c);
		}
	}
	print_stats(c);
	printf("hooks evict=%lu miss=%lu\n", hook_evicts, hook_misses);
	vmemcache_delete(c);
	return 0;
}

static int bad;
#define CHECK(cond, ...) do { if (!(cond)) { bad++; fprintf(stderr, "violation: " __VA_ARGS__); fputc('\n', stderr); } } while (0)

static int evicting(unsigned seed, const char *dir)
{
	(void)seed;
	const size_t pool = 4 << 20;
	VMEMcache *c = make(pool, VMEMCACHE_REPLACEMENT_LRU, dir);
	static unsigned char out[1 << 17], want[1 << 17];
	unsigned long gets = 0, hits = 0, puts = 0, frag_fail = 0, other_fail = 0;
	char key[16];
	for (int i = 0; i < 20000; i++) {
		unsigned k = next() % NKEYS_EVICT;
		int ks = snprintf(key, sizeof(key), "k%u", k);
		if (next() % 2) {
			size_t n = 256 + next() % (64 * 1024 - 255);
			if (present[k])
				vmemcache_evict(c, key, ks); /* replace: evict first, as a cache user does */
			ver[k]++;
			fill(val, n, k, ver[k]);
			errno = 0;
			if (vmemcache_put(c, key, ks, val, n) == 0) {
				puts++;
				present[k] = 1;
				vsz[k] = n;
			} else if (errno == ENOSPC) {
				frag_fail++;
			} else {
				other_fail++;
			}
		} else {
			size_t vs = 0;
			gets++;
			ssize_t r = vmemcache_get(c, key, ks, out, sizeof(out), 0, &vs);
			if (r >= 0) {
				hits++;
				CHECK(present[k], "key %u hit after its eviction hook ran", k);
				CHECK((size_t)r == vsz[k] && vs == vsz[k], "key %u: size %zd/%zu, last put %zu", k, r, vs, vsz[k]);
				fill(want, vsz[k], k, ver[k]);
				CHECK(memcmp(out, want, vsz[k]) == 0, "key %u: the value is not the one last put", k);
			} else {
				CHECK(errno == ENOENT, "get failed with errno %d", errno);
				CHECK(!present[k] || k % 3 == 0, "key %u missed but was never evicted", k);
			}
		}
	}
	size_t st[9];
	for (int s = 0; s < 9; s++)
		vmemcache_get_stat(c, (enum vmemcache_statistic)s, &st[s], 8);
	unsigned long present_n = 0;
	for (int k = 0; k < NKEYS_EVICT; k++)
		present_n += present[k];
	CHECK(st[VMEMCACHE_STAT_EVICT] == hook_evicts, "evict stat %zu, hook calls %lu", st[4], hook_evicts);
	CHECK(st[VMEMCACHE_STAT_GET] == gets, "get stat %zu, gets %lu", st[1], gets);
	CHECK(st[VMEMCACHE_STAT_HIT] + st[VMEMCACHE_STAT_MISS] == st[VMEMCACHE_STAT_GET], "hit+miss != get");
	CHECK(st[VMEMCACHE_STAT_ENTRIES] == st[VMEMCACHE_STAT_PUT] - st[VMEMCACHE_STAT_EVICT], "entries != puts - evicts");
	CHECK(st[VMEMCACHE_STAT_ENTRIES] == present_n, "entries %zu, model %lu", st[5], present_n);
	CHECK(st[VMEMCACHE_STAT_POOL_SIZE_USED] <= pool, "pool used %zu > pool", st[7]);
	CHECK(other_fail == 0, "%lu puts failed with an errno other than ENOSPC", other_fail);
	printf("evict seed %u: puts %lu gets %lu hits %lu evictions %zu entries %zu pool-used %zu heap-entries %zu "
	       "enospc-puts %lu violations %d\n", seed, puts, gets, hits, st[4], st[5], st[7], st[8], frag_fail, bad);
	vmemcache_delete(c);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	val = malloc(1 << 17);
	if (argc >= 2 && !strcmp(argv[1], "which")) {
		Dl_info info;
		void *f = dlsym(RTLD_DEFAULT, "vmemcache_new");
		if (!f || !dladdr(f, &info))
			return 2;
		printf("%s\n", info.dli_fname);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "exact")) {
		rng = strtoul(argv[2], NULL, 0) * 2654435761u + 1;
		int none = !strcmp(argv[3], "none");
		return exact(strtoul(argv[2], NULL, 0), none ? VMEMCACHE_REPLACEMENT_NONE : VMEMCACHE_REPLACEMENT_LRU,
			     !strcmp(argv[3], "lru-victims"), argv[4]);
	}
	if (argc == 4 && !strcmp(argv[1], "evict")) {
		rng = strtoul(argv[2], NULL, 0) * 2654435761u + 7;
		return evicting(strtoul(argv[2], NULL, 0), argv[3]);
	}
	fprintf(stderr, "usage: vcache_diff exact SEED none|lru|lru-victims DIR | evict SEED DIR | which\n");
	return 2;
}
