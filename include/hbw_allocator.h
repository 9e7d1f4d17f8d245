/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * hbw_allocator.h - hbw::allocator<T>, a standard library allocator over
 * hbw_malloc()/hbw_free(), so it follows the hbw_set_policy() policy.
 * Stateless: all instances compare equal. Header-only; also builds as C++98.
 */

#ifndef MORSELKIND_HBW_ALLOCATOR_H
#define MORSELKIND_HBW_ALLOCATOR_H

#include <new>
#include <stddef.h>

#include "hbwmalloc.h"

#if __cplusplus >= 201103L
#define MORSELKIND_HBW_NOTHROW noexcept
#else
#define MORSELKIND_HBW_NOTHROW throw()
#endif

namespace hbw
{

template <class T>
class allocator
{
public:
    typedef size_t size_type;
    typedef ptrdiff_t difference_type;
    typedef T *pointer;
    typedef const T *const_pointer;
    typedef T &reference;
    typedef const T &const_reference;
    typedef T value_type;

    template <class U>
    struct rebind {
        typedef hbw::allocator<U> other;
    };

    allocator() MORSELKIND_HBW_NOTHROW
    {}

    template <class U>
    allocator(const allocator<U> &) MORSELKIND_HBW_NOTHROW
    {}

    ~allocator() MORSELKIND_HBW_NOTHROW
    {}

    pointer address(reference x) const
    {
        return &x;
    }

    const_pointer address(const_reference x) const
    {
        return &x;
    }

    /* Returns room for n objects from hbw_malloc(); throws std::bad_alloc. */
    pointer allocate(size_type n, const void * = 0)
    {
        if (n > max_size()) {
            throw std::bad_alloc();
        }
        void *p = hbw_malloc(n * sizeof(T));
        if (p == 0) {
            throw std::bad_alloc();
        }
        return static_cast<pointer>(p);
    }

    /* Gives back memory from allocate() with hbw_free(). */
    void deallocate(pointer p, size_type)
    {
        hbw_free(static_cast<void *>(p));
    }

    /* The largest n that allocate() can be asked for. */
    size_type max_size() const MORSELKIND_HBW_NOTHROW
    {
        return static_cast<size_type>(-1) / sizeof(T);
    }

    void construct(pointer p, const_reference val)
    {
        ::new (static_cast<void *>(p)) value_type(val);
    }

    void destroy(pointer p)
    {
        p->~T();
    }
};

template <class T, class U>
bool operator==(const allocator<T> &, const allocator<U> &)
{
    return true;
}

template <class T, class U>
bool operator!=(const allocator<T> &, const allocator<U> &)
{
    return false;
}

} // namespace hbw

#undef MORSELKIND_HBW_NOTHROW

#endif /* MORSELKIND_HBW_ALLOCATOR_H */
