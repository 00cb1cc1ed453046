"""The SMTP receiver tests/support/smtp.rs starts: Debian's aiosmtpd
(https://aiosmtpd.aio-libs.org/en/latest/smtp.html) on 127.0.0.1, writing
each message it accepts to <out>/<n>.eml (the raw DATA bytes) and <n>.json
(envelope and session), then printing "MESSAGE <n>" on stdout for the harness.

Usage: python3 smtp_receiver.py <config.json>
config: {"out": dir, "port": 0, "auth": null | [user, password],
         "tls": "none" | "starttls" | "implicit", "cert": path, "key": path,
         "reject": [addresses refused at RCPT TO]}
"""

import asyncio
import json
import os
import ssl
import sys

try:
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
except ImportError as error:
    print(f"UNAVAILABLE {error}", flush=True)
    sys.exit(3)


class Handler:
    def __init__(self, out, reject):
        self.out = out
        self.reject = {r.lower() for r in reject}
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        n = self.count
        auth_user = None
        if session.auth_data is not None:
            login = getattr(session.auth_data, "login", None)
            auth_user = login.decode() if isinstance(login, bytes) else login
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth_user": auth_user,
            "tls": server.transport is not None
            and server.transport.get_extra_info("ssl_object") is not None,
            "helo": session.host_name,
        }
        raw = envelope.original_content or b""
        with open(os.path.join(self.out, "%d.eml" % n), "wb") as f:
            f.write(raw)
        with open(os.path.join(self.out, "%d.json" % n), "w") as f:
            json.dump(meta, f)
        print("MESSAGE %d" % n, flush=True)
        return "250 2.0.0 Ok: queued as %d" % n


def main():
    with open(sys.argv[1]) as f:
        config = json.load(f)
    context = None
    if config["tls"] != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(config["cert"], config["key"])
    credentials = config.get("auth")

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            credentials is not None
            and isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == credentials[0]
            and auth_data.password.decode() == credentials[1]
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    handler = Handler(config["out"], config.get("reject", []))

    def factory():
        return SMTP(
            handler,
            hostname="flowpilot-test-smtp",
            tls_context=context if config["tls"] == "starttls" else None,
            require_starttls=False,
            authenticator=authenticator if credentials else None,
            auth_required=bool(credentials),
            # Loopback tests: AUTH PLAIN/LOGIN without TLS is allowed here only.
            auth_require_tls=False,
        )

    loop = asyncio.new_event_loop()
    implicit = context if config["tls"] == "implicit" else None
    server = loop.run_until_complete(
        loop.create_server(factory, host="127.0.0.1", port=config["port"], ssl=implicit)
    )
    port = server.sockets[0].getsockname()[1]
    print("READY %d" % port, flush=True)
    loop.run_forever()


main()
