/*
 * kobj/win32.h: the Win32 types and constants kobj's C ABI uses, and the Win32 names of
 * its functions.
 *
 * Code written against <windows.h> for these calls compiles unchanged against kobj on
 * Linux: include this header instead, and CreateMutexW(...) calls kobj_CreateMutexW(...).
 * Every constant has its Windows value (winnt.h, winbase.h, winerror.h). The plain names
 * (CreateMutex) follow UNICODE as <windows.h> does; the A functions take UTF-8 here.
 *
 * Hand-written; capi/tests/header.rs checks that every Win32-named function of kobj.h is
 * mapped here.
 */
#ifndef KOBJ_WIN32_H
#define KOBJ_WIN32_H

#include <stddef.h>
#include <stdint.h>

/* ---- Types ------------------------------------------------------------------------- */

typedef void *HANDLE;
typedef HANDLE *PHANDLE, *LPHANDLE;
typedef int BOOL;
typedef unsigned char BOOLEAN;
typedef uint32_t DWORD;
typedef DWORD *PDWORD, *LPDWORD;
typedef int32_t LONG;
typedef LONG *PLONG, *LPLONG;
typedef uint32_t ULONG;
typedef uint32_t UINT;
typedef int64_t LONGLONG;
typedef uintptr_t ULONG_PTR;
typedef uint16_t WCHAR; /* one UTF-16 code unit (not wchar_t, which is 32 bits on Linux) */
typedef const WCHAR *LPCWSTR, *PCWSTR;
typedef WCHAR *LPWSTR, *PWSTR;
typedef char CHAR;
typedef const CHAR *LPCSTR, *PCSTR;
typedef void *LPVOID, *PVOID;
typedef DWORD ACCESS_MASK;

typedef union _LARGE_INTEGER {
    struct {
        DWORD LowPart;
        LONG HighPart;
    } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef struct _SECURITY_ATTRIBUTES {
    DWORD nLength;
    LPVOID lpSecurityDescriptor; /* NULL or a kobj_sd * (kobj_sd_new) */
    BOOL bInheritHandle;
} SECURITY_ATTRIBUTES, *PSECURITY_ATTRIBUTES, *LPSECURITY_ATTRIBUTES;

typedef void (*PAPCFUNC)(ULONG_PTR Parameter);
typedef void (*PTIMERAPCROUTINE)(LPVOID lpArgToCompletionRoutine, DWORD dwTimerLowValue,
                                 DWORD dwTimerHighValue);

#ifndef WINAPI
#define WINAPI
#endif
#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

/* ---- Values ------------------------------------------------------------------------ */

#define INVALID_HANDLE_VALUE ((HANDLE)(intptr_t)-1)
#define MAX_PATH 260
#define INFINITE 0xFFFFFFFFu
#define MAXIMUM_WAIT_OBJECTS 64
#define STILL_ACTIVE 259

#define WAIT_OBJECT_0 0x00000000u
#define WAIT_ABANDONED 0x00000080u
#define WAIT_ABANDONED_0 0x00000080u
#define WAIT_IO_COMPLETION 0x000000C0u
#define WAIT_TIMEOUT 0x00000102u
#define WAIT_FAILED 0xFFFFFFFFu

#define ERROR_SUCCESS 0
#define ERROR_FILE_NOT_FOUND 2
#define ERROR_PATH_NOT_FOUND 3
#define ERROR_ACCESS_DENIED 5
#define ERROR_INVALID_HANDLE 6
#define ERROR_NOT_ENOUGH_MEMORY 8
#define ERROR_GEN_FAILURE 31
#define ERROR_NOT_SUPPORTED 50
#define ERROR_FILE_EXISTS 80
#define ERROR_INVALID_PARAMETER 87
#define ERROR_INVALID_NAME 123
#define ERROR_NEGATIVE_SEEK 131
#define ERROR_BUSY 170
#define ERROR_ALREADY_EXISTS 183
#define ERROR_FILENAME_EXCED_RANGE 206
#define ERROR_NOT_OWNER 288
#define ERROR_TOO_MANY_POSTS 298
#define ERROR_MUTANT_LIMIT_EXCEEDED 587
#define ERROR_NOACCESS 998
#define ERROR_NO_UNICODE_TRANSLATION 1113
#define ERROR_NO_SUCH_PRIVILEGE 1313
#define ERROR_PRIVILEGE_NOT_HELD 1314
#define ERROR_INVALID_SID 1337
#define ERROR_INTERNAL_ERROR 1359
#define ERROR_NO_SYSTEM_RESOURCES 1450
#define ERROR_NOT_SAME_OBJECT 1656

/* Standard and generic rights. */
#define DELETE 0x00010000u
#define READ_CONTROL 0x00020000u
#define WRITE_DAC 0x00040000u
#define WRITE_OWNER 0x00080000u
#define SYNCHRONIZE 0x00100000u
#define STANDARD_RIGHTS_REQUIRED 0x000F0000u
#define STANDARD_RIGHTS_ALL 0x001F0000u
#define ACCESS_SYSTEM_SECURITY 0x01000000u
#define MAXIMUM_ALLOWED 0x02000000u
#define GENERIC_ALL 0x10000000u
#define GENERIC_EXECUTE 0x20000000u
#define GENERIC_WRITE 0x40000000u
#define GENERIC_READ 0x80000000u

/* Object-specific rights. */
#define MUTEX_MODIFY_STATE 0x0001u
#define MUTANT_QUERY_STATE 0x0001u
#define MUTEX_ALL_ACCESS 0x1F0001u
#define EVENT_QUERY_STATE 0x0001u
#define EVENT_MODIFY_STATE 0x0002u
#define EVENT_ALL_ACCESS 0x1F0003u
#define SEMAPHORE_QUERY_STATE 0x0001u
#define SEMAPHORE_MODIFY_STATE 0x0002u
#define SEMAPHORE_ALL_ACCESS 0x1F0003u
#define TIMER_QUERY_STATE 0x0001u
#define TIMER_MODIFY_STATE 0x0002u
#define TIMER_ALL_ACCESS 0x1F0003u
#define FILE_MAP_COPY 0x0001u
#define FILE_MAP_WRITE 0x0002u
#define FILE_MAP_READ 0x0004u
#define FILE_MAP_EXECUTE 0x0020u
#define FILE_MAP_ALL_ACCESS 0xF001Fu
#define JOB_OBJECT_ASSIGN_PROCESS 0x0001u
#define JOB_OBJECT_SET_ATTRIBUTES 0x0002u
#define JOB_OBJECT_QUERY 0x0004u
#define JOB_OBJECT_TERMINATE 0x0008u
#define JOB_OBJECT_ALL_ACCESS 0x1F003Fu
#define PROCESS_TERMINATE 0x0001u
#define PROCESS_CREATE_THREAD 0x0002u
#define PROCESS_VM_OPERATION 0x0008u
#define PROCESS_VM_READ 0x0010u
#define PROCESS_VM_WRITE 0x0020u
#define PROCESS_DUP_HANDLE 0x0040u
#define PROCESS_CREATE_PROCESS 0x0080u
#define PROCESS_SET_INFORMATION 0x0200u
#define PROCESS_QUERY_INFORMATION 0x0400u
#define PROCESS_QUERY_LIMITED_INFORMATION 0x1000u
#define PROCESS_ALL_ACCESS 0x1FFFFFu
#define THREAD_TERMINATE 0x0001u
#define THREAD_SUSPEND_RESUME 0x0002u
#define THREAD_SET_CONTEXT 0x0010u
#define THREAD_QUERY_INFORMATION 0x0040u
#define THREAD_QUERY_LIMITED_INFORMATION 0x0800u
#define THREAD_ALL_ACCESS 0x1FFFFFu

/* Page protections and section attributes (CreateFileMapping's flProtect). */
#define PAGE_NOACCESS 0x01u
#define PAGE_READONLY 0x02u
#define PAGE_READWRITE 0x04u
#define PAGE_WRITECOPY 0x08u
#define PAGE_EXECUTE 0x10u
#define PAGE_EXECUTE_READ 0x20u
#define PAGE_EXECUTE_READWRITE 0x40u
#define PAGE_EXECUTE_WRITECOPY 0x80u
#define SEC_IMAGE 0x01000000u
#define SEC_PROTECTED_IMAGE 0x02000000u
#define SEC_RESERVE 0x04000000u
#define SEC_COMMIT 0x08000000u
#define SEC_NOCACHE 0x10000000u
#define SEC_LARGE_PAGES 0x80000000u

/* DuplicateHandle options, handle flags, private namespaces. */
#define DUPLICATE_CLOSE_SOURCE 0x00000001u
#define DUPLICATE_SAME_ACCESS 0x00000002u
#define DUPLICATE_SAME_ATTRIBUTES 0x00000004u
#define HANDLE_FLAG_INHERIT 0x00000001u
#define HANDLE_FLAG_PROTECT_FROM_CLOSE 0x00000002u
#define PRIVATE_NAMESPACE_FLAG_DESTROY 0x00000001u

/* ---- The Win32 names of kobj's functions ------------------------------------------ */

#define GetLastError kobj_GetLastError
#define SetLastError kobj_SetLastError

#define CreateMutexA kobj_CreateMutexA
#define CreateMutexW kobj_CreateMutexW
#define OpenMutexA kobj_OpenMutexA
#define OpenMutexW kobj_OpenMutexW
#define CreateEventA kobj_CreateEventA
#define CreateEventW kobj_CreateEventW
#define OpenEventA kobj_OpenEventA
#define OpenEventW kobj_OpenEventW
#define CreateSemaphoreA kobj_CreateSemaphoreA
#define CreateSemaphoreW kobj_CreateSemaphoreW
#define OpenSemaphoreA kobj_OpenSemaphoreA
#define OpenSemaphoreW kobj_OpenSemaphoreW
#define CreateWaitableTimerA kobj_CreateWaitableTimerA
#define CreateWaitableTimerW kobj_CreateWaitableTimerW
#define OpenWaitableTimerA kobj_OpenWaitableTimerA
#define OpenWaitableTimerW kobj_OpenWaitableTimerW
#define CreateFileMappingA kobj_CreateFileMappingA
#define CreateFileMappingW kobj_CreateFileMappingW
#define OpenFileMappingA kobj_OpenFileMappingA
#define OpenFileMappingW kobj_OpenFileMappingW
#define CreateJobObjectA kobj_CreateJobObjectA
#define CreateJobObjectW kobj_CreateJobObjectW
#define OpenJobObjectA kobj_OpenJobObjectA
#define OpenJobObjectW kobj_OpenJobObjectW

#define ReleaseMutex kobj_ReleaseMutex
#define SetEvent kobj_SetEvent
#define ResetEvent kobj_ResetEvent
#define PulseEvent kobj_PulseEvent
#define ReleaseSemaphore kobj_ReleaseSemaphore
#define SetWaitableTimer kobj_SetWaitableTimer
#define CancelWaitableTimer kobj_CancelWaitableTimer

#define CloseHandle kobj_CloseHandle
#define DuplicateHandle kobj_DuplicateHandle
#define GetHandleInformation kobj_GetHandleInformation
#define SetHandleInformation kobj_SetHandleInformation
#define CompareObjectHandles kobj_CompareObjectHandles

#define WaitForSingleObject kobj_WaitForSingleObject
#define WaitForSingleObjectEx kobj_WaitForSingleObjectEx
#define WaitForMultipleObjects kobj_WaitForMultipleObjects
#define WaitForMultipleObjectsEx kobj_WaitForMultipleObjectsEx
#define SignalObjectAndWait kobj_SignalObjectAndWait
#define SleepEx kobj_SleepEx
#define QueueUserAPC kobj_QueueUserAPC

#define GetCurrentProcess kobj_GetCurrentProcess
#define GetCurrentThread kobj_GetCurrentThread
#define GetCurrentProcessId kobj_GetCurrentProcessId
#define GetCurrentThreadId kobj_GetCurrentThreadId
#define GetThreadId kobj_GetThreadId
#define GetProcessId kobj_GetProcessId
#define OpenProcess kobj_OpenProcess
#define OpenThread kobj_OpenThread
#define TerminateProcess kobj_TerminateProcess
#define ExitThread kobj_ExitThread
#define GetExitCodeProcess kobj_GetExitCodeProcess
#define GetExitCodeThread kobj_GetExitCodeThread
#define GetProcessHandleCount kobj_GetProcessHandleCount

#define CreatePrivateNamespaceW kobj_CreatePrivateNamespaceW
#define OpenPrivateNamespaceW kobj_OpenPrivateNamespaceW
#define ClosePrivateNamespace kobj_ClosePrivateNamespace

/* The plain names follow UNICODE, as <windows.h>'s do. */
#ifdef UNICODE
#define CreateMutex CreateMutexW
#define OpenMutex OpenMutexW
#define CreateEvent CreateEventW
#define OpenEvent OpenEventW
#define CreateSemaphore CreateSemaphoreW
#define OpenSemaphore OpenSemaphoreW
#define CreateWaitableTimer CreateWaitableTimerW
#define OpenWaitableTimer OpenWaitableTimerW
#define CreateFileMapping CreateFileMappingW
#define OpenFileMapping OpenFileMappingW
#define CreateJobObject CreateJobObjectW
#define OpenJobObject OpenJobObjectW
#define CreatePrivateNamespace CreatePrivateNamespaceW
#define OpenPrivateNamespace OpenPrivateNamespaceW
#else
#define CreateMutex CreateMutexA
#define OpenMutex OpenMutexA
#define CreateEvent CreateEventA
#define OpenEvent OpenEventA
#define CreateSemaphore CreateSemaphoreA
#define OpenSemaphore OpenSemaphoreA
#define CreateWaitableTimer CreateWaitableTimerA
#define OpenWaitableTimer OpenWaitableTimerA
#define CreateFileMapping CreateFileMappingA
#define OpenFileMapping OpenFileMappingA
#define CreateJobObject CreateJobObjectA
#define OpenJobObject OpenJobObjectA
#endif

/* The declarations (kobj_CreateMutexW, …, and the kobj_ bootstrap). */
#include "../kobj.h"

#endif /* KOBJ_WIN32_H */
