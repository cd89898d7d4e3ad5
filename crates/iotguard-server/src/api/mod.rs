//! The API's handlers, one module per resource.

pub(crate) mod alerts;
pub(crate) mod drift;
pub(crate) mod feedback;
pub(crate) mod health;
pub(crate) mod live;
pub(crate) mod models;
pub(crate) mod score;
pub(crate) mod stats;
