//! Flowpilot's cross-cutting integration tests, in one binary (one link, one
//! process): each module covers one area against real peers, files and services.

mod cli;
mod contract;
mod draft;
mod http_provider;
mod integrations;
mod keychain;
mod llm_provider;
mod peers;
mod plans;
mod webhook_provider;
mod oauth;
mod integrations_cli;
