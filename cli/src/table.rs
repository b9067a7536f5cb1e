//! Handle tables and namespace directories as text and as JSON, the way Sysinternals'
//! `handle` lists Windows' handles: value, type, granted access (hex and by name),
//! flags, object name.

use std::io::Write;

use kobj::{EntryKind, HandleInfo, Kernel, Process};
use serde_json::{json, Value};

use crate::names::{access_names, flag_names};

/// Writes `p`'s handle table under a heading naming it `label`.
pub fn write_table(out: &mut dyn Write, label: &str, p: &Process) -> std::io::Result<()> {
    let rows = p.handles();
    let state = if p.is_terminated() { ", terminated" } else { "" };
    writeln!(
        out,
        "  {label} (pid {}, session {}, user {}{state}): {} handle(s)",
        p.id(),
        p.session_id(),
        p.token().user(),
        rows.len()
    )?;
    if !rows.is_empty() {
        writeln!(
            out,
            "    {:>8}  {:<9} {:<10} {:<34} {:<26} name (the object's handles)",
            "handle", "type", "access", "rights", "flags"
        )?;
    }
    for row in &rows {
        writeln!(out, "    {}", row_text(row))?;
    }
    Ok(())
}

/// One row: `0x4  Event  0x00100002 EVENT_MODIFY_STATE|SYNCHRONIZE  INHERIT  \BaseNamedObjects\E  (2 handles)`.
#[must_use]
pub fn row_text(row: &HandleInfo) -> String {
    format!(
        "{:>8}  {:<9} {:#010x} {:<34} {:<26} {} ({} handle{})",
        format!("{:#x}", row.handle.raw()),
        row.type_name,
        row.access.bits(),
        access_names(&row.type_name, row.access),
        flag_names(row.flags),
        row.name.as_deref().unwrap_or("-"),
        row.object_handles,
        if row.object_handles == 1 { "" } else { "s" }
    )
}

/// `p`'s handle table as JSON: the process and its rows.
#[must_use]
pub fn table_json(label: &str, p: &Process) -> Value {
    let rows: Vec<Value> = p
        .handles()
        .iter()
        .map(|row| {
            json!({
                "handle": format!("{:#x}", row.handle.raw()),
                "type": row.type_name,
                "access": format!("{:#x}", row.access.bits()),
                "access_names": access_names(&row.type_name, row.access),
                "flags": flag_names(row.flags),
                "name": row.name,
                "object_handles": row.object_handles,
            })
        })
        .collect();
    json!({
        "process": label,
        "pid": p.id(),
        "session": p.session_id(),
        "user": p.token().user().to_string(),
        "terminated": p.is_terminated(),
        "handles": rows,
    })
}

/// The entries of a namespace directory, as (name, kind) text pairs.
pub fn directory(kernel: &Kernel, path: &str) -> kobj::Result<Vec<(String, String)>> {
    Ok(kernel
        .list_directory(path)?
        .into_iter()
        .map(|(name, kind)| {
            let kind = match kind {
                EntryKind::Object(ty) => ty,
                EntryKind::Directory => "Directory".to_owned(),
                EntryKind::Link(target) => format!("SymbolicLink -> {target}"),
            };
            (name, kind)
        })
        .collect())
}

/// Writes a namespace directory listing.
pub fn write_directory(out: &mut dyn Write, path: &str, entries: &[(String, String)]) -> std::io::Result<()> {
    writeln!(out, "  {path}: {} entr{}", entries.len(), if entries.len() == 1 { "y" } else { "ies" })?;
    for (name, kind) in entries {
        writeln!(out, "    {name:<24} {kind}")?;
    }
    Ok(())
}
