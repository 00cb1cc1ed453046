//! A wrapper for secret values whose `Debug` and `Display` never print them.

use std::fmt;

/// A secret value. Formatting it prints `***`; read it with [`Sensitive::expose`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself. Call sites are easy to find by this name.
    pub fn expose(&self) -> &T {
        &self.0
    }

    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Sensitive<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sensitive(***)")
    }
}

impl<T> fmt::Display for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_prints_the_value() {
        let s = Sensitive::new("sk-live-123".to_string());
        assert_eq!(format!("{s:?}"), "Sensitive(***)");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.expose(), "sk-live-123");
    }
}
