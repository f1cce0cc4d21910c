//! The database schema: an append-only list of embedded SQL migrations applied by
//! `rusqlite_migration`, which keeps the schema version in SQLite's `user_version`.
//!
//! A released migration is never edited. To change the schema, add `migrations/NNNN_what.sql`
//! and append it to `MIGRATIONS`; the next `Store::open` applies it in one transaction.

use rusqlite_migration::{M, Migrations};

const LIST: &[M<'static>] = &[
    M::up(include_str!("migrations/0001_initial.sql")),
    M::up(include_str!("migrations/0002_downloads.sql")),
];

/// Every migration, oldest first.
pub(crate) const MIGRATIONS: Migrations<'static> = Migrations::from_slice(LIST);

/// The schema version this build of mlx-host writes (the number of migrations).
pub const SCHEMA_VERSION: usize = LIST.len();

/// SQLite `application_id` that marks a database as mlx-host's ("MLXH"); set by the first
/// migration.
pub const APPLICATION_ID: i32 = 0x4D4C_5848;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_to_an_empty_database() {
        MIGRATIONS.validate().expect("migrations apply cleanly");
    }

    #[test]
    fn first_migration_sets_the_application_id() {
        let mut conn = rusqlite::Connection::open_in_memory().expect("in-memory db");
        MIGRATIONS.to_latest(&mut conn).expect("migrate");
        let id: i32 = conn
            .pragma_query_value(None, "application_id", |row| row.get(0))
            .expect("application_id");
        assert_eq!(id, APPLICATION_ID);
    }
}
