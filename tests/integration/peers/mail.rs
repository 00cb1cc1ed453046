//! Real Dovecot and aiosmtpd.
