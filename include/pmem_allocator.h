/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Copyright (c) morselkind authors */

/*
 * pmem_allocator.h - libmemkind::pmem::allocator<T>, a standard library
 * allocator whose memory comes from a file-backed (PMEM) kind.
 *
 * Each allocator built from a directory creates its own PMEM kind; copies
 * and rebound copies share it, and the kind is destroyed when the last of
 * them goes away. Header-only: it calls the C API of memkind.h.
 */

#ifndef MORSELKIND_PMEM_ALLOCATOR_H
#define MORSELKIND_PMEM_ALLOCATOR_H

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

/* How eagerly the kind returns freed memory (memkind_mem_usage_policy). */
enum class allocation_policy
{
    DEFAULT = MEMKIND_MEM_USAGE_POLICY_DEFAULT,
    CONSERVATIVE = MEMKIND_MEM_USAGE_POLICY_CONSERVATIVE,
    MAX
};

namespace pmem
{
namespace detail
{
/* Owns one PMEM kind: created in the constructor, destroyed in the destructor. */
class pmem_kind
{
public:
    pmem_kind(const char *dir, std::size_t max_size,
              libmemkind::allocation_policy policy)
        : kind_(nullptr)
    {
        struct memkind_config *cfg = memkind_config_new();
        if (cfg == nullptr) {
            throw std::runtime_error(
                "libmemkind::pmem::allocator: cannot create a memkind_config");
        }
        memkind_config_set_path(cfg, dir);
        memkind_config_set_size(cfg, max_size);
        memkind_config_set_memory_usage_policy(
            cfg, static_cast<memkind_mem_usage_policy>(policy));
        const int err = memkind_create_pmem_with_config(cfg, &kind_);
        memkind_config_delete(cfg);
        if (err == MEMKIND_ERROR_INVALID) {
            throw std::invalid_argument(
                "libmemkind::pmem::allocator: invalid directory or size, "
                "error " + std::to_string(err));
        }
        if (err != MEMKIND_SUCCESS) {
            throw std::runtime_error(
                "libmemkind::pmem::allocator: cannot create the PMEM kind, "
                "error " + std::to_string(err));
        }
    }

    pmem_kind(const pmem_kind &) = delete;
    pmem_kind &operator=(const pmem_kind &) = delete;

    ~pmem_kind()
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

    std::shared_ptr<detail::pmem_kind> kind_;

    static memkind_t kind_of(const std::shared_ptr<detail::pmem_kind> &k)
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
                      "libmemkind::pmem::allocator needs the C++11 ABI");
    }
#endif

    /*
     * Creates a PMEM kind in dir, limited to max_size bytes (0: no limit).
     * Throws std::invalid_argument for a bad dir or size (MEMKIND_ERROR_INVALID),
     * std::runtime_error for any other failure.
     */
    explicit allocator(const char *dir, size_t max_size)
        : allocator(dir, max_size, libmemkind::allocation_policy::DEFAULT)
    {}

    explicit allocator(const std::string &dir, size_t max_size)
        : allocator(dir.c_str(), max_size)
    {}

    /* As above, with a memory usage policy. */
    explicit allocator(const char *dir, size_t max_size,
                       libmemkind::allocation_policy alloc_policy)
        : kind_(std::make_shared<detail::pmem_kind>(dir, max_size,
                                                    alloc_policy))
    {}

    explicit allocator(const std::string &dir, size_t max_size,
                       libmemkind::allocation_policy alloc_policy)
        : allocator(dir.c_str(), max_size, alloc_policy)
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

    /* Returns room for n objects from the kind; throws std::bad_alloc. */
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

} // namespace pmem
} // namespace libmemkind

#endif /* MORSELKIND_PMEM_ALLOCATOR_H */
