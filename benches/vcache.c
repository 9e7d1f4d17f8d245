/*
 * vcache bench: a cache-aside loop on libvmemcache's API, built once against the reference
 * libvmemcache.so.0 and once against libmorselcache.so (benches/vcache.sh runs both).
 *
 *   vcache_bench DIR POOL_MIB THREADS SECONDS
 *
 * Keys are 8-byte numbers drawn uniformly from 1.5x as many keys as the pool holds at the mean
 * value size; each key's value size is fixed, 256 B to 64 KiB. Each operation gets a key and,
 * on a miss, puts it (LRU eviction makes room). The pool is filled first; then the loop runs
 * SECONDS. Prints one line: ops/s, hit rate, utilization (live value bytes / pool size, live
 * bytes tracked through the eviction hook), puts failed while the value fit in the pool.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libvmemcache.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"

static VMEMcache *cache;
static size_t nkeys, pool;
static _Atomic size_t *live;	/* per key: the size held in the cache, 0 if not */
static atomic_int stop, measuring;
static double seconds;

static size_t size_of(uint64_t k)
{
	uint64_t x = k * 0x9E3779B97F4A7C15ull;
	x ^= x >> 29;
	return 256 + x % (64 * 1024 - 255);
}

static void on_evict(VMEMcache *c, const void *key, size_t ks, void *arg)
{
	(void)c;
	(void)arg;
	uint64_t k;
	if (ks == sizeof(k)) {
		memcpy(&k, key, sizeof(k));
		if (k < nkeys)
			atomic_store(&live[k], 0);
	}
}

struct result {
	unsigned long ops, hits, gets, failed;
};

static void *worker(void *arg)
{
	struct result *r = arg;
	uint64_t x = (uintptr_t)arg * 2654435761u + 12345;
	unsigned char *buf = malloc(64 * 1024);
	memset(buf, 0xa5, 64 * 1024);
	while (!atomic_load(&stop)) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t k = x % nkeys;
		size_t vs;
		int m = atomic_load(&measuring);
		ssize_t got = vmemcache_get(cache, &k, sizeof(k), buf, 64 * 1024, 0, &vs);
		if (m) {
			r->ops++;
			r->gets++;
		}
		if (got >= 0) {
			if (m)
				r->hits++;
			continue;
		}
		size_t n = size_of(k);
		if (vmemcache_put(cache, &k, sizeof(k), buf, n) == 0) {
			atomic_store(&live[k], n);
		} else if (errno != EEXIST && m) {
			r->failed++;
		}
		if (m)
			r->ops++;
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: vcache_bench DIR POOL_MIB THREADS SECONDS\n");
		return 2;
	}
	pool = strtoull(argv[2], NULL, 0) << 20;
	int threads = atoi(argv[3]);
	seconds = atof(argv[4]);
	nkeys = pool / (32 * 1024) * 3 / 2;
	live = calloc(nkeys, sizeof(*live));
	cache = vmemcache_new();
	if (vmemcache_set_size(cache, pool) || vmemcache_set_eviction_policy(cache, VMEMCACHE_REPLACEMENT_LRU) ||
	    vmemcache_add(cache, argv[1])) {
		fprintf(stderr, "cannot create the cache: %s\n", vmemcache_errormsg());
		return 1;
	}
	vmemcache_callback_on_evict(cache, on_evict, NULL);
	pthread_t t[64];
	struct result res[64];
	memset(res, 0, sizeof(res));
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, &res[i]);
	/* Fill: until the first eviction. */
	size_t ev = 0;
	double fill_start = now_s();
	while (ev == 0 && now_s() - fill_start < 60) {
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
		vmemcache_get_stat(cache, VMEMCACHE_STAT_EVICT, &ev, sizeof(ev));
	}
	double t0 = now_s();
	atomic_store(&measuring, 1);
	struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
	nanosleep(&ts, NULL);
	atomic_store(&measuring, 0);
	double t1 = now_s();
	atomic_store(&stop, 1);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	struct result sum = {0, 0, 0, 0};
	for (int i = 0; i < threads; i++) {
		sum.ops += res[i].ops;
		sum.hits += res[i].hits;
		sum.gets += res[i].gets;
		sum.failed += res[i].failed;
	}
	size_t bytes = 0;
	for (size_t k = 0; k < nkeys; k++)
		bytes += atomic_load(&live[k]);
	printf("ops/s %.0f hit %.4f util %.4f failed %lu fill_s %.2f\n", sum.ops / (t1 - t0),
	       sum.gets ? (double)sum.hits / sum.gets : 0.0, (double)bytes / pool, sum.failed, t0 - fill_start);
	vmemcache_delete(cache);
	return 0;
}
