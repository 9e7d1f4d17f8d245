/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * fixed_allocator.h - libmemkind::fixed::allocator<T>, a standard library
 * allocator that allocates from a memory region the caller provides.
 *
 * Each allocator built from a region creates its own fixed kind; copies and
 * rebound copies share it, and the kind is destroyed when the last of them
 * goes away. The region itself stays the caller's: it must outlive the
 * allocators, and is not unmapped. Header-only: it calls memkind.h.
 */

#ifndef MORSELKIND_FIXED_ALLOCATOR_H
#define MORSELKIND_FIXED_ALLOCATOR_H

/* The same standard headers as memkind's version, for source compatibility. */
#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "memkind.h"

namespace libmemkind
{
namespace fixed
{
namespace detail
{
/* Owns one fixed kind: created in the constructor, destroyed in the destructor. */
class fixed_kind
{
public:
    fixed_kind(void *addr, std::size_t size) : kind_(nullptr)
    {
        const int err = memkind_create_fixed(addr, size, &kind_);
        if (err == MEMKIND_ERROR_INVALID) {
            throw std::invalid_argument(
                "libmemkind::fixed::allocator: invalid region, error " +
                std::to_string(err));
        }
        if (err != MEMKIND_SUCCESS) {
            throw std::runtime_error(
                "libmemkind::fixed::allocator: cannot create the fixed kind, "
                "error " + std::to_string(err));
        }
    }

    fixed_kind(const fixed_kind &) = delete;
    fixed_kind &operator=(const fixed_kind &) = delete;

    ~fixed_kind()
    {
        memkind_destroy_kind(kind_);
    }

    memkind_t get() const noexcept
    {
        return kind_;
    }

private:
    memkind_t kind_;
};
} // namespace detail

template <typename T>
class allocator
{
    template <typename U>
    friend class allocator;

    std::shared_ptr<detail::fixed_kind> kind_;

    static memkind_t kind_of(const std::shared_ptr<detail::fixed_kind> &k)
    {
        return k ? k->get() : nullptr;
    }

public:
    using value_type = T;
    using pointer = value_type *;
    using const_pointer = const value_type *;
    using reference = value_type &;
    using const_reference = const value_type &;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;

    template <class U>
    struct rebind {
        using other = allocator<U>;
    };

#if !(defined(_GLIBCXX_USE_CXX11_ABI) && _GLIBCXX_USE_CXX11_ABI)
    /* Old-ABI standard libraries want a default constructor; it has no kind. */
    template <typename V = void>
    explicit allocator()
    {
        static_assert(std::is_same<V, void>::value,
                      "libmemkind::fixed::allocator needs the C++11 ABI");
    }
#endif

    /*
     * Creates a fixed kind over [addr, addr + size). Throws
     * std::invalid_argument for a bad region (MEMKIND_ERROR_INVALID),
     * std::runtime_error for any other failure.
     */
    explicit allocator(void *addr, size_t size)
        : kind_(std::make_shared<detail::fixed_kind>(addr, size))
    {}

    /*
     * Copies share the kind. So do moves: a moved-from allocator keeps its kind,
     * as the allocator requirements ask (the source's value is unchanged) and as
     * standard containers rely on (std::sort of strings assigns into moved-from
     * elements). memkind's header moves the kind out, and such code crashes.
     */
    allocator(const allocator &other) = default;
    allocator(allocator &&other) noexcept : kind_(other.kind_)
    {}
    allocator<T> &operator=(const allocator &other) = default;
    allocator<T> &operator=(allocator &&other) noexcept
    {
        kind_ = other.kind_;
        return *this;
    }

    template <typename U>
    allocator(const allocator<U> &other) noexcept : kind_(other.kind_)
    {}

    template <typename U>
    allocator(allocator<U> &&other) noexcept : kind_(other.kind_)
    {}

    template <typename U>
    allocator<T> &operator=(const allocator<U> &other) noexcept
    {
        kind_ = other.kind_;
        return *this;
    }

    template <typename U>
    allocator<T> &operator=(allocator<U> &&other) noexcept
    {
        kind_ = other.kind_;
        return *this;
    }

    /* Returns room for n objects from the region; throws std::bad_alloc. */
    pointer allocate(size_type n) const
    {
        if (n > static_cast<size_type>(-1) / sizeof(T)) {
            throw std::bad_alloc();
        }
        void *p = memkind_malloc(kind_of(kind_), n * sizeof(T));
        if (p == nullptr) {
            throw std::bad_alloc();
        }
        return static_cast<pointer>(p);
    }

    /* Gives back memory from allocate(). */
    void deallocate(pointer p, size_type n) const
    {
        (void)n;
        memkind_free(kind_of(kind_), static_cast<void *>(p));
    }

    template <class U, class... Args>
    void construct(U *p, Args &&...args) const
    {
        ::new (static_cast<void *>(p)) U(std::forward<Args>(args)...);
    }

    void destroy(pointer p) const
    {
        p->~value_type();
    }

    /* Equal when both use the same kind. */
    template <typename U, typename V>
    friend bool operator==(const allocator<U> &lhs, const allocator<V> &rhs);

    template <typename U, typename V>
    friend bool operator!=(const allocator<U> &lhs, const allocator<V> &rhs);
};

template <typename U, typename V>
bool operator==(const allocator<U> &lhs, const allocator<V> &rhs)
{
    return allocator<U>::kind_of(lhs.kind_) == allocator<V>::kind_of(rhs.kind_);
}

template <typename U, typename V>
bool operator!=(const allocator<U> &lhs, const allocator<V> &rhs)
{
    return !(lhs == rhs);
}

} // namespace fixed
} // namespace libmemkind

#endif /* MORSELKIND_FIXED_ALLOCATOR_H */
