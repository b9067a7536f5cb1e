/* Sharing by name (seed 004, Richter, "Named Objects"): two processes that are not
   related share "JeffMutex" by name; all types share one namespace; the name goes with
   the last handle. Rules: SPEC §3 "Named objects"; last error after Create as
   kernelbase sets it (ERROR_ALREADY_EXISTS when the name existed, else 0). */
#include <string.h>

#include "check.h"

int main(void) {
    kobj_kernel *k = kobj_kernel_new();
    size_t start = kobj_kernel_object_count(k);
    guest a = guest_new(k, NULL);
    guest b = guest_new(k, NULL); /* not a child of a */

    /* Process A: HANDLE hMutexProcessA = CreateMutex(NULL, FALSE, "JeffMutex"); */
    enter(&a);
    SetLastError(1234);
    HANDLE ha = CreateMutexA(NULL, FALSE, "JeffMutex");
    CHECK(ha != NULL);
    CHECK(GetLastError() == ERROR_SUCCESS); /* a new object clears the last error */

    /* Process B: the same call opens A's mutex: a valid handle, ERROR_ALREADY_EXISTS. */
    enter(&b);
    HANDLE hb = CreateMutexW(NULL, TRUE, u"JeffMutex"); /* bInitialOwner is ignored */
    CHECK(hb != NULL);
    CHECK(GetLastError() == ERROR_ALREADY_EXISTS);
    /* One object: B takes it, A cannot until B releases. */
    CHECK(WaitForSingleObject(hb, 0) == WAIT_OBJECT_0);
    enter(&a);
    CHECK(WaitForSingleObject(ha, 0) == WAIT_TIMEOUT);
    enter(&b);
    CHECK(ReleaseMutex(hb));
    enter(&a);
    CHECK(WaitForSingleObject(ha, 0) == WAIT_OBJECT_0);
    CHECK(ReleaseMutex(ha));

    /* One namespace for every type (seed 004: CreateSemaphore(NULL, 1, 1, "JeffObj")
       after CreateMutex(.., "JeffObj") fails); another type's name: ERROR_INVALID_HANDLE. */
    HANDLE obj = CreateMutexA(NULL, FALSE, "JeffObj");
    CHECK(obj != NULL);
    CHECK_FAILS(CreateSemaphoreA(NULL, 1, 1, "JeffObj"), NULL, ERROR_INVALID_HANDLE);
    CHECK_FAILS(OpenEventA(EVENT_ALL_ACCESS, FALSE, "JeffObj"), NULL, ERROR_INVALID_HANDLE);

    /* Open: a missing name is ERROR_FILE_NOT_FOUND; access 0 is ERROR_ACCESS_DENIED. */
    CHECK_FAILS(OpenMutexA(SYNCHRONIZE, FALSE, "NoSuchName"), NULL, ERROR_FILE_NOT_FOUND);
    CHECK_FAILS(OpenMutexA(0, FALSE, "JeffObj"), NULL, ERROR_ACCESS_DENIED);
    /* Names are case-sensitive counted strings (SPEC §3). */
    CHECK_FAILS(OpenMutexA(SYNCHRONIZE, FALSE, "jeffobj"), NULL, ERROR_FILE_NOT_FOUND);
    CHECK(CloseHandle(obj));

    /* An event set by one process wakes a waiter of the other. */
    HANDLE ready = CreateEventW(NULL, TRUE, FALSE, u"Ready");
    CHECK(ready != NULL);
    enter(&b);
    HANDLE ready_b = OpenEventW(EVENT_MODIFY_STATE, FALSE, u"Ready");
    CHECK(ready_b != NULL);
    CHECK(SetEvent(ready_b));
    /* Opened without SYNCHRONIZE: B cannot wait on it (SPEC §7.3). */
    CHECK_FAILS(WaitForSingleObject(ready_b, 0), WAIT_FAILED, ERROR_ACCESS_DENIED);
    enter(&a);
    CHECK(WaitForSingleObject(ready, 0) == WAIT_OBJECT_0);

    /* UTF-8 (A) and UTF-16 (W) spell the same names. */
    HANDLE u8 = CreateSemaphoreA(NULL, 0, 3, "Gr\xc3\xbc\xc3\x9f" "e"); /* "Grüße" */
    CHECK(u8 != NULL);
    enter(&b);
    HANDLE u16 = OpenSemaphoreW(SEMAPHORE_MODIFY_STATE, FALSE, u"Gr\u00fc\u00dfe");
    CHECK(u16 != NULL);
    LONG prev = -1;
    CHECK(ReleaseSemaphore(u16, 2, &prev) && prev == 0);
    HANDLE again = CreateSemaphoreW(NULL, 0, 3, u"Gr\u00fc\u00dfe");
    CHECK(again != NULL && GetLastError() == ERROR_ALREADY_EXISTS);
    enter(&a);
    CHECK(WaitForSingleObject(u8, 0) == WAIT_OBJECT_0);
    CHECK(WaitForSingleObject(u8, 0) == WAIT_OBJECT_0);
    CHECK(WaitForSingleObject(u8, 0) == WAIT_TIMEOUT);

    /* Every named type the seed lists: create in A, open in B, create again in B. */
    HANDLE timer = CreateWaitableTimerA(NULL, TRUE, "Timer");
    HANDLE map = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 4096, "Map");
    HANDLE job = CreateJobObjectA(NULL, "Job");
    CHECK(timer && map && job);
    enter(&b);
    HANDLE timer_b = OpenWaitableTimerW(TIMER_QUERY_STATE, FALSE, u"Timer");
    HANDLE map_b = OpenFileMappingW(FILE_MAP_READ, FALSE, u"Map");
    HANDLE job_b = OpenJobObjectW(JOB_OBJECT_ALL_ACCESS, FALSE, u"Job");
    CHECK(timer_b && map_b && job_b);
    HANDLE timer_b2 = CreateWaitableTimerW(NULL, FALSE, u"Timer");
    CHECK(timer_b2 != NULL && GetLastError() == ERROR_ALREADY_EXISTS);
    HANDLE map_b2 = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READONLY, 0, 1, u"Map");
    CHECK(map_b2 != NULL && GetLastError() == ERROR_ALREADY_EXISTS);
    HANDLE job_b2 = CreateJobObjectW(NULL, u"Job");
    CHECK(job_b2 != NULL && GetLastError() == ERROR_ALREADY_EXISTS);
    HANDLE timer_a = OpenWaitableTimerA(TIMER_ALL_ACCESS, FALSE, "Timer");
    HANDLE map_a = OpenFileMappingA(FILE_MAP_ALL_ACCESS, FALSE, "Map");
    HANDLE job_a = OpenJobObjectA(JOB_OBJECT_ALL_ACCESS, FALSE, "Job");
    CHECK(timer_a && map_a && job_a);
    HANDLE bs[] = {ready_b, u16, again, timer_b, map_b, job_b, timer_b2, map_b2, job_b2,
                   timer_a, map_a, job_a, hb};
    for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++) CHECK(CloseHandle(bs[i]));

    /* The name goes with the last handle (SPEC §3): A's handle still holds JeffMutex. */
    enter(&b);
    HANDLE still = OpenMutexA(SYNCHRONIZE, FALSE, "JeffMutex");
    CHECK(still != NULL);
    CHECK(CloseHandle(still));
    enter(&a);
    HANDLE as[] = {ha, ready, u8, timer, map, job};
    for (size_t i = 0; i < sizeof as / sizeof as[0]; i++) CHECK(CloseHandle(as[i]));
    CHECK_FAILS(OpenMutexA(SYNCHRONIZE, FALSE, "JeffMutex"), NULL, ERROR_FILE_NOT_FOUND);
    SetLastError(77);
    HANDLE fresh = CreateMutexA(NULL, FALSE, "JeffMutex");
    CHECK(fresh != NULL && GetLastError() == ERROR_SUCCESS); /* a new object */
    CHECK(CloseHandle(fresh));

    guest_free(&a);
    guest_free(&b);
    check_no_leak(k, start);
    kobj_kernel_free(k);
    return 0;
}
