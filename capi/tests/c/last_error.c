/* The last error, as Win32 keeps it: per thread (the TEB's LastErrorValue; here the
   entered guest thread's, else a slot of the host thread), set by a failing call, left
   alone by most successful ones, and set by a successful Create (kernelbase's
   CreateMutexExW & co.: ERROR_ALREADY_EXISTS when the name existed, else
   ERROR_SUCCESS). WaitForSingleObject's WAIT_TIMEOUT is a result, not an error, and
   leaves it alone (Microsoft's docs: only WAIT_FAILED sets it). */
#include "check.h"

int main(void) {
    kobj_kernel *k = kobj_kernel_new();
    size_t start = kobj_kernel_object_count(k);

    /* No thread entered: the host thread's slot; every Win32 call fails with 87. */
    CHECK(kobj_thread_enter(NULL));
    SetLastError(5150);
    CHECK(GetLastError() == 5150);
    CHECK_FAILS(CreateMutexA(NULL, FALSE, NULL), NULL, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(GetCurrentProcessId(), 0, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(WaitForSingleObject(GetCurrentProcess(), 0), WAIT_FAILED, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(CloseHandle((HANDLE)4), FALSE, ERROR_INVALID_PARAMETER);
    SetLastError(1);

    guest g = guest_new(k, NULL);
    enter(&g);
    CHECK(GetLastError() == 0); /* a new thread's own last error */

    /* Create: a new object sets ERROR_SUCCESS, an existing name ERROR_ALREADY_EXISTS with
       a valid handle; each Create form does. */
    SetLastError(1234);
    HANDLE m = CreateMutexA(NULL, FALSE, "LastErrorMutex");
    CHECK(m != NULL && GetLastError() == ERROR_SUCCESS);
    HANDLE m2 = CreateMutexA(NULL, FALSE, "LastErrorMutex");
    CHECK(m2 != NULL && m2 != m && GetLastError() == ERROR_ALREADY_EXISTS);
    CHECK(WaitForSingleObject(m2, 0) == WAIT_OBJECT_0); /* a valid handle to the mutex */
    CHECK(ReleaseMutex(m));                              /* the same mutex, same owner */
    SetLastError(1234);
    HANDLE anon = CreateEventW(NULL, FALSE, FALSE, NULL);
    CHECK(anon != NULL && GetLastError() == ERROR_SUCCESS); /* unnamed: cleared too */

    /* Success leaves it alone: Open, Set, Release, Close, a wait that succeeds. */
    SetLastError(1234);
    HANDLE o = OpenMutexA(SYNCHRONIZE, FALSE, "LastErrorMutex");
    CHECK(o != NULL && GetLastError() == 1234);
    CHECK(SetEvent(anon) && GetLastError() == 1234);
    CHECK(WaitForSingleObject(anon, 0) == WAIT_OBJECT_0 && GetLastError() == 1234);
    /* A timeout leaves it alone (zero and non-zero timeouts). */
    CHECK(WaitForSingleObject(anon, 0) == WAIT_TIMEOUT && GetLastError() == 1234);
    CHECK(WaitForSingleObject(anon, 5) == WAIT_TIMEOUT && GetLastError() == 1234);
    HANDLE two[2] = {anon, anon};
    CHECK(WaitForMultipleObjects(2, two, FALSE, 0) == WAIT_TIMEOUT && GetLastError() == 1234);
    CHECK(CloseHandle(o) && GetLastError() == 1234);
    /* A failure sets it. */
    CHECK_FAILS(ReleaseMutex(anon), FALSE, ERROR_INVALID_HANDLE);
    CHECK_FAILS(ReleaseMutex(m), FALSE, ERROR_NOT_OWNER);
    CHECK_FAILS(WaitForSingleObject((HANDLE)0x7FFC, 0), WAIT_FAILED, ERROR_INVALID_HANDLE);

    /* Per guest thread: two threads entered in turn on this host thread keep theirs. */
    kobj_thread *t2 = kobj_thread_create(g.process, NULL);
    CHECK(t2 != NULL);
    SetLastError(11);
    CHECK(kobj_thread_enter(t2));
    CHECK(GetLastError() == 0);
    SetLastError(22);
    enter(&g);
    CHECK(GetLastError() == 11);
    CHECK(kobj_thread_enter(t2));
    CHECK(GetLastError() == 22);
    /* Every reference to the main thread shares its last error. */
    kobj_thread *main2 = kobj_process_main_thread(g.process);
    CHECK(kobj_thread_enter(main2));
    CHECK(GetLastError() == 11);
    /* Leaving: the host thread's own slot again, as it was left. */
    CHECK(kobj_thread_enter(NULL));
    CHECK(GetLastError() == 1);
    /* Freeing a reference does not end a binding made through it. */
    CHECK(kobj_thread_enter(t2));
    kobj_thread_free(t2);
    CHECK(GetLastError() == 22);
    CHECK(GetCurrentThreadId() != 0);

    enter(&g);
    CHECK(CloseHandle(m) && CloseHandle(m2) && CloseHandle(anon));
    kobj_thread_free(main2);
    guest_free(&g);
    check_no_leak(k, start);
    kobj_kernel_free(k);
    return 0;
}
