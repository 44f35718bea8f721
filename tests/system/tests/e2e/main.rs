//! End to end: the built binaries of the services (and the example axum service) as processes on free ports,
//! against the Redis and MongoDB-wire server that scripts/test.sh started.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod acl;
mod axum_service;
mod cache;
mod config;
mod cookies;
mod devices;
mod faults;
mod garbage;
mod gateway;
mod helpers;
mod keys;
mod metrics;
mod modes;
mod openapi;
mod races;
mod remote_path;
mod shutdown;
mod slow;
mod story;
mod strict_wait;
mod topologies;
mod traces;
mod webhooks;
