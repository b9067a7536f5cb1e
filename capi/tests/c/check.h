/* The C tests' harness: CHECK and friends, and a kernel with one process entered. */
#ifndef KOBJ_TEST_CHECK_H
#define KOBJ_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "kobj/win32.h"

/* Fails the test (exit 1) with the line, the expression and the last error. */
#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s (GetLastError() = %u)\n", __FILE__,   \
                    __LINE__, #cond, (unsigned)GetLastError());                            \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

/* `call` fails (its value equals `failed`) with last error `err`. */
#define CHECK_FAILS(call, failed, err)                                                     \
    do {                                                                                   \
        SetLastError(0xDEAD);                                                              \
        if ((call) != (failed)) {                                                          \
            fprintf(stderr, "%s:%d: expected failure: %s\n", __FILE__, __LINE__, #call);   \
            exit(1);                                                                       \
        }                                                                                  \
        DWORD got_ = GetLastError();                                                       \
        if (got_ != (DWORD)(err)) {                                                        \
            fprintf(stderr, "%s:%d: %s: last error %u, expected %u (%s)\n", __FILE__,      \
                    __LINE__, #call, (unsigned)got_, (unsigned)(err), #err);               \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

/* A guest process with its main thread, for a test to enter. */
typedef struct {
    kobj_process *process;
    kobj_thread *main;
} guest;

static inline guest guest_new(kobj_kernel *k, const kobj_process_options *o) {
    guest g;
    g.process = kobj_process_create(k, o);
    CHECK(g.process != NULL);
    g.main = kobj_process_main_thread(g.process);
    CHECK(g.main != NULL);
    return g;
}

static inline guest guest_of(kobj_process *p) {
    guest g;
    g.process = p;
    g.main = kobj_process_main_thread(p);
    CHECK(g.main != NULL);
    return g;
}

static inline void enter(const guest *g) { CHECK(kobj_thread_enter(g->main)); }

static inline void guest_free(guest *g) {
    kobj_thread_free(g->main);
    kobj_process_free(g->process);
    g->main = NULL;
    g->process = NULL;
}

/* Leaves the entered thread and checks that every object is gone: the kernel's object
   count is back where the test started. */
static inline void check_no_leak(kobj_kernel *k, size_t start) {
    CHECK(kobj_thread_enter(NULL));
    size_t now = kobj_kernel_object_count(k);
    if (now != start) {
        fprintf(stderr, "leak: %zu objects live, %zu at the start\n", now, start);
        exit(1);
    }
}

#endif
