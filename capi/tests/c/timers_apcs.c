/* Waitable timers on a manual clock, APCs and alertable waits (SPEC §7.5; Microsoft's
   docs for SetWaitableTimer, QueueUserAPC, SleepEx and the Ex waits: a due time in
   100-ns units, negative for relative; WAIT_IO_COMPLETION after APCs; fResume on a
   system without the support succeeds with ERROR_NOT_SUPPORTED). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "check.h"

#define MS(n) ((LONGLONG)(n) * 10000) /* milliseconds in 100-ns units */

static kobj_kernel *k;
static kobj_thread *worker_thread;
static HANDLE never, ev2;
static atomic_int stage;
static atomic_int apc_sum;
static pthread_t worker_host;
static atomic_int apc_on_worker_host;

static void apc_add(ULONG_PTR n) { atomic_fetch_add(&apc_sum, (int)n); }

static atomic_int completions;
static void *completion_arg;
static uint64_t completion_time;

static void completion(LPVOID arg, DWORD low, DWORD high) {
    completion_arg = arg;
    completion_time = ((uint64_t)high << 32) | low;
    atomic_fetch_add(&completions, 1);
}

static void apc_on_worker(ULONG_PTR n) {
    /* Runs on the target's host thread, and may call back into kobj as that thread. */
    atomic_store(&apc_on_worker_host, pthread_equal(pthread_self(), worker_host) ? 1 : -1);
    CHECK(SetEvent(ev2));
    atomic_fetch_add(&apc_sum, (int)n);
}

static void *worker(void *arg) {
    (void)arg;
    CHECK(kobj_thread_enter(worker_thread));
    /* A timed wait on a manual clock ends only when the clock is advanced past it. */
    atomic_store(&stage, 1);
    CHECK(WaitForSingleObject(never, 100) == WAIT_TIMEOUT);
    atomic_store(&stage, 2);
    /* An alertable wait: the APC queued by the main host thread runs here. */
    CHECK(WaitForSingleObjectEx(never, INFINITE, TRUE) == WAIT_IO_COMPLETION);
    atomic_store(&stage, 3);
    ExitThread(0);
    CHECK(kobj_thread_enter(NULL));
    return NULL;
}

static void advance(LONGLONG ms) { CHECK(kobj_kernel_advance_clock(k, (uint64_t)ms)); }

int main(void) {
    k = kobj_kernel_new_with(0, TRUE);
    CHECK(k != NULL);
    size_t start = kobj_kernel_object_count(k);
    guest p = guest_new(k, NULL);
    enter(&p);

    /* A notification (manual-reset) timer due in 50 ms: signalled at 50, stays so. */
    HANDLE t = CreateWaitableTimerW(NULL, TRUE, NULL);
    CHECK(t != NULL);
    LARGE_INTEGER due;
    due.QuadPart = -MS(50);
    CHECK(SetWaitableTimer(t, &due, 0, NULL, NULL, FALSE));
    CHECK(WaitForSingleObject(t, 0) == WAIT_TIMEOUT);
    advance(49);
    CHECK(WaitForSingleObject(t, 0) == WAIT_TIMEOUT);
    advance(1);
    CHECK(WaitForSingleObject(t, 0) == WAIT_OBJECT_0);
    CHECK(WaitForSingleObject(t, 0) == WAIT_OBJECT_0); /* a wait does not reset it */
    /* Setting it again resets it (KeSetTimer). */
    due.QuadPart = -MS(10);
    CHECK(SetWaitableTimer(t, &due, 0, NULL, NULL, FALSE));
    CHECK(WaitForSingleObject(t, 0) == WAIT_TIMEOUT);
    advance(10);
    CHECK(WaitForSingleObject(t, 0) == WAIT_OBJECT_0);

    /* A synchronization timer with a period: each expiry releases one wait. */
    HANDLE s = CreateWaitableTimerA(NULL, FALSE, "Periodic");
    due.QuadPart = -MS(10);
    CHECK(SetWaitableTimer(s, &due, 20, NULL, NULL, FALSE));
    advance(10);
    CHECK(WaitForSingleObject(s, 0) == WAIT_OBJECT_0);
    CHECK(WaitForSingleObject(s, 0) == WAIT_TIMEOUT); /* taken by the wait */
    advance(20);
    CHECK(WaitForSingleObject(s, 0) == WAIT_OBJECT_0);
    /* Cancel disarms it; its state stays. */
    advance(20);
    CHECK(CancelWaitableTimer(s));
    CHECK(WaitForSingleObject(s, 0) == WAIT_OBJECT_0); /* fired at 50, before the cancel */
    advance(100);
    CHECK(WaitForSingleObject(s, 0) == WAIT_TIMEOUT);

    /* An absolute due time: a FILETIME; the manual clock's wall time starts at the Unix
       epoch (FILETIME 116444736000000000). One already past fires at once. */
    LONGLONG now_ft = 116444736000000000LL + MS(50 + 10 + 10 + 20 + 20 + 100);
    due.QuadPart = now_ft + MS(30);
    CHECK(SetWaitableTimer(t, &due, 0, NULL, NULL, FALSE));
    advance(29);
    CHECK(WaitForSingleObject(t, 0) == WAIT_TIMEOUT);
    advance(1);
    CHECK(WaitForSingleObject(t, 0) == WAIT_OBJECT_0);
    due.QuadPart = 1; /* 1601 */
    CHECK(SetWaitableTimer(t, &due, 0, NULL, NULL, FALSE));
    CHECK(WaitForSingleObject(t, 0) == WAIT_OBJECT_0);

    /* Bad input, and what kobj does not support. */
    CHECK_FAILS(SetWaitableTimer(t, NULL, 0, NULL, NULL, FALSE), FALSE, ERROR_NOACCESS);
    CHECK_FAILS(SetWaitableTimer(t, &due, -1, NULL, NULL, FALSE), FALSE, ERROR_INVALID_PARAMETER);
    HANDLE ev = CreateEventA(NULL, FALSE, FALSE, NULL);
    CHECK_FAILS(SetWaitableTimer(ev, &due, 0, NULL, NULL, FALSE), FALSE, ERROR_INVALID_HANDLE);
    CHECK_FAILS(CancelWaitableTimer(ev), FALSE, ERROR_INVALID_HANDLE);
    HANDLE t_query = OpenWaitableTimerA(TIMER_QUERY_STATE, FALSE, "Periodic");
    CHECK_FAILS(SetWaitableTimer(t_query, &due, 0, NULL, NULL, FALSE), FALSE, ERROR_ACCESS_DENIED);
    SetLastError(0);
    CHECK(SetWaitableTimer(t, &due, 0, NULL, NULL, TRUE)); /* fResume: no suspend here */
    CHECK(GetLastError() == ERROR_NOT_SUPPORTED);

    /* A completion routine (Microsoft's SetWaitableTimer docs): at each expiry it is
       queued as an APC to the thread that set the timer, and runs in that thread's next
       alertable wait with its argument and the expiry time as a FILETIME. The clock
       stands at 240 ms here; expiries at 250 and 260 ms. */
    static int routine_arg;
    LARGE_INTEGER soon = {.QuadPart = -MS(10)};
    CHECK(SetWaitableTimer(t, &soon, 10, completion, &routine_arg, FALSE));
    advance(25);
    CHECK(WaitForSingleObject(t, 0) == WAIT_OBJECT_0); /* not alertable: nothing runs */
    CHECK(atomic_load(&completions) == 0);
    CHECK(SleepEx(0, TRUE) == WAIT_IO_COMPLETION);
    CHECK(atomic_load(&completions) == 2);
    CHECK(completion_arg == &routine_arg);
    CHECK(completion_time == 116444736000000000ULL + (uint64_t)MS(260));
    /* Cancelled: no more calls. */
    CHECK(CancelWaitableTimer(t));
    advance(30);
    CHECK(SleepEx(0, TRUE) == 0);
    CHECK(atomic_load(&completions) == 2);
    kobj_kernel *sys = kobj_kernel_new();
    CHECK_FAILS(kobj_kernel_advance_clock(sys, 1), FALSE, ERROR_INVALID_PARAMETER);
    kobj_kernel_free(sys);

    /* APCs to this thread: never in a non-alertable wait; an alertable wait whose object
       is ready takes it and leaves them queued; SleepEx(.., TRUE) runs them all, FIFO. */
    CHECK(QueueUserAPC(apc_add, GetCurrentThread(), 1) != 0);
    CHECK(QueueUserAPC(apc_add, GetCurrentThread(), 10) != 0);
    CHECK(WaitForSingleObject(ev, 0) == WAIT_TIMEOUT);
    CHECK(SleepEx(0, FALSE) == 0);
    CHECK(atomic_load(&apc_sum) == 0);
    CHECK(SetEvent(ev));
    CHECK(WaitForSingleObjectEx(ev, 0, TRUE) == WAIT_OBJECT_0);
    CHECK(atomic_load(&apc_sum) == 0);
    CHECK(SleepEx(0, TRUE) == WAIT_IO_COMPLETION);
    CHECK(atomic_load(&apc_sum) == 11);
    CHECK(SleepEx(0, TRUE) == 0); /* nothing queued: the time runs out */
    HANDLE two[2] = {ev, t};
    CHECK(SetWaitableTimer(t, &due, 0, NULL, NULL, FALSE));
    CHECK(CancelWaitableTimer(t));
    CHECK(QueueUserAPC(apc_add, GetCurrentThread(), 100) != 0);
    CHECK(WaitForMultipleObjectsEx(2, two, FALSE, 0, TRUE) == WAIT_OBJECT_0 + 1); /* t is set */
    CHECK(ResetEvent(ev));
    CHECK(SetWaitableTimer(t, &(LARGE_INTEGER){.QuadPart = -MS(1000)}, 0, NULL, NULL, FALSE));
    CHECK(WaitForMultipleObjectsEx(2, two, FALSE, 0, TRUE) == WAIT_IO_COMPLETION);
    CHECK(atomic_load(&apc_sum) == 111);
    /* SignalObjectAndWait, alertable: signals, then runs the APC. */
    CHECK(QueueUserAPC(apc_add, GetCurrentThread(), 1000) != 0);
    CHECK(SignalObjectAndWait(ev, t, INFINITE, TRUE) == WAIT_IO_COMPLETION);
    CHECK(atomic_load(&apc_sum) == 1111);
    CHECK(WaitForSingleObject(ev, 0) == WAIT_OBJECT_0); /* the signal happened */
    CHECK_FAILS(QueueUserAPC(NULL, GetCurrentThread(), 0), 0, ERROR_INVALID_PARAMETER);

    /* A worker guest thread on another host thread: its timed wait ends when the clock
       passes its deadline; an APC queued to it runs on its host thread. */
    never = CreateEventA(NULL, TRUE, FALSE, NULL);
    ev2 = CreateEventA(NULL, TRUE, FALSE, NULL);
    HANDLE hWorker = NULL;
    worker_thread = kobj_thread_create(p.process, &hWorker);
    CHECK(worker_thread != NULL);
    CHECK(pthread_create(&worker_host, NULL, worker, NULL) == 0);
    while (atomic_load(&stage) < 1) sched_yield();
    while (atomic_load(&stage) < 2) { /* until the wait has started and its time passed */
        advance(10);
        sched_yield();
    }
    HANDLE no_ctx = OpenThread(SYNCHRONIZE, FALSE, GetThreadId(hWorker));
    CHECK_FAILS(QueueUserAPC(apc_on_worker, no_ctx, 1), 0, ERROR_ACCESS_DENIED);
    CHECK(QueueUserAPC(apc_on_worker, hWorker, 10000) != 0);
    CHECK(WaitForSingleObject(ev2, INFINITE) == WAIT_OBJECT_0); /* set by the APC */
    CHECK(pthread_join(worker_host, NULL) == 0);
    CHECK(atomic_load(&stage) == 3 && atomic_load(&apc_on_worker_host) == 1);
    CHECK(atomic_load(&apc_sum) == 11111);

    /* GetCurrentThread() from a thread that is not the main one: its own queue. */
    kobj_thread *other = kobj_thread_create(p.process, NULL);
    CHECK(kobj_thread_enter(other));
    DWORD before = 0, after = 0;
    CHECK(GetProcessHandleCount(GetCurrentProcess(), &before));
    CHECK(QueueUserAPC(apc_add, GetCurrentThread(), 100000) != 0);
    CHECK(GetProcessHandleCount(GetCurrentProcess(), &after) && after == before);
    enter(&p);
    CHECK(SleepEx(0, TRUE) == 0); /* not queued to the main thread */
    CHECK(kobj_thread_enter(other));
    CHECK(SleepEx(0, TRUE) == WAIT_IO_COMPLETION);
    CHECK(atomic_load(&apc_sum) == 111111);
    /* An exited thread: ERROR_GEN_FAILURE. */
    enter(&p);
    CHECK_FAILS(QueueUserAPC(apc_add, hWorker, 1), 0, ERROR_GEN_FAILURE);
    /* A queued APC whose thread exits is dropped unrun. */
    CHECK(kobj_thread_enter(other));
    CHECK(QueueUserAPC(apc_add, GetCurrentThread(), 5) != 0);
    ExitThread(0);
    enter(&p);
    CHECK(atomic_load(&apc_sum) == 111111);

    HANDLE hs[] = {t, s, ev, t_query, never, ev2, hWorker, no_ctx};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) CHECK(CloseHandle(hs[i]));
    kobj_thread_free(worker_thread);
    kobj_thread_free(other);
    guest_free(&p);
    check_no_leak(k, start);
    kobj_kernel_free(k);
    return 0;
}
