/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */
/* The seeded generator of the differential programs: both libraries' builds draw the same
 * sequence. Set `rng` (non-zero) before the first call. */
#ifndef MORSELKIND_TESTS_XORSHIFT_H
#define MORSELKIND_TESTS_XORSHIFT_H

#include <stdint.h>

static uint64_t rng;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#endif
