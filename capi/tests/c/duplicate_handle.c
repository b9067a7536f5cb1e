/* Sharing by duplication (seed 003, Hart, "Duplicating Handles"): DuplicateHandle copies
   a handle into another process's table, with the access and inheritance asked for or the
   source's (DUPLICATE_SAME_ACCESS); both process handles need PROCESS_DUP_HANDLE; the
   copies are distinct handles for the object's lifetime. Rules: SPEC §3 "Duplication";
   CompareObjectHandles' ERROR_NOT_SAME_OBJECT as kernelbase reports it. */
#include "check.h"

int main(void) {
    kobj_kernel *k = kobj_kernel_new();
    size_t start = kobj_kernel_object_count(k);
    guest p = guest_new(k, NULL);
    enter(&p);
    HANDLE hEvent = CreateEventA(NULL, FALSE, FALSE, NULL);
    CHECK(hEvent != NULL);
    kobj_process *c_p = NULL;
    HANDLE hChild = NULL;
    CHECK(kobj_CreateProcess(FALSE, NULL, &c_p, &hChild));
    guest c = guest_of(c_p);

    /* Push into the child with the source's access. */
    HANDLE inC = NULL;
    CHECK(DuplicateHandle(GetCurrentProcess(), hEvent, hChild, &inC, 0, FALSE, DUPLICATE_SAME_ACCESS));
    CHECK(inC != NULL);
    enter(&c);
    CHECK(SetEvent(inC));
    DWORD flags = 9;
    CHECK(GetHandleInformation(inC, &flags) && flags == 0);
    enter(&p);
    CHECK(WaitForSingleObject(hEvent, 0) == WAIT_OBJECT_0); /* the child's SetEvent */

    /* Less access: SYNCHRONIZE only; the duplicate may wait but not set. Inheritable. */
    HANDLE weak = NULL;
    CHECK(DuplicateHandle(GetCurrentProcess(), hEvent, hChild, &weak, SYNCHRONIZE, TRUE, 0));
    enter(&c);
    CHECK_FAILS(SetEvent(weak), FALSE, ERROR_ACCESS_DENIED);
    CHECK(WaitForSingleObject(weak, 0) == WAIT_TIMEOUT);
    CHECK(GetHandleInformation(weak, &flags) && flags == HANDLE_FLAG_INHERIT);

    /* Pull back from the child: the same object (CompareObjectHandles). */
    enter(&p);
    HANDLE back = NULL;
    CHECK(DuplicateHandle(hChild, inC, GetCurrentProcess(), &back, 0, FALSE, DUPLICATE_SAME_ACCESS));
    CHECK(CompareObjectHandles(back, hEvent));
    HANDLE other = CreateEventA(NULL, FALSE, FALSE, NULL);
    CHECK_FAILS(CompareObjectHandles(back, other), FALSE, ERROR_NOT_SAME_OBJECT);

    /* Distinct handles: the object lives until the last copy closes. */
    size_t live = kobj_kernel_object_count(k);
    CHECK(CloseHandle(hEvent) && CloseHandle(back));
    CHECK(kobj_kernel_object_count(k) == live);
    enter(&c);
    CHECK(CloseHandle(inC));
    CHECK(kobj_kernel_object_count(k) == live);
    CHECK(CloseHandle(weak));
    CHECK(kobj_kernel_object_count(k) == live - 1);

    /* DUPLICATE_CLOSE_SOURCE: the source is gone after the call; in one process the
       value is kept (SPEC §3). A NULL target with CLOSE_SOURCE only closes. */
    enter(&p);
    HANDLE moved = NULL;
    CHECK(DuplicateHandle(GetCurrentProcess(), other, GetCurrentProcess(), &moved, 0, FALSE,
                          DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE));
    CHECK(moved == other);
    HANDLE gone = CreateEventA(NULL, FALSE, FALSE, NULL);
    CHECK(DuplicateHandle(GetCurrentProcess(), gone, NULL, NULL, 0, FALSE, DUPLICATE_CLOSE_SOURCE));
    CHECK_FAILS(CloseHandle(gone), FALSE, ERROR_INVALID_HANDLE);
    /* NULL target without CLOSE_SOURCE: ERROR_INVALID_PARAMETER. */
    CHECK_FAILS(DuplicateHandle(GetCurrentProcess(), moved, NULL, NULL, 0, FALSE, 0), FALSE,
                ERROR_INVALID_PARAMETER);

    /* The pseudo-handle duplicates into a real process handle (the seed: "a real,
       inheritable process handle rather than the pseudohandle"). */
    HANDLE self = NULL;
    CHECK(DuplicateHandle(GetCurrentProcess(), GetCurrentProcess(), GetCurrentProcess(), &self, 0,
                          TRUE, DUPLICATE_SAME_ACCESS));
    CHECK(self != GetCurrentProcess());
    CHECK(GetProcessId(self) == GetCurrentProcessId());
    CHECK(GetHandleInformation(self, &flags) && flags == HANDLE_FLAG_INHERIT);

    /* GetCurrentThread() duplicates into a real handle to the calling thread (the usual
       way to get one; THREAD_ALL_ACCESS under DUPLICATE_SAME_ACCESS). */
    DWORD before = 0, after = 0;
    CHECK(GetProcessHandleCount(GetCurrentProcess(), &before));
    HANDLE me = NULL;
    CHECK(DuplicateHandle(GetCurrentProcess(), GetCurrentThread(), GetCurrentProcess(), &me, 0, FALSE,
                          DUPLICATE_SAME_ACCESS));
    CHECK(me != GetCurrentThread() && GetThreadId(me) == GetCurrentThreadId());
    CHECK(WaitForSingleObject(me, 0) == WAIT_TIMEOUT); /* a running thread */
    HANDLE meInC = NULL;
    CHECK(DuplicateHandle(GetCurrentProcess(), GetCurrentThread(), hChild, &meInC, SYNCHRONIZE, TRUE, 0));
    CHECK(GetProcessHandleCount(GetCurrentProcess(), &after) && after == before + 1); /* just `me` */
    enter(&c);
    CHECK(WaitForSingleObject(meInC, 0) == WAIT_TIMEOUT);
    CHECK_FAILS(GetThreadId(meInC), 0, ERROR_ACCESS_DENIED); /* SYNCHRONIZE only */
    CHECK(GetHandleInformation(meInC, &flags) && flags == HANDLE_FLAG_INHERIT);
    CHECK(CloseHandle(meInC));
    enter(&p);
    CHECK(CloseHandle(me));

    /* Process handles need PROCESS_DUP_HANDLE (seed 003). */
    HANDLE sync_only = OpenProcess(SYNCHRONIZE, FALSE, GetProcessId(hChild));
    CHECK(sync_only != NULL);
    HANDLE nope = NULL;
    CHECK_FAILS(DuplicateHandle(GetCurrentProcess(), moved, sync_only, &nope, 0, FALSE,
                                DUPLICATE_SAME_ACCESS), FALSE, ERROR_ACCESS_DENIED);
    CHECK(nope == NULL);
    /* An invalid source handle: ERROR_INVALID_HANDLE. */
    CHECK_FAILS(DuplicateHandle(GetCurrentProcess(), (HANDLE)0x7FF0, hChild, &nope, 0, FALSE,
                                DUPLICATE_SAME_ACCESS), FALSE, ERROR_INVALID_HANDLE);
    /* More access than the DACL grants the target: the default DACL grants the creator's
       user everything, so asking EVENT_ALL_ACCESS from a SYNCHRONIZE handle succeeds. */
    HANDLE s1 = NULL, s2 = NULL;
    CHECK(DuplicateHandle(GetCurrentProcess(), moved, GetCurrentProcess(), &s1, SYNCHRONIZE, FALSE, 0));
    CHECK(DuplicateHandle(GetCurrentProcess(), s1, GetCurrentProcess(), &s2, EVENT_ALL_ACCESS, FALSE, 0));
    CHECK(SetEvent(s2));
    CHECK_FAILS(SetEvent(s1), FALSE, ERROR_ACCESS_DENIED);

    HANDLE closing[] = {s1, s2, moved, self, sync_only, hChild};
    for (size_t i = 0; i < sizeof closing / sizeof closing[0]; i++) CHECK(CloseHandle(closing[i]));
    guest_free(&c);
    guest_free(&p);
    check_no_leak(k, start);
    kobj_kernel_free(k);
    return 0;
}
