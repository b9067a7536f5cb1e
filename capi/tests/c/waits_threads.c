/* Waits across two host threads (pthreads), each entered as its own guest thread; a
   guest thread created on one host thread and entered on another. Rules: SPEC §7.3
   (wait-any lowest index, wait-all atomic, hand-off at the signal), §7.4 (ownership,
   ERROR_NOT_OWNER, abandonment on ExitThread), §7.2 (a thread object is signalled when
   it exits; GetExitCodeThread is STILL_ACTIVE until then, Microsoft's docs). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "check.h"

static kobj_thread *worker_thread;
static HANDLE go, done, mutex, sem, e1, e2, pulse;
static atomic_int stage;

static void wait_stage(int n) {
    while (atomic_load(&stage) < n) sched_yield();
}

static void *worker(void *arg) {
    (void)arg;
    CHECK(kobj_thread_enter(worker_thread));
    /* 1. Blocks on `go` until the main host thread sets it. */
    atomic_store(&stage, 1);
    CHECK(WaitForSingleObject(go, INFINITE) == WAIT_OBJECT_0);
    /* 2. The mutex the main thread owns passes to this thread at its release. */
    atomic_store(&stage, 2);
    CHECK(WaitForSingleObject(mutex, INFINITE) == WAIT_OBJECT_0);
    atomic_store(&stage, 3);
    /* 3. Wait-any over {e1, sem}: the semaphore's release wakes it, index 1. */
    HANDLE any[2] = {e1, sem};
    CHECK(WaitForMultipleObjects(2, any, FALSE, INFINITE) == WAIT_OBJECT_0 + 1);
    /* 4. Wait-all over {e1, e2}: only once both are set. */
    HANDLE all[2] = {e1, e2};
    atomic_store(&stage, 4);
    CHECK(WaitForMultipleObjects(2, all, TRUE, INFINITE) == WAIT_OBJECT_0);
    /* 4b. A pulse releases this waiter. */
    atomic_store(&stage, 5);
    CHECK(WaitForSingleObject(pulse, INFINITE) == WAIT_OBJECT_0);
    atomic_store(&stage, 6);
    /* 5. SignalObjectAndWait: sets `done`, waits for `go` (auto-reset) again. */
    CHECK(SignalObjectAndWait(done, go, INFINITE, FALSE) == WAIT_OBJECT_0);
    /* 6. Exits holding the mutex: it is abandoned. ExitThread returns here. */
    SetLastError(4242);
    ExitThread(7);
    CHECK(GetLastError() == 4242); /* the last error survives the exit */
    CHECK_FAILS(SetEvent(done), FALSE, ERROR_ACCESS_DENIED); /* an exited thread's call */
    CHECK(kobj_thread_enter(NULL));
    return NULL;
}

static void *carry(void *arg) {
    /* A guest thread entered on a third host thread carries its last error along. */
    CHECK(kobj_thread_enter((kobj_thread *)arg));
    CHECK(GetLastError() == 31337);
    SetLastError(0);
    CHECK(kobj_thread_enter(NULL));
    return NULL;
}

int main(void) {
    kobj_kernel *k = kobj_kernel_new();
    size_t start = kobj_kernel_object_count(k);
    guest p = guest_new(k, NULL);
    enter(&p);
    go = CreateEventA(NULL, FALSE, FALSE, NULL); /* auto-reset */
    done = CreateEventA(NULL, FALSE, FALSE, NULL);
    mutex = CreateMutexA(NULL, TRUE, NULL); /* owned by the main guest thread */
    sem = CreateSemaphoreA(NULL, 0, 1, NULL);
    e1 = CreateEventA(NULL, TRUE, FALSE, NULL); /* manual-reset */
    e2 = CreateEventA(NULL, TRUE, FALSE, NULL);
    pulse = CreateEventA(NULL, FALSE, FALSE, NULL);
    CHECK(go && done && mutex && sem && e1 && e2 && pulse);
    /* PulseEvent with nobody waiting leaves the event reset (Microsoft's docs). */
    CHECK(PulseEvent(pulse));
    CHECK(WaitForSingleObject(pulse, 0) == WAIT_TIMEOUT);

    /* Created on this host thread, entered on the worker's. */
    HANDLE hWorker = NULL;
    worker_thread = kobj_thread_create(p.process, &hWorker);
    CHECK(worker_thread != NULL && hWorker != NULL);
    DWORD code = 0;
    CHECK(GetExitCodeThread(hWorker, &code) && code == STILL_ACTIVE);
    CHECK(GetThreadId(hWorker) != GetCurrentThreadId());

    /* One guest thread, one host thread at a time: entering it twice is ERROR_BUSY. */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, worker, NULL) == 0);
    wait_stage(1);
    CHECK_FAILS(kobj_thread_enter(worker_thread), FALSE, ERROR_BUSY);
    enter(&p); /* still the main thread */

    /* A timed wait that runs out: WAIT_TIMEOUT, last error untouched. */
    SetLastError(555);
    CHECK(WaitForSingleObject(done, 20) == WAIT_TIMEOUT);
    CHECK(GetLastError() == 555);

    CHECK(SetEvent(go));
    wait_stage(2);
    CHECK(ReleaseMutex(mutex)); /* hands it to the worker */
    wait_stage(3);
    CHECK_FAILS(ReleaseMutex(mutex), FALSE, ERROR_NOT_OWNER); /* the worker owns it now */
    CHECK(ReleaseSemaphore(sem, 1, NULL));
    wait_stage(4);
    CHECK(SetEvent(e1));
    /* The worker's wait-all has taken nothing yet: e1 is still set for a wait-any. */
    CHECK(WaitForSingleObject(e1, 0) == WAIT_OBJECT_0);
    CHECK(SetEvent(e2));
    /* Pulse until the worker's wait has been satisfied: each pulse releases whoever waits
       at that instant and leaves the event reset. */
    wait_stage(5);
    while (atomic_load(&stage) < 6) {
        CHECK(PulseEvent(pulse));
        sched_yield();
    }
    CHECK(WaitForSingleObject(pulse, 0) == WAIT_TIMEOUT);
    /* The worker signals `done` and waits for `go` in one step. */
    CHECK(WaitForSingleObject(done, INFINITE) == WAIT_OBJECT_0);
    CHECK(SetEvent(go));
    /* The worker's exit signals its thread object; its mutex comes back abandoned. */
    CHECK(WaitForSingleObject(hWorker, INFINITE) == WAIT_OBJECT_0);
    CHECK(GetExitCodeThread(hWorker, &code) && code == 7);
    CHECK(WaitForSingleObject(mutex, 0) == WAIT_ABANDONED_0);
    CHECK(ReleaseMutex(mutex));
    CHECK(pthread_join(t, NULL) == 0);

    /* A thread entered on different host threads over its life keeps its last error. */
    kobj_thread *roamer = kobj_thread_create(p.process, NULL);
    CHECK(roamer != NULL);
    CHECK(kobj_thread_enter(roamer));
    SetLastError(31337);
    enter(&p);
    CHECK(pthread_create(&t, NULL, carry, roamer) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(kobj_thread_enter(roamer));
    CHECK(GetLastError() == 0); /* set by the other host thread */
    enter(&p);

    HANDLE hs[] = {go, done, mutex, sem, e1, e2, pulse, hWorker};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) CHECK(CloseHandle(hs[i]));
    kobj_thread_free(worker_thread);
    kobj_thread_free(roamer);
    guest_free(&p);
    check_no_leak(k, start);
    kobj_kernel_free(k);
    return 0;
}
