/* Processes and threads through handles and ids, security descriptors and tokens, and
   private namespaces. Sources: Microsoft's docs for GetProcessId, GetExitCodeProcess
   (STILL_ACTIVE), TerminateProcess (ERROR_ACCESS_DENIED once terminated: NT's
   STATUS_PROCESS_IS_TERMINATING), GetProcessHandleCount, OpenProcess/OpenThread; SPEC §3
   "Security" (DACL walk, CreateProcessAsUser's privilege rule) and "Private namespaces";
   SPEC §7.2 (ids from one space, the last thread's exit ends the process). */
#include "check.h"

int main(void) {
    kobj_kernel *k = kobj_kernel_new();
    size_t start = kobj_kernel_object_count(k);
    guest p = guest_new(k, NULL);
    enter(&p);

    /* Ids: non-zero multiples of 4, one space for processes and threads. */
    DWORD pid = GetCurrentProcessId(), tid = GetCurrentThreadId();
    CHECK(pid != 0 && pid % 4 == 0 && tid != 0 && tid % 4 == 0 && pid != tid);
    CHECK(GetProcessId(GetCurrentProcess()) == pid);
    CHECK(GetThreadId(GetCurrentThread()) == tid);
    HANDLE hp = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
    CHECK(hp != NULL && GetProcessId(hp) == pid);
    HANDLE ht = OpenThread(THREAD_QUERY_INFORMATION | SYNCHRONIZE, FALSE, tid);
    CHECK(ht != NULL && GetThreadId(ht) == tid);
    HANDLE ht_sync = OpenThread(SYNCHRONIZE, FALSE, tid);
    CHECK_FAILS(GetThreadId(ht_sync), 0, ERROR_ACCESS_DENIED);
    DWORD code = 0;
    CHECK(GetExitCodeThread(ht, &code) && code == STILL_ACTIVE);
    CHECK(GetExitCodeProcess(GetCurrentProcess(), &code) && code == STILL_ACTIVE);

    /* GetProcessHandleCount counts the table. */
    DWORD n0 = 0, n1 = 0;
    CHECK(GetProcessHandleCount(GetCurrentProcess(), &n0) && n0 == 3);
    HANDLE ev = CreateEventA(NULL, TRUE, FALSE, NULL);
    CHECK(GetProcessHandleCount(hp, &n1) && n1 == n0 + 1);

    /* A child: running, then terminated with a code; a second terminate fails. */
    kobj_process *c_p = NULL;
    HANDLE hc = NULL;
    CHECK(kobj_CreateProcess(FALSE, NULL, &c_p, &hc));
    guest c = guest_of(c_p);
    CHECK(GetExitCodeProcess(hc, &code) && code == STILL_ACTIVE);
    HANDLE hc_sync = OpenProcess(SYNCHRONIZE, FALSE, GetProcessId(hc));
    CHECK_FAILS(TerminateProcess(hc_sync, 1), FALSE, ERROR_ACCESS_DENIED); /* no PROCESS_TERMINATE */
    CHECK_FAILS(GetExitCodeProcess(hc_sync, &code), FALSE, ERROR_ACCESS_DENIED);
    CHECK(WaitForSingleObject(hc_sync, 0) == WAIT_TIMEOUT);
    CHECK(TerminateProcess(hc, 42));
    CHECK(GetExitCodeProcess(hc, &code) && code == 42);
    CHECK(WaitForSingleObject(hc_sync, 0) == WAIT_OBJECT_0); /* signalled for good */
    CHECK_FAILS(TerminateProcess(hc, 43), FALSE, ERROR_ACCESS_DENIED);
    DWORD left = 99;
    CHECK(GetProcessHandleCount(hc, &left) && left == 0); /* its table was closed */
    /* Calls made as a thread of a terminated process: ERROR_ACCESS_DENIED. */
    enter(&c);
    CHECK_FAILS(CreateEventA(NULL, FALSE, FALSE, NULL), NULL, ERROR_ACCESS_DENIED);

    /* The last thread's ExitThread ends its process with that code. */
    enter(&p);
    kobj_process *d_p = NULL;
    HANDLE hd = NULL;
    CHECK(kobj_CreateProcess(FALSE, NULL, &d_p, &hd));
    guest d = guest_of(d_p);
    HANDLE hd_thread = NULL;
    kobj_thread *d2 = kobj_thread_create(d.process, &hd_thread); /* in d's table */
    CHECK(d2 != NULL);
    enter(&d);
    CHECK(GetExitCodeThread(hd_thread, &code) && code == STILL_ACTIVE);
    ExitThread(5); /* d's main thread; d2 still runs */
    CHECK(kobj_thread_enter(d2));
    CHECK(GetExitCodeProcess(GetCurrentProcess(), &code) && code == STILL_ACTIVE);
    ExitThread(6);
    enter(&p);
    CHECK(GetExitCodeProcess(hd, &code) && code == 6);
    CHECK(WaitForSingleObject(hd, 0) == WAIT_OBJECT_0);

    /* Security descriptors: an empty DACL denies everyone but the creator's handle. */
    kobj_sd *locked = kobj_sd_new(TRUE);
    SECURITY_ATTRIBUTES sa = {sizeof sa, locked, FALSE};
    HANDLE lm = CreateMutexA(&sa, FALSE, "Locked");
    CHECK(lm != NULL);
    CHECK(WaitForSingleObject(lm, 0) == WAIT_OBJECT_0 && ReleaseMutex(lm)); /* creator: ALL_ACCESS */
    CHECK_FAILS(OpenMutexA(SYNCHRONIZE, FALSE, "Locked"), NULL, ERROR_ACCESS_DENIED);
    /* The existing name's DACL is checked for a Create too (SPEC §3). */
    CHECK_FAILS(CreateMutexA(NULL, FALSE, "Locked"), NULL, ERROR_ACCESS_DENIED);
    /* Allow Everyone SYNCHRONIZE, but deny user 1000 (this process's) first: denied. */
    kobj_sd *mixed = kobj_sd_new(FALSE);
    CHECK(kobj_sd_deny(mixed, kobj_sid_user(1000), SYNCHRONIZE));
    CHECK(kobj_sd_allow(mixed, KOBJ_SID_EVERYONE, SYNCHRONIZE | MUTEX_MODIFY_STATE));
    CHECK(kobj_sd_set_owner(mixed, KOBJ_SID_SYSTEM));
    sa.lpSecurityDescriptor = mixed;
    HANDLE mm = CreateMutexW(&sa, FALSE, u"Mixed");
    CHECK(mm != NULL);
    CHECK_FAILS(OpenMutexA(SYNCHRONIZE, FALSE, "Mixed"), NULL, ERROR_ACCESS_DENIED);
    HANDLE mm2 = OpenMutexA(MUTEX_MODIFY_STATE, FALSE, "Mixed");
    CHECK(mm2 != NULL);
    /* No DACL (kobj_sd_new(FALSE) with no ACE): everyone gets everything. */
    kobj_sd *open_sd = kobj_sd_new(FALSE);
    sa.lpSecurityDescriptor = open_sd;
    HANDLE om = CreateEventA(&sa, FALSE, FALSE, "Open");
    CHECK(om != NULL);

    /* Tokens: another user's process cannot open an object under the default DACL, and
       cannot be started without SeAssignPrimaryTokenPrivilege (CreateProcessAsUser). */
    HANDLE mine = CreateSemaphoreA(NULL, 0, 1, "Mine");
    kobj_token *other = kobj_token_new(kobj_sid_user(2000));
    CHECK(kobj_token_add_group(other, kobj_sid_group(7)));
    kobj_process_options o = {0};
    o.token = other;
    CHECK_FAILS(kobj_CreateProcess(FALSE, &o, NULL, NULL), FALSE, ERROR_PRIVILEGE_NOT_HELD);
    kobj_process_options sess = {0};
    sess.has_session = TRUE;
    sess.session_id = 1;
    CHECK_FAILS(kobj_CreateProcess(FALSE, &sess, NULL, NULL), FALSE, ERROR_PRIVILEGE_NOT_HELD);
    kobj_token *admin = kobj_token_new(kobj_sid_user(1000));
    CHECK(kobj_token_add_privilege(admin, KOBJ_PRIV_ASSIGN_PRIMARY_TOKEN));
    CHECK(kobj_token_add_privilege(admin, KOBJ_PRIV_TCB));
    CHECK(kobj_token_add_privilege(admin, KOBJ_PRIV_CREATE_GLOBAL));
    kobj_process_options ao = {0};
    ao.token = admin;
    guest root = guest_new(k, &ao); /* the embedder's own call takes any token */
    enter(&root);
    kobj_process *u_p = NULL;
    CHECK(kobj_CreateProcess(FALSE, &o, &u_p, NULL)); /* with the privilege: allowed */
    guest u = guest_of(u_p);
    kobj_process *s_p = NULL;
    CHECK(kobj_CreateProcess(FALSE, &sess, &s_p, NULL));
    guest s1 = guest_of(s_p);
    enter(&u);
    CHECK_FAILS(OpenSemaphoreA(SYNCHRONIZE, FALSE, "Mine"), NULL, ERROR_ACCESS_DENIED);
    HANDLE uo = OpenEventA(SYNCHRONIZE, FALSE, "Open"); /* no DACL: anyone */
    CHECK(uo != NULL && CloseHandle(uo));
    /* Session 1 has its own local namespace: "Mine" is not there, Global\Mine is. */
    enter(&s1);
    CHECK_FAILS(OpenSemaphoreA(SYNCHRONIZE, FALSE, "Mine"), NULL, ERROR_FILE_NOT_FOUND);
    HANDLE gm = OpenSemaphoreA(SYNCHRONIZE, FALSE, "Global\\Mine");
    CHECK(gm != NULL && CloseHandle(gm));

    /* Private namespaces: a boundary with the SID of user 1000; the creator maps an
       alias; another process of user 1000 opens it under another alias; user 2000's
       cannot (ERROR_ACCESS_DENIED); a second create is ERROR_ALREADY_EXISTS. */
    enter(&p);
    kobj_boundary *bd = kobj_boundary_new("CapiBoundary");
    CHECK(kobj_boundary_add_sid(bd, kobj_sid_user(1000)));
    HANDLE ns = CreatePrivateNamespaceW(NULL, bd, u"Priv");
    CHECK(ns != NULL);
    HANDLE pm = CreateMutexW(NULL, FALSE, u"Priv\\M");
    CHECK(pm != NULL);
    CHECK_FAILS(CreatePrivateNamespaceW(NULL, bd, u"Again"), NULL, ERROR_ALREADY_EXISTS);
    enter(&root);
    kobj_boundary *bd_w = kobj_boundary_new_w(u"CapiBoundary");
    CHECK(kobj_boundary_add_sid(bd_w, kobj_sid_user(1000)));
    HANDLE ns2 = OpenPrivateNamespaceW(bd_w, u"Other");
    CHECK(ns2 != NULL);
    HANDLE pm2 = OpenMutexW(SYNCHRONIZE, FALSE, u"Other\\M");
    CHECK(pm2 != NULL);
    CHECK_FAILS(OpenMutexW(SYNCHRONIZE, FALSE, u"M"), NULL, ERROR_FILE_NOT_FOUND); /* not global */
    CHECK(ClosePrivateNamespace(ns2, 0) == 1);
    CHECK_FAILS(OpenMutexW(SYNCHRONIZE, FALSE, u"Other\\M"), NULL, ERROR_PATH_NOT_FOUND);
    CHECK(CloseHandle(pm2));
    enter(&u);
    CHECK_FAILS(OpenPrivateNamespaceW(bd, u"Priv"), NULL, ERROR_ACCESS_DENIED);
    enter(&p);
    CHECK(ClosePrivateNamespace(ns, PRIVATE_NAMESPACE_FLAG_DESTROY) == 1);
    CHECK_FAILS(OpenMutexW(SYNCHRONIZE, FALSE, u"Priv\\M"), NULL, ERROR_PATH_NOT_FOUND);

    /* (hd_thread lives in d's table, closed with d.) */
    HANDLE hs[] = {hp, ht, ht_sync, ev, hc, hc_sync, hd, lm, mm, mm2, om, mine, pm};
    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) CHECK(CloseHandle(hs[i]));
    kobj_boundary_free(bd);
    kobj_boundary_free(bd_w);
    kobj_sd_free(locked);
    kobj_sd_free(mixed);
    kobj_sd_free(open_sd);
    kobj_token_free(other);
    kobj_token_free(admin);
    kobj_thread_free(d2);
    guest gs[] = {c, d, u, s1, root, p};
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++) guest_free(&gs[i]);
    check_no_leak(k, start);
    kobj_kernel_free(k);
    return 0;
}
