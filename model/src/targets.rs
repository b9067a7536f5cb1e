//! The fuzz targets' bodies, from raw bytes. `fuzz/fuzz_targets/*.rs` call these, and
//! `tests/regressions.rs` replays the committed inputs through them on stable.

use arbitrary::{Arbitrary, Unstructured};

use crate::ops::{decode_list, HSel, NameSel, ObjectKind, Op, Scenario, SdSel, Setup};
use crate::runner::{run_scenario, Divergence};
use crate::threads::{run_threads, ThreadScenario};

/// The `ops` target: the bytes decode into a [`Scenario`] run against the model.
pub fn ops(data: &[u8]) -> Result<(), Divergence> {
    run_scenario(&Scenario::decode(data))
}

/// An operation of the `names` target: name-heavy calls, with names built from path
/// components, long names and arbitrary strings.
#[derive(Arbitrary, Clone, Debug)]
pub enum NameOp {
    /// `create_*` with a name.
    Create {
        /// The caller.
        p: u8,
        /// The type.
        kind: ObjectKind,
        /// The name.
        name: NameSel,
        /// The descriptor.
        sd: SdSel,
    },
    /// `open_*`.
    Open {
        /// The caller.
        p: u8,
        /// The type.
        kind: ObjectKind,
        /// The name.
        name: NameSel,
        /// Index into the open-access table.
        access: u8,
    },
    /// Create or open a private namespace.
    Namespace {
        /// The caller.
        p: u8,
        /// Create rather than open.
        create: bool,
        /// Boundary name selector.
        boundary: u8,
        /// Boundary SIDs selector.
        sids: u8,
        /// Alias selector.
        alias: u8,
    },
    /// Close a live handle.
    Close {
        /// The caller.
        p: u8,
        /// Which live handle.
        h: u16,
    },
    /// A child process (it runs in its parent's session).
    Spawn {
        /// The parent.
        p: u8,
    },
}

impl NameOp {
    /// The general operation this stands for.
    #[must_use]
    pub fn to_op(&self) -> Op {
        match self.clone() {
            NameOp::Create { p, kind, name, sd } => {
                Op::Create { p, kind, name: Some(name), inherit: false, sd, param: 0, file: None }
            }
            NameOp::Open { p, kind, name, access } => Op::Open { p, kind, name, access, inherit: false },
            NameOp::Namespace { p, create, boundary, sids, alias } => {
                Op::Namespace { p, create, boundary, sids, alias }
            }
            NameOp::Close { p, h } => Op::Close { p, h: HSel::Live(h, 0) },
            NameOp::Spawn { p } => Op::CreateProcess { p, inherit: false, list: None },
        }
    }
}

/// The input of the `names` target.
#[derive(Arbitrary, Clone, Debug)]
pub struct NamesScenario {
    /// The starting world.
    pub setup: Setup,
    /// The operations.
    pub ops: Vec<NameOp>,
}

impl NamesScenario {
    /// A [`Setup`], then operations until the bytes run out.
    #[must_use]
    pub fn decode(data: &[u8]) -> NamesScenario {
        let mut u = Unstructured::new(data);
        let setup = Setup::arbitrary(&mut u).unwrap_or_default();
        NamesScenario { setup, ops: decode_list(&mut u, crate::runner::MAX_OPS) }
    }
}

/// The `names` target: name parsing and resolution against the model.
pub fn names(data: &[u8]) -> Result<(), Divergence> {
    let s = NamesScenario::decode(data);
    run_scenario(&Scenario { setup: s.setup, ops: s.ops.iter().map(NameOp::to_op).collect() })
}

/// The `threads` target: several OS threads on shared processes, then the invariants.
pub fn threads(data: &[u8]) -> Result<(), String> {
    run_threads(&ThreadScenario::decode(data))
}
