//! Baselines that kobj is measured against (see benches/).
