//! The reference model of the kobj engine and the differential runners built on it.
//!
//! - [`reference`](mod@reference): SPEC §2–§3 as a plain single-threaded model ([`Model`]).
//! - [`ops`]: the operations a run applies ([`Op`], [`Scenario`]), decodable from bytes
//!   with [`arbitrary`], so fuzzers and property tests drive the same code.
//! - [`runner`]: [`run`] / [`run_scenario`] apply each operation to a fresh engine and to
//!   the model and compare every result, error code, handle value, each process's table
//!   and `object_count` after every step, and the object count once all is gone.
//! - [`threads`]: several OS threads on shared processes, checked by invariants.
//! - [`targets`]: the byte-level entry points of the fuzz targets, also used by the
//!   stable replay of the committed regression inputs.

pub mod ops;
pub mod reference;
pub mod runner;
pub mod targets;
pub mod threads;

pub use ops::{Op, Scenario, Setup};
pub use reference::Model;
pub use runner::{run, run_scenario, Divergence};
