//! Models: resolving what the user named (a local folder or a Hugging Face repo id in the local
//! cache), the tiny demo model `mlx-host run` serves when no model is given, the models already
//! on disk (`cache`: the hub cache and mlx-host's model folders, for `models list|rm`), and the
//! hub's model search filtered to MLX models (`search`, for `models search`), and downloading
//! a repo into the hub cache, resumed and verified (`pull`, for `models pull`).

pub mod cache;
pub mod demo;
pub mod pull;
pub mod resolve;
pub mod search;
