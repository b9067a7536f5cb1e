/* The thread binding's lifetime (issue 12: "entered on different host threads over its
   life, one at a time"): a host thread that exits while bound releases its guest thread,
   which another host thread may then enter; a binding that holds the last reference lets
   the process go when its host thread exits. */
#include <pthread.h>

#include "check.h"

static kobj_thread *t;
static HANDLE made;

static void *exit_bound(void *arg) {
    (void)arg;
    CHECK(kobj_thread_enter(t));
    made = CreateEventA(NULL, FALSE, FALSE, NULL);
    CHECK(made != NULL);
    SetLastError(808);
    return NULL; /* no kobj_thread_enter(NULL): the host thread's exit ends the binding */
}

static void *exit_holding_last_reference(void *arg) {
    (void)arg;
    CHECK(kobj_thread_enter(t));
    kobj_thread_free(t); /* the binding now holds the last reference */
    t = NULL;
    CHECK(CreateEventA(NULL, FALSE, FALSE, NULL) != NULL);
    return NULL;
}

int main(void) {
    kobj_kernel *k = kobj_kernel_new();
    size_t start = kobj_kernel_object_count(k);
    guest g = guest_new(k, NULL);
    t = kobj_thread_create(g.process, NULL);
    CHECK(t != NULL);

    pthread_t host;
    CHECK(pthread_create(&host, NULL, exit_bound, NULL) == 0);
    CHECK(pthread_join(host, NULL) == 0);
    /* Released: this host thread may enter it, and finds its last error. */
    CHECK(kobj_thread_enter(t));
    CHECK(GetLastError() == 808);
    CHECK(CloseHandle(made));
    CHECK(kobj_thread_enter(NULL));

    /* The process's only references: the binding on a host thread that exits. */
    guest_free(&g);
    CHECK(kobj_kernel_object_count(k) > start);
    CHECK(pthread_create(&host, NULL, exit_holding_last_reference, NULL) == 0);
    CHECK(pthread_join(host, NULL) == 0);
    check_no_leak(k, start);
    kobj_kernel_free(k);
    return 0;
}
