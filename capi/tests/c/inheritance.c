/* Sharing by inheritance (seeds 000 and 001, Richter, "Object Handle Inheritance"):
   the parent makes an inheritable handle with SECURITY_ATTRIBUTES.bInheritHandle, spawns
   a child with bInheritHandles = TRUE, and the child holds the same object at the same
   handle value; handles without the flag are not copied. Rules: SPEC §3 "Inheritance"
   (the handle list is PROC_THREAD_ATTRIBUTE_HANDLE_LIST). */
#include "check.h"

int main(void) {
    kobj_kernel *k = kobj_kernel_new();
    size_t start = kobj_kernel_object_count(k);
    guest parent = guest_new(k, NULL);
    enter(&parent);

    /* The seed's code: sa.bInheritHandle = TRUE; HANDLE hMutex = CreateMutex(&sa, FALSE, NULL); */
    SECURITY_ATTRIBUTES sa;
    sa.nLength = sizeof(sa);
    sa.lpSecurityDescriptor = NULL;
    sa.bInheritHandle = TRUE;
    HANDLE hMutex = CreateMutex(&sa, FALSE, NULL);
    CHECK(hMutex != NULL);
    HANDLE hEvent = CreateEventW(NULL, TRUE, FALSE, NULL); /* NULL attributes: not inheritable */
    CHECK(hEvent != NULL);
    DWORD flags = 99;
    CHECK(GetHandleInformation(hMutex, &flags) && flags == HANDLE_FLAG_INHERIT);
    CHECK(GetHandleInformation(hEvent, &flags) && flags == 0);

    /* SetHandleInformation makes a handle inheritable after the fact (Richter). */
    HANDLE hSem = CreateSemaphoreW(NULL, 0, 5, NULL);
    CHECK(hSem != NULL);
    CHECK(SetHandleInformation(hSem, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT));
    CHECK(GetHandleInformation(hSem, &flags) && flags == HANDLE_FLAG_INHERIT);

    kobj_process *child_p = NULL;
    HANDLE hChild = NULL;
    CHECK(kobj_CreateProcess(TRUE, NULL, &child_p, &hChild));
    CHECK(child_p != NULL && hChild != NULL);
    guest child = guest_of(child_p);
    DWORD parent_pid = GetCurrentProcessId();

    /* In the child: the same values name the same objects, with the same flags. */
    enter(&child);
    CHECK(GetCurrentProcessId() != parent_pid);
    CHECK(GetHandleInformation(hMutex, &flags) && flags == HANDLE_FLAG_INHERIT);
    CHECK(WaitForSingleObject(hMutex, 0) == WAIT_OBJECT_0);
    LONG prev = -1;
    CHECK(ReleaseSemaphore(hSem, 2, &prev) && prev == 0);
    /* The non-inheritable handle's value names nothing in the child. */
    CHECK_FAILS(SetEvent(hEvent), FALSE, ERROR_INVALID_HANDLE);

    /* The parent sees the child's acts: the mutex is held, the semaphore counts 2. */
    enter(&parent);
    CHECK(WaitForSingleObject(hMutex, 0) == WAIT_TIMEOUT);
    CHECK(WaitForSingleObject(hSem, 0) == WAIT_OBJECT_0);
    CHECK(WaitForSingleObject(hSem, 0) == WAIT_OBJECT_0);
    CHECK(WaitForSingleObject(hSem, 0) == WAIT_TIMEOUT);
    CHECK(GetProcessId(hChild) != 0);
    enter(&child);
    /* hChild is a value of the parent's table only. */
    CHECK_FAILS(GetProcessId(hChild), 0, ERROR_INVALID_HANDLE);
    CHECK(ReleaseMutex(hMutex));

    /* bInheritHandles = FALSE copies nothing. */
    enter(&parent);
    kobj_process *none_p = NULL;
    CHECK(kobj_CreateProcess(FALSE, NULL, &none_p, NULL));
    guest none = guest_of(none_p);
    enter(&none);
    CHECK_FAILS(WaitForSingleObject(hMutex, 0), WAIT_FAILED, ERROR_INVALID_HANDLE);
    CHECK_FAILS(WaitForSingleObject(hSem, 0), WAIT_FAILED, ERROR_INVALID_HANDLE);

    /* A handle list: only the listed (inheritable) handles are copied. */
    enter(&parent);
    kobj_process_options o = {0};
    HANDLE list[1] = {hSem};
    o.handle_list = list;
    o.handle_count = 1;
    kobj_process *listed_p = NULL;
    HANDLE hListed = NULL;
    CHECK(kobj_CreateProcess(TRUE, &o, &listed_p, &hListed));
    guest listed = guest_of(listed_p);
    enter(&listed);
    CHECK(ReleaseSemaphore(hSem, 1, NULL));
    CHECK_FAILS(ReleaseMutex(hMutex), FALSE, ERROR_INVALID_HANDLE);
    /* A listed handle that is not inheritable, or a list without inheritance:
       ERROR_INVALID_PARAMETER. */
    enter(&parent);
    list[0] = hEvent;
    CHECK_FAILS(kobj_CreateProcess(TRUE, &o, NULL, NULL), FALSE, ERROR_INVALID_PARAMETER);
    list[0] = hSem;
    CHECK_FAILS(kobj_CreateProcess(FALSE, &o, NULL, NULL), FALSE, ERROR_INVALID_PARAMETER);

    /* Inherited handles are distinct handles (seed 003's reminder): the parent closing
       its handle leaves the object alive for the child. */
    size_t live = kobj_kernel_object_count(k);
    CHECK(CloseHandle(hSem));
    CHECK(kobj_kernel_object_count(k) == live);
    enter(&child);
    CHECK(ReleaseSemaphore(hSem, 1, NULL));
    CHECK(CloseHandle(hSem));
    enter(&listed);
    CHECK(CloseHandle(hSem));
    CHECK(kobj_kernel_object_count(k) == live - 1); /* the last handle: gone */

    enter(&parent);
    CHECK(TerminateProcess(hChild, 0) && TerminateProcess(hListed, 0));
    CHECK(CloseHandle(hChild) && CloseHandle(hListed));
    CHECK(CloseHandle(hMutex) && CloseHandle(hEvent));
    guest_free(&child);
    guest_free(&none);
    guest_free(&listed);
    guest_free(&parent);
    check_no_leak(k, start);
    kobj_kernel_free(k);
    return 0;
}
