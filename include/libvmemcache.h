/*
 * libvmemcache.h -- the libvmemcache 0.8 API, served by morselkind's libmorselcache.so.
 *
 * A volatile key-value cache in one pool of file-backed memory: values are cut into extents
 * and scattered where no contiguous space holds them; keys, index and LRU live in DRAM.
 * Types, constants and prototypes are libvmemcache 0.8's, so programs built against either
 * header run on either library. Link with -lmorselcache, or run a program linked against
 * libvmemcache.so.0 with LD_PRELOAD=libmorselcache.so.
 */
#ifndef LIBVMEMCACHE_H
#define LIBVMEMCACHE_H 1

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMEMCACHE_MAJOR_VERSION 0
#define VMEMCACHE_MINOR_VERSION 8

/* The smallest pool (1 MiB) and the smallest extent (256 bytes). */
#define VMEMCACHE_MIN_POOL ((size_t)(1024 * 1024))
#define VMEMCACHE_MIN_EXTENT ((size_t)256)

/* The cache: opaque. */
typedef struct vmemcache VMEMcache;

/* What a put into a full cache does. */
enum vmemcache_repl_p {
	VMEMCACHE_REPLACEMENT_NONE,	/* fail: entries leave only by vmemcache_evict */
	VMEMCACHE_REPLACEMENT_LRU,	/* evict the least recently used (the default) */

	VMEMCACHE_REPLACEMENT_NUM
};

/* The statistics vmemcache_get_stat reads, each a size_t. */
enum vmemcache_statistic {
	VMEMCACHE_STAT_PUT,		/* puts that stored a value */
	VMEMCACHE_STAT_GET,		/* gets */
	VMEMCACHE_STAT_HIT,		/* gets served from the cache */
	VMEMCACHE_STAT_MISS,		/* gets that found nothing */
	VMEMCACHE_STAT_EVICT,		/* entries evicted */
	VMEMCACHE_STAT_ENTRIES,		/* entries now */
	VMEMCACHE_STAT_DRAM_SIZE_USED,	/* DRAM used for keys and index */
	VMEMCACHE_STAT_POOL_SIZE_USED,	/* pool bytes holding values */
	VMEMCACHE_STAT_HEAP_ENTRIES,	/* free regions of the pool */
	VMEMCACHE_STATS_NUM
};

/* Benchmarking switches of libvmemcache (unstable); libmorselcache ignores them. */
enum vmemcache_bench_cfg {
	VMEMCACHE_BENCH_INDEX_ONLY,
	VMEMCACHE_BENCH_NO_ALLOC,
	VMEMCACHE_BENCH_NO_MEMCPY,
	VMEMCACHE_BENCH_PREFAULT,
};

/* Called before an entry is evicted; the entry can still be read until it returns. */
typedef void vmemcache_on_evict(VMEMcache *cache, const void *key, size_t key_size, void *arg);

/* Called when a get misses; it may put the key, and the get then returns that value. */
typedef void vmemcache_on_miss(VMEMcache *cache, const void *key, size_t key_size, void *arg);

VMEMcache *vmemcache_new(void);

int vmemcache_set_eviction_policy(VMEMcache *cache, enum vmemcache_repl_p repl_p);
int vmemcache_set_size(VMEMcache *cache, size_t size);
int vmemcache_set_extent_size(VMEMcache *cache, size_t extent_size);

/* path: a directory; the pool is an unnamed file there, gone with the cache. */
int vmemcache_add(VMEMcache *cache, const char *path);

void vmemcache_delete(VMEMcache *cache);

void vmemcache_callback_on_evict(VMEMcache *cache, vmemcache_on_evict *evict, void *arg);
void vmemcache_callback_on_miss(VMEMcache *cache, vmemcache_on_miss *miss, void *arg);

/* Copies up to vbufsize bytes of the value from offset on; returns the bytes copied, the
 * value's size in *vsize; -1 (errno ENOENT) on a miss. */
ssize_t vmemcache_get(VMEMcache *cache, const void *key, size_t key_size,
	void *vbuf, size_t vbufsize, size_t offset, size_t *vsize);

/* 1 if present (size in *vsize), 0 if not, -1 on error. */
int vmemcache_exists(VMEMcache *cache, const void *key, size_t key_size, size_t *vsize);

int vmemcache_put(VMEMcache *cache, const void *key, size_t key_size,
	const void *value, size_t value_size);

/* Evicts key, or with key NULL the least recently used entry. */
int vmemcache_evict(VMEMcache *cache, const void *key, size_t ksize);

int vmemcache_get_stat(VMEMcache *cache, enum vmemcache_statistic stat,
	void *value, size_t value_size);

const char *vmemcache_errormsg(void);

/* Unstable in libvmemcache; accepted and ignored here. */
void vmemcache_bench_set(VMEMcache *cache, enum vmemcache_bench_cfg cfg, size_t val);

#ifdef __cplusplus
}
#endif
#endif /* libvmemcache.h */
