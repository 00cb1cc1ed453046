//! Noticing that the machine woke up from sleep. The scheduler sleeps in short
//! slices and re-reads the wall clock anyway (timers run on the monotonic clock,
//! which stops while a laptop sleeps); this makes the look happen at once. On
//! Linux, logind says `PrepareForSleep(false)` on the system bus when the system
//! has resumed. Elsewhere there is nothing to watch yet, and the slices do it.

/// Which bus to listen on: logind's (the system bus), or a test's.
#[derive(Debug, Clone)]
pub enum Bus {
    System,
    /// A bus by its address (a test's session bus with a logind stand-in).
    Address(String),
}

/// Why resumes cannot be watched (then the scheduler's 30 s slices still notice).
#[derive(Debug, thiserror::Error)]
#[error("cannot watch for the system waking up: {0}")]
pub struct WakeError(String);

/// Call `on_resume` each time the system resumes from sleep, from a thread of
/// its own, for as long as the process lives. Returns once it is listening.
#[cfg(target_os = "linux")]
pub fn watch_resume(bus: Bus, on_resume: impl Fn() + Send + 'static) -> Result<(), WakeError> {
    use zbus::blocking::{Connection, MessageIterator, connection};
    let err = |e: zbus::Error| WakeError(e.to_string());
    let conn = match bus {
        Bus::System => Connection::system().map_err(err)?,
        Bus::Address(address) => connection::Builder::address(address.as_str())
            .and_then(connection::Builder::build)
            .map_err(err)?,
    };
    // Only logind's own signal (the bus vouches for the sender), not a look-alike.
    let rule = "type='signal',sender='org.freedesktop.login1',path='/org/freedesktop/login1',\
                interface='org.freedesktop.login1.Manager',member='PrepareForSleep'";
    let signals = MessageIterator::for_match_rule(rule, &conn, Some(16)).map_err(err)?;
    std::thread::Builder::new()
        .name("flowpilot-wake".into())
        .spawn(move || {
            // Keeps the connection alive as long as the thread.
            let _conn = conn;
            for message in signals.flatten() {
                // `true`: about to sleep; `false`: resumed.
                if let Ok(false) = message.body().deserialize::<bool>() {
                    tracing::info!("the system woke up from sleep; looking at the schedules now");
                    on_resume();
                }
            }
        })
        .map_err(|e| WakeError(e.to_string()))?;
    Ok(())
}

/// Nothing to watch on this platform yet: the scheduler's slices notice a wake-up.
#[cfg(not(target_os = "linux"))]
pub fn watch_resume(_bus: Bus, _on_resume: impl Fn() + Send + 'static) -> Result<(), WakeError> {
    Err(WakeError("not supported on this platform".into()))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// The session bus of `dbus-run-session` (scripts/test.sh); `None` after a skip line.
    fn session_bus() -> Option<String> {
        match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
            Ok(address) if !address.is_empty() => Some(address),
            _ if std::env::var_os("FLOWPILOT_REQUIRE_KEYCHAIN").is_some() => {
                panic!("no session bus (DBUS_SESSION_BUS_ADDRESS) but FLOWPILOT_REQUIRE_KEYCHAIN is set")
            }
            _ => {
                eprintln!("skipped: no session bus; run under dbus-run-session (scripts/test.sh does)");
                None
            }
        }
    }

    #[test]
    fn logind_saying_resumed_calls_back_and_going_to_sleep_does_not() {
        let Some(address) = session_bus() else { return };
        let (tx, rx) = mpsc::channel();
        watch_resume(Bus::Address(address.clone()), move || {
            let _ = tx.send(());
        })
        .unwrap();

        // A stand-in for logind on this bus, under logind's name.
        let logind = zbus::blocking::connection::Builder::address(address.as_str())
            .unwrap()
            .name("org.freedesktop.login1")
            .unwrap()
            .build()
            .unwrap();
        let say = |start: bool| {
            logind
                .emit_signal(
                    None::<&str>,
                    "/org/freedesktop/login1",
                    "org.freedesktop.login1.Manager",
                    "PrepareForSleep",
                    &(start,),
                )
                .unwrap()
        };
        say(true);
        say(false);
        rx.recv_timeout(Duration::from_secs(5))
            .expect("the resume is noticed within 5 s");
        assert!(
            rx.recv_timeout(Duration::from_millis(200)).is_err(),
            "going to sleep is not a resume"
        );
    }
}
