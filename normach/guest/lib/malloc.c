/*
 * malloc on vm_allocate. Small blocks come from 256 KiB arenas kept on an
 * address-ordered free list (first fit, split, coalesce on free); blocks of
 * 64 KiB or more get their own vm_allocate region and go back with
 * vm_deallocate. Every block starts with a 16-byte header.
 */
#include <mach.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 16
#define HEADER ((size_t)sizeof(struct block))
#define ARENA_SIZE ((size_t)256 << 10)
#define LARGE_MIN ((size_t)64 << 10)
#define LARGE_FLAG ((size_t)1)          /* low bit of size: a vm_allocate region of its own */
#define MAGIC 0x6e6f726d61636821ULL     /* guards headers against bad frees */

struct block {
    size_t size;                        /* bytes including the header; | LARGE_FLAG */
    union {
        struct block *next;             /* on the free list */
        uint64_t magic;                 /* in use */
    };
};

static struct block *free_list;
static spin_lock_t heap_lock = SPIN_LOCK_INITIALIZER;

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) & ~(to - 1);
}

static void insert_free(struct block *b)
{
    struct block **pp = &free_list;
    while (*pp && *pp < b)
        pp = &(*pp)->next;
    b->next = *pp;
    *pp = b;
    if (b->next && (char *)b + b->size == (char *)b->next) {
        b->size += b->next->size;
        b->next = b->next->next;
    }
    if (pp != &free_list) {
        struct block *prev = (struct block *)((char *)pp - offsetof(struct block, next));
        if ((char *)prev + prev->size == (char *)b) {
            prev->size += b->size;
            prev->next = b->next;
        }
    }
}

static int grow(void)
{
    vm_address_t addr = 0;
    if (vm_allocate(mach_task_self(), &addr, ARENA_SIZE, TRUE) != KERN_SUCCESS)
        return 0;
    struct block *b = (struct block *)addr;
    b->size = ARENA_SIZE;
    insert_free(b);
    return 1;
}

static void *large_alloc(size_t need)
{
    vm_address_t addr = 0;
    size_t size = round_up(need, vm_page_size);
    if (vm_allocate(mach_task_self(), &addr, size, TRUE) != KERN_SUCCESS)
        return NULL;
    struct block *b = (struct block *)addr;
    b->size = size | LARGE_FLAG;
    b->magic = MAGIC;
    return b + 1;
}

void *malloc(size_t size)
{
    if (size == 0)
        size = 1;
    if (size > ((size_t)1 << 46))
        return NULL;
    size_t need = round_up(size + HEADER, ALIGN);
    if (need >= LARGE_MIN)
        return large_alloc(need);

    spin_lock(&heap_lock);
    for (;;) {
        for (struct block **pp = &free_list; *pp; pp = &(*pp)->next) {
            struct block *b = *pp;
            if (b->size < need)
                continue;
            if (b->size - need >= 2 * HEADER) {
                struct block *rest = (struct block *)((char *)b + need);
                rest->size = b->size - need;
                rest->next = b->next;
                *pp = rest;
                b->size = need;
            } else {
                *pp = b->next;
            }
            b->magic = MAGIC;
            spin_unlock(&heap_lock);
            return b + 1;
        }
        if (!grow()) {
            spin_unlock(&heap_lock);
            return NULL;
        }
    }
}

void free(void *ptr)
{
    if (!ptr)
        return;
    struct block *b = (struct block *)ptr - 1;
    if (b->magic != MAGIC)
        abort();
    b->magic = 0;
    if (b->size & LARGE_FLAG) {
        vm_deallocate(mach_task_self(), (vm_address_t)b, b->size & ~LARGE_FLAG);
        return;
    }
    spin_lock(&heap_lock);
    insert_free(b);
    spin_unlock(&heap_lock);
}

void *calloc(size_t n, size_t size)
{
    if (size && n > ((size_t)-1) / size)
        return NULL;
    void *p = malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *realloc(void *ptr, size_t size)
{
    if (!ptr)
        return malloc(size);
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    struct block *b = (struct block *)ptr - 1;
    size_t have = (b->size & ~LARGE_FLAG) - HEADER;
    if (size <= have)
        return ptr;
    void *q = malloc(size);
    if (q) {
        memcpy(q, ptr, have);
        free(ptr);
    }
    return q;
}
