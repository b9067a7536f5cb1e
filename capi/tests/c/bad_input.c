/* Bad input gets Win32's error, never a crash (issue 12; SPEC §6): NULL pointers,
   counts out of range, names that are too long or not UTF-16/UTF-8, garbage handles and
   pseudo-handles, bad flags. Where Windows' rule is the source it is named. */
#include <stdint.h>
#include <string.h>

#include "check.h"

int main(void) {
    kobj_kernel *k = kobj_kernel_new();
    size_t start = kobj_kernel_object_count(k);

    /* The bootstrap with NULLs. */
    CHECK_FAILS(kobj_process_create(NULL, NULL), NULL, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(kobj_process_main_thread(NULL), NULL, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(kobj_thread_create(NULL, NULL), NULL, ERROR_INVALID_PARAMETER);
    CHECK(kobj_kernel_object_count(NULL) == 0);
    kobj_kernel_free(NULL);
    kobj_process_free(NULL);
    kobj_thread_free(NULL);
    kobj_sd_free(NULL);
    kobj_token_free(NULL);
    kobj_boundary_free(NULL);
    CHECK(kobj_thread_enter(NULL));
    CHECK_FAILS(kobj_sd_allow(NULL, KOBJ_SID_EVERYONE, GENERIC_ALL), FALSE, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(kobj_token_add_group(NULL, KOBJ_SID_EVERYONE), FALSE, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(kobj_boundary_add_sid(NULL, KOBJ_SID_EVERYONE), FALSE, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(kobj_boundary_new(NULL), NULL, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(kobj_boundary_new("\xff"), NULL, ERROR_NO_UNICODE_TRANSLATION);
    /* SIDs and privileges that do not exist (AddAccessAllowedAce: ERROR_INVALID_SID;
       LookupPrivilegeValue: ERROR_NO_SUCH_PRIVILEGE). */
    kobj_sd *sd = kobj_sd_new(FALSE);
    CHECK_FAILS(kobj_sd_allow(sd, 12345, GENERIC_ALL), FALSE, ERROR_INVALID_SID);
    CHECK_FAILS(kobj_sd_set_owner(sd, (kobj_sid)7 << 32), FALSE, ERROR_INVALID_SID);
    CHECK_FAILS(kobj_token_new(0), NULL, ERROR_INVALID_SID);
    kobj_token *tok = kobj_token_new(kobj_sid_user(1000));
    CHECK_FAILS(kobj_token_add_privilege(tok, 99), FALSE, ERROR_NO_SUCH_PRIVILEGE);
    /* Process options: a NULL list with a count, an empty list (SPEC §3). */
    kobj_process_options bad = {0};
    bad.handle_count = 3;
    CHECK_FAILS(kobj_process_create(k, &bad), NULL, ERROR_INVALID_PARAMETER);

    guest g = guest_new(k, NULL);
    enter(&g);
    HANDLE e = CreateEventA(NULL, TRUE, FALSE, NULL);
    CHECK(e != NULL);
    HANDLE empty_list[1] = {e};
    bad.handle_count = 0;
    bad.handle_list = empty_list;
    CHECK_FAILS(kobj_CreateProcess(TRUE, &bad, NULL, NULL), FALSE, ERROR_INVALID_PARAMETER);
    bad.handle_list = NULL;
    bad.handle_count = 1;
    CHECK_FAILS(kobj_CreateProcess(TRUE, &bad, NULL, NULL), FALSE, ERROR_INVALID_PARAMETER);

    /* Waits: the count is checked first (1..MAXIMUM_WAIT_OBJECTS), then the array. */
    HANDLE many[65];
    for (int i = 0; i < 65; i++) many[i] = e;
    CHECK_FAILS(WaitForMultipleObjects(0, many, FALSE, 0), WAIT_FAILED, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(WaitForMultipleObjects(65, many, FALSE, 0), WAIT_FAILED, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(WaitForMultipleObjects(0, NULL, FALSE, 0), WAIT_FAILED, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(WaitForMultipleObjects(2, NULL, FALSE, 0), WAIT_FAILED, ERROR_NOACCESS);
    CHECK(WaitForMultipleObjects(64, many, FALSE, 0) == WAIT_TIMEOUT); /* 64 is allowed */
    CHECK_FAILS(WaitForMultipleObjects(2, many, TRUE, 0), WAIT_FAILED, ERROR_INVALID_PARAMETER);
    /* Garbage and pseudo-handles (SPEC §3, §7.3). */
    CHECK_FAILS(WaitForSingleObject(NULL, 0), WAIT_FAILED, ERROR_INVALID_HANDLE);
    CHECK_FAILS(WaitForSingleObject((HANDLE)(uintptr_t)0x12345678, 0), WAIT_FAILED, ERROR_INVALID_HANDLE);
    CHECK_FAILS(WaitForSingleObject((HANDLE)(intptr_t)-3, 0), WAIT_FAILED, ERROR_INVALID_HANDLE);
    CHECK(WaitForSingleObject(GetCurrentThread(), 0) == WAIT_TIMEOUT);
    HANDLE pseudo[1] = {GetCurrentProcess()};
    CHECK_FAILS(WaitForMultipleObjects(1, pseudo, FALSE, 0), WAIT_FAILED, ERROR_INVALID_HANDLE);
    CHECK_FAILS(CloseHandle((HANDLE)(uintptr_t)0xFFFFFFF0), FALSE, ERROR_INVALID_HANDLE);
    CHECK(CloseHandle(GetCurrentProcess())); /* closing a pseudo-handle does nothing */
    CHECK_FAILS(SetEvent((HANDLE)(uintptr_t)(e) + 0x1000), FALSE, ERROR_INVALID_HANDLE);
    CHECK(SetEvent((HANDLE)((uintptr_t)e | 3))); /* the low two bits are ignored */
    CHECK_FAILS(SetHandleInformation(GetCurrentProcess(), HANDLE_FLAG_INHERIT, 0), FALSE,
                ERROR_INVALID_HANDLE);

    /* Required out-pointers that are NULL: ERROR_NOACCESS, nothing done. */
    CHECK_FAILS(GetHandleInformation(e, NULL), FALSE, ERROR_NOACCESS);
    CHECK_FAILS(GetExitCodeProcess(GetCurrentProcess(), NULL), FALSE, ERROR_NOACCESS);
    CHECK_FAILS(GetExitCodeThread(GetCurrentThread(), NULL), FALSE, ERROR_NOACCESS);
    CHECK_FAILS(GetProcessHandleCount(GetCurrentProcess(), NULL), FALSE, ERROR_NOACCESS);
    /* Optional ones may be NULL. */
    HANDLE s = CreateSemaphoreA(NULL, 0, 2, NULL);
    CHECK(ReleaseSemaphore(s, 1, NULL));
    CHECK(DuplicateHandle(GetCurrentProcess(), s, GetCurrentProcess(), NULL, 0, FALSE, DUPLICATE_SAME_ACCESS));

    /* Counts: checked before the handle, as NT does (SPEC §3). */
    CHECK_FAILS(ReleaseSemaphore(s, 0, NULL), FALSE, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(ReleaseSemaphore(NULL, -1, NULL), FALSE, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(ReleaseSemaphore(s, 5, NULL), FALSE, ERROR_TOO_MANY_POSTS);
    CHECK_FAILS(CreateSemaphoreA(NULL, 2, 1, "TooMany"), NULL, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(CreateSemaphoreA(NULL, 0, 0, NULL), NULL, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(CreateSemaphoreA(NULL, -1, 1, NULL), NULL, ERROR_INVALID_PARAMETER);
    /* File mappings: a paging-file section needs a size; PAGE_* must be one protection. */
    CHECK_FAILS(CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0, NULL), NULL,
                ERROR_INVALID_PARAMETER);
    CHECK_FAILS(CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, 0x3, 0, 16, NULL), NULL,
                ERROR_INVALID_PARAMETER);
    CHECK_FAILS(CreateFileMappingA(NULL, NULL, PAGE_READWRITE, 0, 16, NULL), NULL, ERROR_INVALID_HANDLE);
    HANDLE big = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE | SEC_COMMIT, 1, 0, NULL);
    CHECK(big != NULL); /* 4 GiB: the high DWORD counts */

    /* A names: UTF-8 here; over 260 characters is ERROR_FILENAME_EXCED_RANGE (Windows'
       ANSI functions convert into a MAX_PATH buffer); not UTF-8 is
       ERROR_NO_UNICODE_TRANSLATION. Exactly 260 is fine. */
    char name[1200];
    memset(name, 'a', 260);
    name[260] = 0;
    HANDLE n260 = CreateMutexA(NULL, FALSE, name);
    CHECK(n260 != NULL);
    name[260] = 'a';
    name[261] = 0;
    CHECK_FAILS(CreateMutexA(NULL, FALSE, name), NULL, ERROR_FILENAME_EXCED_RANGE);
    CHECK_FAILS(OpenMutexA(SYNCHRONIZE, FALSE, name), NULL, ERROR_FILENAME_EXCED_RANGE);
    memset(name, 'b', sizeof name - 1);
    name[sizeof name - 1] = 0;
    CHECK_FAILS(CreateEventA(NULL, FALSE, FALSE, name), NULL, ERROR_FILENAME_EXCED_RANGE);
    /* 260 two-byte characters (520 bytes) are 260 characters: allowed. */
    for (int i = 0; i < 260; i++) {
        name[2 * i] = (char)0xC3;
        name[2 * i + 1] = (char)0xA9; /* é */
    }
    name[520] = 0;
    HANDLE wide260 = CreateSemaphoreA(NULL, 0, 1, name);
    CHECK(wide260 != NULL);
    CHECK_FAILS(CreateMutexA(NULL, FALSE, "bad\xff" "name"), NULL, ERROR_NO_UNICODE_TRANSLATION);
    CHECK_FAILS(CreateJobObjectA(NULL, "\xc3"), NULL, ERROR_NO_UNICODE_TRANSLATION);

    /* W names: an unpaired surrogate is not UTF-16 (ERROR_INVALID_NAME); over 32,767
       units is ERROR_INVALID_NAME (SPEC §3); an Open with a NULL name is
       ERROR_INVALID_PARAMETER (kernelbase). */
    const WCHAR lone[] = {'x', 0xD800, 'y', 0};
    CHECK_FAILS(CreateMutexW(NULL, FALSE, lone), NULL, ERROR_INVALID_NAME);
    CHECK_FAILS(OpenEventW(SYNCHRONIZE, FALSE, lone), NULL, ERROR_INVALID_NAME);
    WCHAR *huge = (WCHAR *)malloc(40000 * sizeof(WCHAR));
    CHECK(huge != NULL);
    for (int i = 0; i < 40000; i++) huge[i] = 'h';
    huge[32768] = 0;
    CHECK_FAILS(CreateWaitableTimerW(NULL, TRUE, huge), NULL, ERROR_INVALID_NAME);
    huge[32767] = 0; /* exactly 32,767 units: a name */
    HANDLE longest = CreateWaitableTimerW(NULL, TRUE, huge);
    CHECK(longest != NULL);
    free(huge);
    CHECK_FAILS(OpenMutexW(SYNCHRONIZE, FALSE, NULL), NULL, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(OpenSemaphoreA(SYNCHRONIZE, FALSE, NULL), NULL, ERROR_INVALID_PARAMETER);
    /* An empty name makes an unnamed object (SPEC §3). */
    HANDLE unnamed = CreateEventW(NULL, FALSE, FALSE, u"");
    CHECK(unnamed != NULL && GetLastError() == ERROR_SUCCESS);

    /* Access bits: ACCESS_SYSTEM_SECURITY needs a privilege (SPEC §3). */
    CHECK_FAILS(OpenMutexA(ACCESS_SYSTEM_SECURITY, FALSE, "aaaa"), NULL, ERROR_FILE_NOT_FOUND);
    memset(name, 'a', 260);
    name[260] = 0;
    CHECK_FAILS(OpenMutexA(ACCESS_SYSTEM_SECURITY, FALSE, name), NULL, ERROR_PRIVILEGE_NOT_HELD);
    CHECK_FAILS(OpenMutexA(0x4, FALSE, name), NULL, ERROR_ACCESS_DENIED);

    /* Private namespaces: NULL boundary or alias, bad flags. */
    kobj_boundary *b = kobj_boundary_new("bad-input");
    CHECK_FAILS(CreatePrivateNamespaceW(NULL, NULL, u"alias"), NULL, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(CreatePrivateNamespaceW(NULL, b, NULL), NULL, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(OpenPrivateNamespaceW(b, u"alias"), NULL, ERROR_FILE_NOT_FOUND);
    CHECK_FAILS(ClosePrivateNamespace(e, 2), 0, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(ClosePrivateNamespace((HANDLE)0x7FF8, 0), 0, ERROR_INVALID_HANDLE);

    /* Process and thread calls with wrong handles or ids. */
    CHECK_FAILS(OpenProcess(PROCESS_ALL_ACCESS, FALSE, 0), NULL, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(OpenProcess(PROCESS_ALL_ACCESS, FALSE, 0x7FFFFFF0), NULL, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(OpenThread(THREAD_ALL_ACCESS, FALSE, 3), NULL, ERROR_INVALID_PARAMETER);
    CHECK_FAILS(GetProcessId(e), 0, ERROR_INVALID_HANDLE);
    CHECK_FAILS(GetThreadId(GetCurrentProcess()), 0, ERROR_INVALID_HANDLE);
    CHECK_FAILS(TerminateProcess(e, 1), FALSE, ERROR_INVALID_HANDLE);
    DWORD code;
    CHECK_FAILS(GetExitCodeThread(e, &code), FALSE, ERROR_INVALID_HANDLE);

    HANDLE hs[] = {e, s, big, n260, wide260, longest, unnamed};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) CHECK(CloseHandle(hs[i]));
    /* The duplicate made above with a NULL target pointer is still in the table: it is
       the one handle left (Win32: "you will lose system resources"). */
    DWORD count = 0;
    CHECK(GetProcessHandleCount(GetCurrentProcess(), &count) && count == 1);
    kobj_boundary_free(b);
    kobj_sd_free(sd);
    kobj_token_free(tok);
    guest_free(&g);
    check_no_leak(k, start);
    kobj_kernel_free(k);
    return 0;
}
