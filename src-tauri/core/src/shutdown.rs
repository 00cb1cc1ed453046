//! Being asked to stop: Ctrl-C (SIGINT) and, on Unix, SIGTERM (what `kill`,
//! service managers and a logout send). The CLI and the app then cancel the runs
//! in progress, which are recorded `cancelled`, never left `running` to be found
//! interrupted at the next start.

/// Resolves when the process is asked to stop, with the signal's name. A signal
/// that cannot be listened for is left out (never taken as a request).
pub async fn requested() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).ok();
        let on_term = async {
            match term.as_mut() {
                Some(term) => {
                    term.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let on_int = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            _ = on_term => "SIGTERM",
            _ = on_int => "SIGINT",
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        "Ctrl-C"
    }
}
