//! Files: SPEC §3 "Objects and lifetime" (the file rules) and SPEC §2 (create_file,
//! read_file, write_file, set_file_pointer; FILE_EXISTS, FILE_NOT_FOUND, NEGATIVE_SEEK).

mod common;

use std::io::SeekFrom;
use std::path::Path;

use common::*;
use kobj::{
    Access, CreationDisposition, DuplicateOptions, Handle, Kernel, Process, ProcessOptions,
    SecurityAttributes,
};

const RW: Access = Access::GENERIC_READ.union(Access::GENERIC_WRITE);

fn open(p: &Process, path: &Path) -> Handle {
    p.create_file(path, Access::GENERIC_READ, None, CreationDisposition::OpenExisting)
        .expect("open an existing file")
}

fn read_n(p: &Process, h: Handle, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    let got = p.read_file(h, &mut buf).expect("read");
    buf.truncate(got);
    buf
}

// SPEC §3: "every create_file makes a new file object with its own file pointer".
#[test]
fn each_create_file_has_its_own_pointer() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    std::fs::write(&path, b"hello world").unwrap();
    let a = open(&p, &path);
    let b = open(&p, &path);
    assert_eq!(p.compare_object_handles(a, b), Ok(false), "two file objects");
    assert_eq!(read_n(&p, a, 5), b"hello");
    assert_eq!(read_n(&p, b, 5), b"hello", "b's pointer did not move with a's");
    assert_eq!(read_n(&p, a, 6), b" world");
    assert_eq!(p.set_file_pointer(b, SeekFrom::Current(0)), Ok(5));
    assert_eq!(p.set_file_pointer(a, SeekFrom::Current(0)), Ok(11));
    // Another process opening the same path gets its own pointer too.
    let q = root(&k);
    let c = open(&q, &path);
    assert_eq!(read_n(&q, c, 3), b"hel");
    assert_eq!(read_n(&p, b, 3), b" wo");
    finish(&k, base, vec![p, q]);
}

// SPEC §3: "handles made by duplication or inheritance share the one file object and so
// its pointer (a read through one moves the position seen by the other)". (Seed 003,
// DuplicateHandle; Microsoft docs: duplicated handles refer to the same file object.)
#[test]
fn duplicated_and_inherited_handles_share_the_pointer() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    std::fs::write(&path, b"0123456789abcdef").unwrap();
    let sa = SecurityAttributes { inherit_handle: true, ..Default::default() };
    let h = p.create_file(&path, Access::GENERIC_READ, Some(&sa), CreationDisposition::OpenExisting).unwrap();
    let d = p
        .duplicate_handle(
            Handle::CURRENT_PROCESS,
            h,
            Some(Handle::CURRENT_PROCESS),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS,
        )
        .unwrap()
        .unwrap();
    assert_eq!(p.compare_object_handles(h, d), Ok(true));
    assert_eq!(read_n(&p, h, 4), b"0123");
    assert_eq!(read_n(&p, d, 4), b"4567", "the read through h moved d's position");
    assert_eq!(p.set_file_pointer(d, SeekFrom::Current(0)), Ok(8));
    assert_eq!(p.set_file_pointer(h, SeekFrom::Current(0)), Ok(8));
    p.set_file_pointer(d, SeekFrom::Start(2)).unwrap();
    assert_eq!(read_n(&p, h, 2), b"23", "a seek through d moved h");

    // Inherited: the child's handle at the same value shares the object.
    let child = p.create_process(true, ProcessOptions::default()).unwrap();
    assert_eq!(read_n(&child.process, h, 2), b"45");
    assert_eq!(read_n(&p, d, 2), b"67", "the child's read moved the parent's pointer");
    // Duplicated into another process: shared as well.
    let into_child = p
        .duplicate_handle(
            Handle::CURRENT_PROCESS,
            d,
            Some(child.handle),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS,
        )
        .unwrap()
        .unwrap();
    assert_eq!(read_n(&child.process, into_child, 2), b"89");
    assert_eq!(read_n(&p, h, 2), b"ab");
    // The file object lives until the last of the four handles closes.
    let objects = k.object_count();
    p.close_handle(h).unwrap();
    p.close_handle(d).unwrap();
    child.process.close_handle(h).unwrap();
    assert_eq!(k.object_count(), objects);
    assert_eq!(read_n(&child.process, into_child, 2), b"cd");
    child.process.close_handle(into_child).unwrap();
    assert_eq!(k.object_count(), objects - 1);
    finish(&k, base, vec![p, child.process]);
}

// SPEC §2/§3: write_file, then set_file_pointer(Start(0)), then read_file reads it back;
// "Files are real files on disk".
#[test]
fn write_seek_read() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new");
    let h = p.create_file(&path, RW, None, CreationDisposition::CreateNew).unwrap();
    assert_eq!(p.write_file(h, b"kernel objects"), Ok(14));
    assert_eq!(p.set_file_pointer(h, SeekFrom::Current(0)), Ok(14));
    assert_eq!(p.set_file_pointer(h, SeekFrom::Start(0)), Ok(0));
    assert_eq!(read_n(&p, h, 64), b"kernel objects");
    assert_eq!(read_n(&p, h, 64), b"", "at the end a read returns 0 bytes");
    assert_eq!(p.set_file_pointer(h, SeekFrom::End(-7)), Ok(7));
    assert_eq!(read_n(&p, h, 3), b"obj");
    assert_eq!(p.set_file_pointer(h, SeekFrom::Current(-3)), Ok(7));
    assert_eq!(p.write_file(h, b"OBJ"), Ok(3));
    assert_eq!(std::fs::read(&path).unwrap(), b"kernel OBJects", "a real file");
    // Seeking past the end is allowed.
    assert_eq!(p.set_file_pointer(h, SeekFrom::Start(100)), Ok(100));
    assert_eq!(read_n(&p, h, 4), b"");
    p.close_handle(h).unwrap();
    // CreateAlways truncates; OpenAlways keeps.
    let h = p.create_file(&path, RW, None, CreationDisposition::OpenAlways).unwrap();
    assert_eq!(read_n(&p, h, 6), b"kernel");
    let t = p.create_file(&path, RW, None, CreationDisposition::CreateAlways).unwrap();
    assert_eq!(read_n(&p, t, 6), b"");
    finish(&k, base, vec![p]);
}

// Microsoft docs, SetFilePointerEx: "ERROR_NEGATIVE_SEEK" for a position before the
// start; SPEC §2 lists NEGATIVE_SEEK 131.
#[test]
fn a_negative_seek_fails_and_keeps_the_pointer() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, b"abc").unwrap();
    let h = p.create_file(&path, RW, None, CreationDisposition::OpenExisting).unwrap();
    assert_eq!(code(p.set_file_pointer(h, SeekFrom::Current(-1))), NEGATIVE_SEEK);
    assert_eq!(code(p.set_file_pointer(h, SeekFrom::End(-4))), NEGATIVE_SEEK);
    assert_eq!(code(p.set_file_pointer(h, SeekFrom::End(i64::MIN))), NEGATIVE_SEEK);
    assert_eq!(p.set_file_pointer(h, SeekFrom::Start(2)), Ok(2));
    assert_eq!(code(p.set_file_pointer(h, SeekFrom::Current(-3))), NEGATIVE_SEEK);
    assert_eq!(code(p.set_file_pointer(h, SeekFrom::Current(i64::MIN))), NEGATIVE_SEEK);
    assert_eq!(p.set_file_pointer(h, SeekFrom::Current(0)), Ok(2), "pointer unchanged");
    assert_eq!(read_n(&p, h, 8), b"c");
    assert_eq!(p.set_file_pointer(h, SeekFrom::End(-3)), Ok(0));
    finish(&k, base, vec![p]);
}

// Microsoft docs, CreateFileW: CREATE_NEW on an existing file fails with
// ERROR_FILE_EXISTS (80); OPEN_EXISTING on a missing file fails with
// ERROR_FILE_NOT_FOUND (2). A failed create makes no object.
#[test]
fn dispositions_fail_with_the_windows_codes() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("exists");
    std::fs::write(&existing, b"keep").unwrap();
    let missing = dir.path().join("missing");
    let objects = k.object_count();
    assert_eq!(code(p.create_file(&existing, RW, None, CreationDisposition::CreateNew)), FILE_EXISTS);
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep", "CreateNew did not truncate");
    assert_eq!(code(p.create_file(&missing, RW, None, CreationDisposition::OpenExisting)), FILE_NOT_FOUND);
    assert_eq!(
        code(p.create_file(&missing, Access::GENERIC_READ, None, CreationDisposition::OpenExisting)),
        FILE_NOT_FOUND
    );
    assert_eq!(
        code(p.create_file(&missing, RW, None, CreationDisposition::TruncateExisting)),
        FILE_NOT_FOUND
    );
    assert!(!missing.exists(), "no failed call created the file");
    assert_eq!(k.object_count(), objects, "failed creates make no object");
    assert_eq!(p.handle_count(), 0);
    finish(&k, base, vec![p]);
}

// SPEC §3 "Handles and tables" (type, then access) and the file type's rights (SPEC §2:
// file generic mapping 0x120089 read, 0x120116 write): read_file needs FILE_READ_DATA.
#[test]
fn reading_and_writing_need_the_rights() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, b"secret").unwrap();
    let w = p.create_file(&path, Access::GENERIC_WRITE, None, CreationDisposition::OpenExisting).unwrap();
    assert_eq!(code(p.read_file(w, &mut [0u8; 4])), ACCESS_DENIED);
    let w2 = p.create_file(&path, Access::FILE_WRITE_DATA, None, CreationDisposition::OpenExisting).unwrap();
    assert_eq!(code(p.read_file(w2, &mut [0u8; 4])), ACCESS_DENIED);
    let r = open(&p, &path);
    assert_eq!(code(p.write_file(r, b"x")), ACCESS_DENIED);
    assert_eq!(read_n(&p, r, 6), b"secret");
    // A duplicate with fewer rights loses them.
    let rw = p.create_file(&path, RW, None, CreationDisposition::OpenExisting).unwrap();
    let write_only = dup_with(&p, rw, Access::FILE_WRITE_DATA);
    assert_eq!(code(p.read_file(write_only, &mut [0u8; 1])), ACCESS_DENIED);
    assert_eq!(p.write_file(write_only, b"S"), Ok(1));
    // Type before access: events are not files; garbage is not a handle.
    let ev = event(&p);
    assert_eq!(code(p.read_file(ev, &mut [0u8; 1])), INVALID_HANDLE);
    assert_eq!(code(p.write_file(ev, b"x")), INVALID_HANDLE);
    assert_eq!(code(p.set_file_pointer(ev, SeekFrom::Start(0))), INVALID_HANDLE);
    let garbage = Handle::from_raw(4 * 4321);
    assert_eq!(code(p.read_file(garbage, &mut [0u8; 1])), INVALID_HANDLE);
    assert_eq!(code(p.write_file(garbage, b"x")), INVALID_HANDLE);
    assert_eq!(code(p.read_file(Handle::CURRENT_PROCESS, &mut [0u8; 1])), INVALID_HANDLE);
    assert_eq!(std::fs::read(&path).unwrap(), b"Secret");
    finish(&k, base, vec![p]);
}

// SPEC §3 "Objects and lifetime": a file object is an object like any other: the last
// close destroys it, terminate closes it.
#[test]
fn file_objects_follow_object_lifetime() {
    let k = Kernel::new();
    let base = k.object_count();
    let p = root(&k);
    let dir = tempfile::tempdir().unwrap();
    let objects = k.object_count();
    let handles: Vec<Handle> = (0..10)
        .map(|i| {
            p.create_file(&dir.path().join(format!("f{i}")), RW, None, CreationDisposition::CreateAlways)
                .unwrap()
        })
        .collect();
    assert_eq!(k.object_count(), objects + 10);
    p.close_handle(handles[0]).unwrap();
    assert_eq!(k.object_count(), objects + 9);
    finish(&k, base, vec![p]);
}
