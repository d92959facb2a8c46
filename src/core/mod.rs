//! The maths, free of Postgres: every module here is plain Rust, tested with `#[test]`.
