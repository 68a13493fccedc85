//! Executable contracts of the ports (`testing` feature): what a port's
//! documentation says an implementation MUST do, as checks an adapter runs
//! against itself from its own tests. An adapter proves itself by passing
//! them; the SQLite and PostgreSQL repositories run the same ones.
//!
//! ```ignore
//! // An adapter's test, with `qc-application = { workspace = true,
//! // features = ["testing"] }` among its dev-dependencies:
//! use qc_application::testing::{Repositories, repository_contract};
//!
//! #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
//! async fn my_store_keeps_the_repository_contract() {
//!     repository_contract(|| async {
//!         // A new, empty store for each check.
//!         let store = MyStore::connect(&new_empty_database().await).await.unwrap();
//!         Repositories::new(store.conversations(), store.messages(), store.agents())
//!     })
//!     .await;
//! }
//! ```

pub mod broker_contract;
mod repository_contract;

pub use broker_contract::broker_contract;
pub use repository_contract::{Repositories, repository_contract};
