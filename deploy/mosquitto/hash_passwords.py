"""Write a Mosquitto password file with PBKDF2-SHA512 at 210,000 iterations.

    python deploy/mosquitto/hash_passwords.py < users.txt > passwords

Input: one `user:password` a line (the plain text form `mosquitto_passwd -U`
converts). Output: `user:$7$210000$<salt>$<hash>` lines for `password_file`.

Why not `mosquitto_passwd`: Debian's Mosquitto 2.0.11 hashes with PBKDF2-SHA512
at a fixed 101 iterations and has no option to raise it. The broker reads the
iteration count from each line, so a file written here at the OWASP 2023
figure for PBKDF2-HMAC-SHA512 (210,000) is verified as it is. The cost: about
0.1 s of broker CPU per CONNECT (Mosquitto is single-threaded, so a reconnect
storm of N clients holds every other client for N x 0.1 s); that is the price
of making a stolen password file slow to crack.
Standard library only: it runs wherever Python does, before the project is installed.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import sys

ITERATIONS = 210_000
SALT_BYTES = 12  # what mosquitto_passwd uses


def hash_line(user: str, password: str, iterations: int = ITERATIONS) -> str:
    """One password file line in Mosquitto's `$7$` (sha512-pbkdf2) format."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    encode = base64.b64encode
    return f"{user}:$7${iterations}${encode(salt).decode()}${encode(digest).decode()}"


def parse(line: str, number: int) -> tuple[str, str]:
    """(user, password) of one input line; SystemExit with the line number when malformed."""
    user, sep, password = line.partition(":")
    if not sep or not user or not password:
        raise SystemExit(f"hash_passwords: line {number}: expected user:password")
    if any(ord(c) < 32 for c in user + password):
        raise SystemExit(f"hash_passwords: line {number}: control character in user or password")
    return user, password


def main() -> int:
    lines = [line.rstrip("\r\n") for line in sys.stdin]
    entries = [parse(line, n) for n, line in enumerate(lines, 1) if line.strip()]
    if not entries:
        raise SystemExit("hash_passwords: no user:password line on standard input")
    for user, password in entries:
        print(hash_line(user, password))
    return 0


if __name__ == "__main__":
    sys.exit(main())
