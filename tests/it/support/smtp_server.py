"""A real SMTP server for the e-mail tests, built on Python's standard library.

Usage: smtp_server.py PORT DIRECTORY

Listens on 127.0.0.1:PORT and writes every message it accepts, byte for byte as
received after DATA, to DIRECTORY/NNNNNN.eml. Each file is written under a
temporary name and renamed, so a reader never sees half a message. Runs until
killed; the Rust harness (smtp.rs) kills it when the test is done, and the kernel
does when the test process dies.
"""

import os
import sys
import warnings

# smtpd (and the asyncore it uses) are deprecated since 3.6 and gone in 3.12; in
# 3.11 they still work, and the warning would only clutter the test output.
warnings.simplefilter("ignore", DeprecationWarning)

try:
    import asyncore
    import smtpd
except ImportError:
    sys.stderr.write(
        "this Python (%s) has no smtpd module: it was removed in Python 3.12; "
        "run the tests with Python 3.11 (Debian 12's python3)\n" % sys.version.split()[0]
    )
    sys.exit(3)


class SavingServer(smtpd.SMTPServer):
    def __init__(self, port, directory):
        super().__init__(("127.0.0.1", port), None, decode_data=False)
        self.directory = directory
        self.count = 0

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        self.count += 1
        final = os.path.join(self.directory, "%06d.eml" % self.count)
        partial = final + ".part"
        with open(partial, "wb") as out:
            out.write(data)
        os.rename(partial, final)
        # None means "250 OK" to the client.
        return None


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: smtp_server.py PORT DIRECTORY\n")
        sys.exit(2)
    port = int(sys.argv[1])
    directory = sys.argv[2]
    try:
        SavingServer(port, directory)
    except OSError as e:
        sys.stderr.write("cannot listen on 127.0.0.1:%d: %s\n" % (port, e))
        sys.exit(4)
    asyncore.loop()


if __name__ == "__main__":
    main()
