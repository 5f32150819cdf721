//! Feature unification only: see this package's `Cargo.toml`. Nothing to import.
