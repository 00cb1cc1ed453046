//! Flowpilot's cross-cutting integration tests, in one binary (one link, one
//! process): each module covers one area against real peers, files and services.

mod cli;
mod contract;
mod draft;
mod flow_control;
mod http_provider;
mod integrations;
mod integrations_cli;
mod keychain;
mod llm_provider;
mod oauth;
mod peers;
mod plans;
mod webhook_provider;
