//! Security identifiers, tokens, security descriptors and the access check.
//!
//! The model is the part of NT's that decides who may open what:
//! a process runs with a [`Token`] (a user SID, group SIDs, privileges and a default
//! DACL); an object carries a [`SecurityDescriptor`] (owner and DACL); the access check
//! walks the DACL in order against the token's SIDs. The rules are SPEC §3 "Security".

use std::collections::HashSet;
use std::fmt;
use std::ptr::NonNull;
use std::sync::Arc;

use smallvec::SmallVec;

use crate::access::{Access, GenericMapping};
use crate::error::{Error, Result};
use crate::sync::{lock, Mutex};

/// A security identifier.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid(SidKind);

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum SidKind {
    Everyone,
    System,
    User(u32),
    Group(u32),
}

impl Sid {
    /// Everyone (S-1-1-0): every token holds it.
    pub const EVERYONE: Sid = Sid(SidKind::Everyone);
    /// LocalSystem (S-1-5-18).
    pub const SYSTEM: Sid = Sid(SidKind::System);

    /// A user account, by relative id.
    #[must_use]
    pub const fn user(rid: u32) -> Sid {
        Sid(SidKind::User(rid))
    }

    /// A group, by relative id (a distinct SID space from users).
    #[must_use]
    pub const fn group(rid: u32) -> Sid {
        Sid(SidKind::Group(rid))
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            SidKind::Everyone => f.write_str("S-1-1-0"),
            SidKind::System => f.write_str("S-1-5-18"),
            SidKind::User(rid) => write!(f, "S-1-5-21-0-0-0-{rid}"),
            SidKind::Group(rid) => write!(f, "S-1-5-32-{rid}"),
        }
    }
}

/// A privilege a token may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Privilege {
    /// SeCreateGlobalPrivilege: create a file mapping in the global namespace from a
    /// session other than 0.
    CreateGlobal,
    /// SeAssignPrimaryTokenPrivilege: start a child process with a token other than the
    /// caller's own (CreateProcessAsUser's rule).
    AssignPrimaryToken,
    /// SeTcbPrivilege ("act as part of the operating system"): start a child process in
    /// a session other than the caller's (setting a token's session needs it).
    Tcb,
}

/// An access control entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ace {
    /// Grants the mask to the SID.
    Allow(Sid, Access),
    /// Denies the mask to the SID.
    Deny(Sid, Access),
}

/// An object's security descriptor: owner and DACL.
///
/// `dacl: None` is a NULL DACL (everyone gets everything); `Some(vec![])` is an empty
/// DACL (nobody gets anything but the owner's implicit READ_CONTROL | WRITE_DAC).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityDescriptor {
    /// The owner; `None` when created: the creator's user.
    pub owner: Option<Sid>,
    /// The discretionary ACL.
    pub dacl: Option<Vec<Ace>>,
}

/// An object's security: owner and DACL (a short DACL inline: a token's default DACL has
/// two ACEs). Objects refer to it through a [`SecurityRef`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct ObjectSecurity {
    pub(crate) owner: Option<Sid>,
    pub(crate) dacl: Option<SmallVec<[Ace; 2]>>,
}

/// An object's security as its header stores it: a pointer to a descriptor interned in
/// its kernel's [`Descriptors`] — every object with the same owner and DACL shares one —
/// so a header spends one word on it, and creating an object with its process's default
/// descriptor copies a pointer (the process keeps its default's).
#[derive(Clone, Copy)]
pub(crate) struct SecurityRef(NonNull<ObjectSecurity>);

// SAFETY: the pointee is an immutable `ObjectSecurity` (itself Send + Sync), owned by the
// kernel's arena, which frees it only when the kernel is dropped.
unsafe impl Send for SecurityRef {}
// SAFETY: as above; it is only ever read.
unsafe impl Sync for SecurityRef {}

impl std::ops::Deref for SecurityRef {
    type Target = ObjectSecurity;

    fn deref(&self) -> &ObjectSecurity {
        // SAFETY: an interned descriptor is boxed (its address is stable) and freed only
        // when its kernel's `Descriptors` is dropped; a `SecurityRef` is read only through
        // an object header or a process of that kernel, and the kernel outlives every use
        // of a header (see `object::Domain`) and every process (a process holds it).
        unsafe { self.0.as_ref() }
    }
}

impl fmt::Debug for SecurityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A kernel's interned security descriptors: one copy of each distinct owner and DACL,
/// kept until the kernel is dropped. New descriptors come only from process creation
/// and from creations that pass an explicit descriptor, so the lock is off the hot path.
#[derive(Default)]
pub(crate) struct Descriptors(Mutex<HashSet<Box<ObjectSecurity>>>);

impl Descriptors {
    /// The shared copy of `sd`.
    pub(crate) fn intern(&self, sd: ObjectSecurity) -> SecurityRef {
        let mut set = lock(&self.0);
        if let Some(existing) = set.get(&sd) {
            return SecurityRef(NonNull::from(&**existing));
        }
        let boxed = Box::new(sd);
        let r = SecurityRef(NonNull::from(&*boxed));
        set.insert(boxed);
        r
    }
}

impl From<&SecurityDescriptor> for ObjectSecurity {
    fn from(sd: &SecurityDescriptor) -> Self {
        ObjectSecurity { owner: sd.owner, dacl: sd.dacl.as_deref().map(SmallVec::from_slice) }
    }
}

/// `SECURITY_ATTRIBUTES`: whether the new handle is inheritable, and the new object's
/// security descriptor (`None`: the creator token's default DACL applies).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityAttributes {
    /// Makes the new handle inheritable.
    pub inherit_handle: bool,
    /// The new object's descriptor.
    pub security_descriptor: Option<SecurityDescriptor>,
}

impl SecurityAttributes {
    /// Attributes that only make the handle inheritable.
    #[must_use]
    pub fn inheritable() -> Self {
        SecurityAttributes { inherit_handle: true, security_descriptor: None }
    }
}

/// An access token: who a process runs as.
///
/// Cheap to clone (shared). Every token holds [`Sid::EVERYONE`].
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Arc<TokenData>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct TokenData {
    user: Sid,
    groups: Vec<Sid>,
    privileges: Vec<Privilege>,
    default_dacl: Vec<Ace>,
}

impl Token {
    /// A token for `user`, with no groups or privileges, whose default DACL allows the
    /// user and SYSTEM GENERIC_ALL.
    #[must_use]
    pub fn new(user: Sid) -> Token {
        Token(Arc::new(TokenData {
            user,
            groups: Vec::new(),
            privileges: Vec::new(),
            default_dacl: vec![
                Ace::Allow(user, Access::GENERIC_ALL),
                Ace::Allow(Sid::SYSTEM, Access::GENERIC_ALL),
            ],
        }))
    }

    /// Adds a group SID.
    #[must_use]
    pub fn with_group(self, group: Sid) -> Token {
        let mut data = (*self.0).clone();
        if !data.groups.contains(&group) {
            data.groups.push(group);
        }
        Token(Arc::new(data))
    }

    /// Adds a privilege.
    #[must_use]
    pub fn with_privilege(self, privilege: Privilege) -> Token {
        let mut data = (*self.0).clone();
        if !data.privileges.contains(&privilege) {
            data.privileges.push(privilege);
        }
        Token(Arc::new(data))
    }

    /// Replaces the default DACL given to objects created without a descriptor.
    #[must_use]
    pub fn with_default_dacl(self, dacl: Vec<Ace>) -> Token {
        let mut data = (*self.0).clone();
        data.default_dacl = dacl;
        Token(Arc::new(data))
    }

    /// The user SID.
    #[must_use]
    pub fn user(&self) -> Sid {
        self.0.user
    }

    /// The group SIDs (without the implicit Everyone).
    #[must_use]
    pub fn groups(&self) -> &[Sid] {
        &self.0.groups
    }

    /// The default DACL.
    #[must_use]
    pub fn default_dacl(&self) -> &[Ace] {
        &self.0.default_dacl
    }

    /// True if the token's user or groups include `sid` (Everyone always).
    #[must_use]
    pub fn holds(&self, sid: Sid) -> bool {
        sid == Sid::EVERYONE || sid == self.0.user || self.0.groups.contains(&sid)
    }

    /// True if the token holds `privilege`.
    #[must_use]
    pub fn has_privilege(&self, privilege: Privilege) -> bool {
        self.0.privileges.contains(&privilege)
    }

    /// The descriptor a new object gets: the one asked for, with the owner filled in,
    /// or the token's default DACL when none was given.
    pub(crate) fn descriptor_for_new(&self, asked: Option<&SecurityDescriptor>) -> ObjectSecurity {
        match asked {
            Some(sd) => ObjectSecurity {
                owner: Some(sd.owner.unwrap_or(self.0.user)),
                dacl: sd.dacl.as_deref().map(SmallVec::from_slice),
            },
            None => ObjectSecurity {
                owner: Some(self.0.user),
                dacl: Some(SmallVec::from_slice(&self.0.default_dacl)),
            },
        }
    }
}

impl Default for Token {
    /// User `Sid::user(1000)`, no groups, no privileges.
    fn default() -> Self {
        Token::new(Sid::user(1000))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("user", &self.0.user)
            .field("groups", &self.0.groups)
            .field("privileges", &self.0.privileges)
            .finish()
    }
}

/// The outcome of an access check: the rights a new handle holds.
pub(crate) type GrantedAccess = Access;

/// What an object's type contributes to an access check.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TypeRights {
    pub mapping: GenericMapping,
    pub valid: Access,
}

/// The rights `sd` grants `token` (`SeAccessCheck` with MAXIMUM_ALLOWED), limited to
/// the type's valid mask.
fn granted_by(sd: &ObjectSecurity, token: &Token, rights: TypeRights) -> Access {
    let Some(dacl) = &sd.dacl else {
        return rights.valid;
    };
    let mut granted = Access::empty();
    let mut denied = Access::empty();
    if sd.owner.is_some_and(|o| token.holds(o)) {
        // The owner may always read and rewrite the DACL.
        granted |= Access::READ_CONTROL | Access::WRITE_DAC;
    }
    for ace in dacl {
        match *ace {
            Ace::Allow(sid, mask) if token.holds(sid) => {
                granted |= rights.mapping.map(mask).difference(denied);
            }
            Ace::Deny(sid, mask) if token.holds(sid) => {
                denied |= rights.mapping.map(mask).difference(granted);
            }
            _ => {}
        }
    }
    granted & rights.valid
}

/// The access check of an open: maps `desired` through the type's generic mapping and
/// checks it against the descriptor for `token`.
///
/// MAXIMUM_ALLOWED grants what the DACL allows (plus any explicit bits, which must be
/// granted too); a NULL DACL grants the request, of which the handle keeps the valid
/// bits; an access of zero grants nothing and is ACCESS_DENIED.
pub(crate) fn access_check(
    sd: &ObjectSecurity,
    token: &Token,
    desired: Access,
    rights: TypeRights,
) -> Result<GrantedAccess> {
    if desired.contains(Access::ACCESS_SYSTEM_SECURITY) {
        return Err(Error::PrivilegeNotHeld);
    }
    let mapped = rights.mapping.map(desired);
    let maximum = mapped.contains(Access::MAXIMUM_ALLOWED);
    let explicit = mapped.difference(Access::MAXIMUM_ALLOWED);
    let allowed = granted_by(sd, token, rights);
    if sd.dacl.is_none() {
        let result = if maximum { rights.valid } else { explicit & rights.valid };
        return if maximum || !explicit.is_empty() { Ok(result) } else { Err(Error::AccessDenied) };
    }
    if !allowed.contains(explicit) {
        return Err(Error::AccessDenied);
    }
    let result = if maximum { allowed } else { explicit };
    if result.is_empty() {
        Err(Error::AccessDenied)
    } else {
        Ok(result)
    }
}

/// The access check of a duplication: `desired` is already generic-mapped and masked
/// to the valid bits. Granted when the source already holds it, or when the object's
/// DACL grants the whole mask to `token`.
pub(crate) fn may_grow(
    sd: &ObjectSecurity,
    token: &Token,
    held: Access,
    desired: Access,
    rights: TypeRights,
) -> bool {
    held.contains(desired) || granted_by(sd, token, rights).contains(desired)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MUTEX: TypeRights = TypeRights {
        mapping: GenericMapping::new(0x20001, 0x20000, 0x120000, 0x1F0001),
        valid: Access::from_bits_retain(0x1F0001),
    };

    fn default_sd(token: &Token) -> SecurityDescriptor {
        let s = token.descriptor_for_new(None);
        SecurityDescriptor { owner: s.owner, dacl: s.dacl.map(|d| d.to_vec()) }
    }

    fn access_check(
        sd: &SecurityDescriptor,
        token: &Token,
        desired: Access,
        rights: TypeRights,
    ) -> Result<Access> {
        super::access_check(&ObjectSecurity::from(sd), token, desired, rights)
    }

    #[test]
    fn mutex_single_bits_under_default_dacl() {
        // SPEC §3 "Named objects": for a mutex under its default DACL, each of 0x1,
        // DELETE, READ_CONTROL, WRITE_DAC, WRITE_OWNER, SYNCHRONIZE, MAXIMUM_ALLOWED and
        // the four GENERIC_* bits opens alone; any other single bit is ACCESS_DENIED.
        let token = Token::default();
        let sd = default_sd(&token);
        let opens: u32 = 0x1 | 0x10000 | 0x20000 | 0x40000 | 0x80000 | 0x100000 | 0x2000000 | 0xF000_0000;
        for bit in 0..32 {
            let mask = 1u32 << bit;
            let r = access_check(&sd, &token, Access::from_bits_retain(mask), MUTEX);
            if opens & mask != 0 {
                assert!(r.is_ok(), "bit {mask:#x} should open: {r:?}");
            } else if mask == Access::ACCESS_SYSTEM_SECURITY.bits() {
                assert_eq!(r, Err(Error::PrivilegeNotHeld));
            } else {
                assert_eq!(r, Err(Error::AccessDenied), "bit {mask:#x}");
            }
        }
    }

    #[test]
    fn null_dacl_grants_request_keeping_valid_bits() {
        // SPEC §3: a None DACL grants the request and the handle keeps only the valid bits.
        let token = Token::default();
        let sd = SecurityDescriptor::default();
        assert_eq!(
            access_check(&sd, &token, Access::from_bits_retain(0x3), MUTEX),
            Ok(Access::from_bits_retain(0x1))
        );
        assert_eq!(access_check(&sd, &token, Access::empty(), MUTEX), Err(Error::AccessDenied));
    }

    #[test]
    fn empty_dacl_leaves_owner_read_control_and_write_dac() {
        // SPEC §3 "Security": an empty DACL grants nothing; the owner still gets
        // READ_CONTROL | WRITE_DAC.
        let token = Token::default();
        let sd = SecurityDescriptor { owner: Some(token.user()), dacl: Some(vec![]) };
        assert_eq!(
            access_check(&sd, &token, Access::MAXIMUM_ALLOWED, MUTEX),
            Ok(Access::READ_CONTROL | Access::WRITE_DAC)
        );
        assert_eq!(access_check(&sd, &token, Access::SYNCHRONIZE, MUTEX), Err(Error::AccessDenied));
        let other = Token::new(Sid::user(7));
        assert_eq!(access_check(&sd, &other, Access::READ_CONTROL, MUTEX), Err(Error::AccessDenied));
    }

    #[test]
    fn deny_before_allow_wins_and_allow_before_deny_wins() {
        // SPEC §3 "Security": ACEs are walked in order; a deny removes bits not yet granted.
        let token = Token::default();
        let deny_first = SecurityDescriptor {
            owner: None,
            dacl: Some(vec![
                Ace::Deny(Sid::EVERYONE, Access::MUTEX_MODIFY_STATE),
                Ace::Allow(Sid::EVERYONE, Access::GENERIC_ALL),
            ]),
        };
        assert_eq!(
            access_check(&deny_first, &token, Access::MUTEX_MODIFY_STATE, MUTEX),
            Err(Error::AccessDenied)
        );
        assert_eq!(
            access_check(&deny_first, &token, Access::MAXIMUM_ALLOWED, MUTEX),
            Ok(Access::from_bits_retain(0x1F0000))
        );
        let allow_first = SecurityDescriptor {
            owner: None,
            dacl: Some(vec![
                Ace::Allow(Sid::EVERYONE, Access::GENERIC_ALL),
                Ace::Deny(Sid::EVERYONE, Access::MUTEX_MODIFY_STATE),
            ]),
        };
        assert_eq!(
            access_check(&allow_first, &token, Access::MUTEX_MODIFY_STATE, MUTEX),
            Ok(Access::MUTEX_MODIFY_STATE)
        );
    }

    #[test]
    fn another_users_default_dacl_denies() {
        // SPEC §3 "Security": an object created without a descriptor gets the creator's
        // default DACL, so another user's process cannot open it.
        let creator = Token::new(Sid::user(1));
        let sd = default_sd(&creator);
        let other = Token::new(Sid::user(2));
        assert_eq!(access_check(&sd, &other, Access::SYNCHRONIZE, MUTEX), Err(Error::AccessDenied));
        let system = Token::new(Sid::SYSTEM);
        assert!(access_check(&sd, &system, Access::SYNCHRONIZE, MUTEX).is_ok());
        let member = Token::new(Sid::user(2)).with_group(Sid::user(1));
        assert!(access_check(&sd, &member, Access::GENERIC_ALL, MUTEX).is_ok());
    }
}
