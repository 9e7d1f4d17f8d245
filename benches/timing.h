/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/*
 * The benchmarks' clocks, written once: wall seconds, the calling thread's CPU seconds, and a
 * worker's timed stretch (both at once). Header-only, static inline: a program that uses part
 * of it builds without warnings.
 */
#ifndef MORSELKIND_BENCHES_TIMING_H
#define MORSELKIND_BENCHES_TIMING_H

#include <time.h>

/* Seconds on `clock`. */
static inline double clock_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Wall seconds (CLOCK_MONOTONIC). */
static inline double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* CPU time of the calling thread: unlike wall time, it does not grow while
 * other processes on this shared machine hold the CPU. */
static inline double cpu_s(void)
{
    return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

/* A worker's timed loop: wall clock at its start and end, and its CPU seconds. */
typedef struct {
    double begin, end, cpu;
} timed;

/* Starts a timed stretch of the calling thread. */
static inline void timed_start(timed *t)
{
    t->begin = now_s();
    t->cpu = cpu_s();
}

/* Ends it: `end` is the wall clock now, `cpu` the thread's CPU seconds since timed_start. */
static inline void timed_stop(timed *t)
{
    t->end = now_s();
    t->cpu = cpu_s() - t->cpu;
}

#endif
