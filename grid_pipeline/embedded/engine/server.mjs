// Embedded TimescaleDB: PGlite (PostgreSQL compiled to WebAssembly, with the
// TimescaleDB extension) behind a PostgreSQL wire-protocol server.
//
// Why our own server loop instead of pglite-socket's: PGlite is ONE backend
// session. pglite-socket either refuses a second connection (maxConnections 1)
// or multiplexes several clients onto the one session (which deadlocks when
// clients run transactions concurrently). Here every TCP client gets the whole
// session in turn: later connections wait in a FIFO queue (bounded by
// --queue-timeout-ms, after which they receive a proper PostgreSQL error), and
// the session is rolled back and reset (DISCARD ALL) between clients so no
// prepared statement, SET or temp table leaks from one client to the next.
//
// No client may hold the session unboundedly while idle (a forgotten psql, a
// suspended process, a crashed worker whose socket lingers): like PostgreSQL's
// idle_in_transaction_session_timeout / idle_session_timeout, a holder that sent
// nothing for --idle-in-transaction-timeout-ms while in a transaction, or for
// --idle-session-timeout-ms while other clients wait, receives a FATAL
// ErrorResponse (25P03 / 57P05), its transaction is rolled back and the session
// goes to the next client. 0 disables either. Sockets use TCP keepalive.
//
// Password (GRID_LOCAL_PASSWORD): without --password-file any password is
// accepted, as PGlite itself does (trust, fine on 127.0.0.1 for one user). With
// it, every client must prove the password by SCRAM-SHA-256, as a PostgreSQL
// server with password_encryption = scram-sha-256 asks (the password never
// crosses the socket); a wrong one gets FATAL 28P01 "password authentication
// failed". The file, not an argument, carries the password so it never shows in
// the process list; it is read and deleted at start. Authentication happens
// before the client queues for the session, so a client that never completes it
// holds nothing (and is dropped after AUTH_TIMEOUT_MS, like authentication_timeout).
//
// Checkpoints: PGlite runs no checkpointer (a standalone backend never requests
// one by itself), so without help WAL grows with every write (16 GB after a 10x
// load) and crash recovery replays all of it. Between two clients, once more than
// --checkpoint-wal-mb of WAL was written since the last checkpoint, or once
// --checkpoint-interval-s passed since it and anything was written (PostgreSQL's
// checkpoint_timeout, so a slow trickle of live readings is not replayed for
// hours), the server runs CHECKPOINT before handing the session on; closing the
// database at a clean stop checkpoints too. 0 disables a trigger.
//
// Usage: node server.mjs --data-dir DIR --state-file FILE --port N
//                        [--host 127.0.0.1] [--queue-timeout-ms 120000]
//                        [--idle-in-transaction-timeout-ms 10000]
//                        [--idle-session-timeout-ms 2000]
//                        [--password-file FILE] [--checkpoint-wal-mb 64]
//                        [--checkpoint-interval-s 300]
// Prints one line "READY <port>" on stdout once it accepts connections.
// SIGTERM/SIGINT close the database cleanly (data persists in --data-dir).

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer } from "node:net";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { PGlite } from "@electric-sql/pglite";
import { timescaledb } from "@electric-sql/pglite/timescaledb";

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;

const { values: opts } = parseArgs({
  options: {
    "data-dir": { type: "string" },
    "state-file": { type: "string" },
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    "queue-timeout-ms": { type: "string", default: "120000" },
    "idle-in-transaction-timeout-ms": { type: "string", default: "10000" },
    "idle-session-timeout-ms": { type: "string", default: "2000" },
    "password-file": { type: "string" },
    "checkpoint-wal-mb": { type: "string", default: "64" },
    "checkpoint-interval-s": { type: "string", default: "300" },
  },
});
const dataDir = path.resolve(opts["data-dir"]);
const stateFile = path.resolve(opts["state-file"]);

function fail(code, message) {
  console.error(`FATAL ${message}`);
  process.exit(code);
}

// Node's setTimeout turns a delay above 2^31-1 ms into 1 ms: refuse such values.
const MAX_TIMER_MS = 2 ** 31 - 1;
function durationMs(name, min) {
  const raw = opts[name];
  const ms = Number(raw);
  if (!/^\d+$/.test(raw) || ms < min || ms > MAX_TIMER_MS) {
    fail(1, `--${name} ${raw}: must be an integer from ${min} to ${MAX_TIMER_MS} (ms)`);
  }
  return ms;
}
const queueTimeoutMs = durationMs("queue-timeout-ms", 1);
const idleInTransactionMs = durationMs("idle-in-transaction-timeout-ms", 0);
const idleSessionMs = durationMs("idle-session-timeout-ms", 0);
const checkpointWalMb = Number(opts["checkpoint-wal-mb"]);
if (!/^\d+$/.test(opts["checkpoint-wal-mb"]) || checkpointWalMb > 1_000_000) {
  fail(1, `--checkpoint-wal-mb ${opts["checkpoint-wal-mb"]}: must be an integer from 0 to 1000000 (MB)`);
}
const checkpointIntervalS = Number(opts["checkpoint-interval-s"]);
if (!/^\d+$/.test(opts["checkpoint-interval-s"]) || checkpointIntervalS > 86_400) {
  fail(1, `--checkpoint-interval-s ${opts["checkpoint-interval-s"]}: must be an integer from 0 to 86400 (s)`);
}
// WAL a checkpoint leaves behind itself (its own record): below this, nothing was written.
const CHECKPOINT_RECORD_BYTES = 8192;
let lastCheckpointAt = Date.now();

/** The password from --password-file (deleted once read), or null: trust every client. */
function readPassword() {
  const file = opts["password-file"];
  if (!file) return null;
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
    fs.unlinkSync(file);
  } catch (err) {
    fail(1, `--password-file ${file}: ${err.message}`);
  }
  const password = text.replace(/\r?\n$/, "");
  if (!password) fail(1, `--password-file ${file}: empty`);
  return password;
}

// ---- SCRAM-SHA-256 (RFC 5802/7677), as PostgreSQL speaks it -------------
// The server keeps only the verifier (StoredKey, ServerKey) derived once at start,
// as pg_authid would. Passwords are normalised with NFKC, the core of SASLprep
// that libpq applies on its side (identical for ASCII).
const SCRAM_ITERATIONS = 4096;
const AUTH_TIMEOUT_MS = 60_000;
const sha256 = (data) => createHash("sha256").update(data).digest();
const hmac = (key, data) => createHmac("sha256", key).update(data).digest();

function scramVerifier(password) {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password.normalize("NFKC"), salt, SCRAM_ITERATIONS, 32, "sha256");
  return {
    salt: salt.toString("base64"),
    storedKey: sha256(hmac(salted, "Client Key")),
    serverKey: hmac(salted, "Server Key"),
  };
}
const verifier = (() => {
  const password = readPassword();
  return password === null ? null : scramVerifier(password);
})();

// ---- exclusive ownership of the data directory -------------------------
// A pid file beside it (PGlite wants the directory itself to hold only its
// cluster), created with O_EXCL; a stale one (its process gone) is replaced.
const pidFile = `${dataDir}.lock`;
fs.mkdirSync(path.dirname(dataDir), { recursive: true });
function claimDataDir() {
  try {
    fs.writeFileSync(pidFile, String(process.pid), { flag: "wx" });
    return;
  } catch (err) {
    if (err.code !== "EEXIST") throw err;
  }
  const owner = Number(fs.readFileSync(pidFile, "utf8").trim());
  let alive = false;
  try {
    process.kill(owner, 0);
    alive = owner !== process.pid;
  } catch {
    alive = false;
  }
  if (alive) fail(3, `data dir ${dataDir} is locked by another engine (pid ${owner})`);
  fs.unlinkSync(pidFile);
  fs.writeFileSync(pidFile, String(process.pid), { flag: "wx" });
}
claimDataDir();
function releaseDataDir() {
  for (const f of [pidFile, stateFile]) {
    try {
      fs.unlinkSync(f);
    } catch {}
  }
}

// ---- the database ------------------------------------------------------
const db = await PGlite.create(dataDir, { extensions: { timescaledb } });
await db.exec("CREATE EXTENSION IF NOT EXISTS timescaledb");
// On a restarted data dir nothing loads TimescaleDB until a query touches it,
// and if the first touch is a function call (create_hypertable, say) the TSL
// module (compression, continuous aggregates) is never loaded: every later
// compression or cagg statement fails with "functionality not supported under
// the current 'timescale' license". Loading the library explicitly at boot, as
// shared_preload_libraries would on a native server, loads both parts.
await db.exec("LOAD 'timescaledb'");

/**
 * Give the next client a clean session, as a fresh PostgreSQL backend would be.
 * DISCARD ALL drops prepared statements, temp tables, SETs and advisory locks;
 * its RESET would leave PGlite's boot-time values (search_path = pg_catalog,
 * client_min_messages = debug3), so the usual defaults are set after it.
 */
async function resetSession() {
  // A Sync ends an extended-protocol exchange the client left unfinished (after
  // an error the backend ignores everything until one). Then ROLLBACK always:
  // db.isInTransaction() only follows command tags, and ROLLBACK TO SAVEPOINT's
  // tag is ROLLBACK too, so it would claim "idle" inside an open transaction.
  // Outside a transaction ROLLBACK is a no-op with a warning.
  await db.execProtocolRaw(new Uint8Array([0x53, 0, 0, 0, 4]));
  await db.exec("ROLLBACK");
  await db.exec("DISCARD ALL");
  await db.exec("SET search_path TO \"$user\", public");
  await db.exec("SET client_min_messages TO notice");
  await db.exec("SET TimeZone TO 'UTC'");
}
await resetSession();

/** WAL written since the last checkpoint's redo point, in bytes: what a crash would replay. */
async function walSinceCheckpoint() {
  const { rows } = await db.query(
    "SELECT (pg_current_wal_insert_lsn() - redo_lsn)::float8 AS bytes FROM pg_control_checkpoint()",
  );
  return rows[0].bytes;
}

/** CHECKPOINT once more than --checkpoint-wal-mb of WAL was written since the last
 * one, or --checkpoint-interval-s passed since it and anything was written. */
async function checkpointIfDue() {
  if (!checkpointWalMb && !checkpointIntervalS) return;
  try {
    const bytes = await walSinceCheckpoint();
    const bySize = checkpointWalMb && bytes >= checkpointWalMb * 2 ** 20;
    const byTime = checkpointIntervalS && bytes > CHECKPOINT_RECORD_BYTES
      && Date.now() - lastCheckpointAt >= checkpointIntervalS * 1000;
    if (!bySize && !byTime) return;
    const started = Date.now();
    await db.exec("CHECKPOINT");
    lastCheckpointAt = Date.now();
    const mb = (bytes / 2 ** 20).toFixed(1);
    console.log(`checkpoint (${bySize ? "WAL size" : "time"}): ${mb} MB of WAL since the last one, ${lastCheckpointAt - started} ms`);
  } catch (err) {
    console.error(`checkpoint failed (retried after the next client): ${err?.message ?? err}`);
  }
}

/** Run one protocol message on the session; a WASM crash ends the process. */
async function execRaw(message) {
  try {
    return await db.runExclusive(() => db.execProtocolRaw(message));
  } catch (err) {
    console.error(`FATAL engine error: ${err?.stack ?? err}`);
    releaseDataDir();
    process.exit(2);
  }
}

// ---- one client at a time ------------------------------------------------
let active = null; // the Client holding the session
const waiting = []; // FIFO of Clients waiting for it
let nextId = 1;

/** The transaction status of the last ReadyForQuery in `reply` ('I', 'T', 'E'), or null. */
function readyStatus(reply) {
  let status = null;
  const view = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
  for (let at = 0; at + 5 <= reply.length; ) {
    const len = view.getInt32(at + 1);
    if (reply[at] === 0x5a /* 'Z' */ && len === 5 && at + 6 <= reply.length) {
      status = String.fromCharCode(reply[at + 5]);
    }
    at += 1 + len;
  }
  return status;
}

/** A backend message: type byte, int32 length, body. */
function backendMessage(type, body) {
  const head = Buffer.alloc(5);
  head.write(type, 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** An Authentication* message ('R') with its int32 code and payload. */
function authMessage(code, payload = Buffer.alloc(0)) {
  const codeBytes = Buffer.alloc(4);
  codeBytes.writeInt32BE(code, 0);
  return backendMessage("R", Buffer.concat([codeBytes, payload]));
}

function errorResponse(sqlstate, message) {
  const fields = [
    ["S", "FATAL"],
    ["V", "FATAL"],
    ["C", sqlstate],
    ["M", message],
  ];
  const body = Buffer.concat([
    ...fields.map(([k, v]) => Buffer.concat([Buffer.from(k), Buffer.from(v + "\0", "utf8")])),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head.write("E", 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** The value of a StartupMessage parameter (e.g. "user"), or "". */
function startupParameter(startup, name) {
  const parts = startup.subarray(8).toString("utf8").split("\0");
  for (let i = 0; i + 1 < parts.length; i += 2) if (parts[i] === name) return parts[i + 1];
  return "";
}

class AuthFailure extends Error {
  constructor(sqlstate, message) {
    super(message);
    this.sqlstate = sqlstate;
  }
}

/**
 * One client's SCRAM-SHA-256 exchange. `receive` takes each frontend message and
 * returns the reply to send; after the last one `done` is true. Every refusal is
 * thrown as an AuthFailure.
 */
class ScramExchange {
  constructor(startup) {
    this.user = startupParameter(startup, "user");
    this.step = "initial";
    this.done = false;
  }

  refuse() {
    return new AuthFailure("28P01", `password authentication failed for user "${this.user}"`);
  }

  /** The body of a 'p' message, or a protocol violation. */
  static body(msg) {
    if (msg[0] !== 0x70 /* 'p' */) {
      throw new AuthFailure("08P01", `expected a SASL response, got message type "${String.fromCharCode(msg[0])}"`);
    }
    return msg.subarray(5);
  }

  /** AuthenticationSASL: the one mechanism offered (no channel binding on a clear socket). */
  offer() {
    return authMessage(10, Buffer.from("SCRAM-SHA-256\0\0"));
  }

  receive(msg) {
    const body = ScramExchange.body(msg);
    return this.step === "initial" ? this.first(body) : this.final(body);
  }

  /** SASLInitialResponse "SCRAM-SHA-256\0" len "n,,n=,r=<nonce>" -> server-first-message. */
  first(body) {
    const end = body.indexOf(0);
    if (end < 0 || body.subarray(0, end).toString() !== "SCRAM-SHA-256" || body.length < end + 5) {
      throw new AuthFailure("28000", "SCRAM-SHA-256 is the only authentication mechanism offered");
    }
    const text = body.subarray(end + 5).toString("utf8");
    const match = /^([ny]),([^,]*),(n=[^,]*,r=([^,]+)(?:,.*)?)$/.exec(text);
    if (!match) throw new AuthFailure("08P01", "malformed SCRAM client-first-message");
    this.gs2Header = `${match[1]},${match[2]},`;
    this.clientFirstBare = match[3];
    this.nonce = match[4] + randomBytes(18).toString("base64");
    this.serverFirst = `r=${this.nonce},s=${verifier.salt},i=${SCRAM_ITERATIONS}`;
    this.step = "final";
    return authMessage(11, Buffer.from(this.serverFirst));
  }

  /** SASLResponse "c=...,r=...,p=<proof>": check the proof -> AuthenticationSASLFinal. */
  final(body) {
    const text = body.toString("utf8");
    const match = /^(c=([^,]*),r=([^,]*)(?:,[^p][^,]*)*),p=([A-Za-z0-9+/=]+)$/.exec(text);
    if (!match || match[3] !== this.nonce || match[2] !== Buffer.from(this.gs2Header).toString("base64")) {
      throw new AuthFailure("08P01", "malformed SCRAM client-final-message");
    }
    const auth = `${this.clientFirstBare},${this.serverFirst},${match[1]}`;
    const proof = Buffer.from(match[4], "base64");
    const signature = hmac(verifier.storedKey, auth);
    if (proof.length !== signature.length) throw this.refuse();
    const clientKey = Buffer.from(proof.map((byte, i) => byte ^ signature[i]));
    if (!timingSafeEqual(sha256(clientKey), verifier.storedKey)) throw this.refuse();
    this.done = true;
    const serverSignature = hmac(verifier.serverKey, auth).toString("base64");
    return authMessage(12, Buffer.from(`v=${serverSignature}`));
  }
}

class Client {
  constructor(socket) {
    this.id = nextId++;
    this.socket = socket;
    // Received bytes as a list of chunks, joined once a whole message is there:
    // concatenating per chunk was quadratic (a 64 MB message took 20 s alone,
    // 122 s under load, stalling every client; now 0.6 s).
    this.chunks = [];
    this.buffered = 0; // bytes in this.chunks
    this.startupDone = false; // after StartupMessage, messages carry a type byte
    this.pending = []; // complete messages not yet executed
    this.running = false;
    this.closed = false;
    this.timer = null; // queue timeout while waiting
    this.txStatus = "I"; // of the last ReadyForQuery sent to this client
    this.lastHeard = Date.now(); // when the client last sent anything
    this.authenticated = verifier === null; // trust when no password is set
    this.scram = null; // the SCRAM exchange under way
    this.authTimer = null;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.on("data", (chunk) => this.onData(chunk));
    socket.on("error", () => this.onClose());
    socket.on("close", () => this.onClose());
  }

  onData(chunk) {
    this.lastHeard = Date.now();
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      const msg = this.nextMessage();
      if (!msg) break;
      if (this.authenticated) this.pending.push(msg);
      else this.authenticate(msg);
    }
    this.pump();
  }

  /**
   * Take one message of the password handshake. The StartupMessage is kept and
   * run on the session (which answers AuthenticationOk and the parameters) only
   * once the password is proven; then the client queues for the session.
   */
  authenticate(msg) {
    if (this.closed) return;
    try {
      if (this.scram === null) {
        this.startup = msg;
        this.scram = new ScramExchange(msg);
        this.authTimer = setTimeout(
          () => this.terminate("08006", `authentication not completed within ${AUTH_TIMEOUT_MS} ms`),
          AUTH_TIMEOUT_MS,
        );
        this.socket.write(this.scram.offer());
        return;
      }
      this.socket.write(this.scram.receive(msg));
      if (!this.scram.done) return;
    } catch (err) {
      if (!(err instanceof AuthFailure)) throw err;
      this.terminate(err.sqlstate, err.message);
      return;
    }
    clearTimeout(this.authTimer);
    this.authenticated = true;
    this.pending.push(this.startup);
    admit(this);
  }

  /** The first `n` buffered bytes as one Buffer (joining chunks only as needed). */
  head(n) {
    while (this.chunks[0].length < n) {
      const [a, b] = this.chunks.splice(0, 2);
      this.chunks.unshift(Buffer.concat([a, b]));
    }
    return this.chunks[0];
  }

  /** Split the next complete protocol message off the buffer, or null. */
  nextMessage() {
    let len;
    if (!this.startupDone) {
      if (this.buffered < 8) return null;
      len = this.head(8).readInt32BE(0);
    } else {
      if (this.buffered < 5) return null;
      len = 1 + this.head(5).readInt32BE(1);
    }
    if (this.buffered < len) return null;
    const b = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    const msg = b.subarray(0, len);
    const rest = b.subarray(len);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    if (!this.startupDone) {
      const code = msg.readInt32BE(4);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        this.socket.write("N"); // no TLS on loopback; the client proceeds in clear
        return this.nextMessage();
      }
      if (code === CANCEL_REQUEST) {
        this.socket.end();
        return null;
      }
      this.startupDone = true;
    }
    return msg;
  }

  /** Execute pending messages, but only while this client holds the session. */
  async pump() {
    if (this.running || active !== this || this.closed) return;
    this.running = true;
    while (this.pending.length && !this.closed) {
      const msg = this.pending.shift();
      if (msg[0] === 0x58 /* 'X' Terminate */) {
        this.socket.end();
        break;
      }
      const reply = await execRaw(new Uint8Array(msg));
      this.txStatus = readyStatus(reply) ?? this.txStatus;
      if (reply.length && this.socket.writable) this.socket.write(Buffer.from(reply));
    }
    this.running = false;
    this.lastHeard = Date.now(); // idle from the end of its last statement on
    if (this.closed) release(this);
  }

  /**
   * While this client holds the session but sits idle: the hold limit it broke,
   * as [sqlstate, message], or null. Checked by the watchdog below.
   */
  overstay(now) {
    if (this.running || this.pending.length || this.closed) return null;
    const idle = now - this.lastHeard;
    if (this.txStatus !== "I" && idleInTransactionMs && idle >= idleInTransactionMs) {
      return ["25P03", `terminating connection due to idle-in-transaction timeout (${idleInTransactionMs} ms)`];
    }
    if (waiting.length && idleSessionMs && idle >= idleSessionMs) {
      return [
        "57P05",
        `terminating connection due to idle-session timeout (${idleSessionMs} ms ` +
          `while ${waiting.length} other clients wait for the embedded TimescaleDB's single session)`,
      ];
    }
    return null;
  }

  /** End this client with a FATAL error; its transaction is rolled back by release(). */
  terminate(sqlstate, message) {
    console.log(`client ${this.id}: ${message}`);
    if (this.socket.writable) this.socket.end(errorResponse(sqlstate, message));
    // A suspended client never reads: do not wait for the close handshake.
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.onClose();
  }

  onClose() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.authTimer);
    const i = waiting.indexOf(this);
    if (i >= 0) waiting.splice(i, 1);
    if (active === this && !this.running) release(this);
  }
}

// The watchdog: bounds how long an idle holder keeps the session.
const watchdogMs = Math.max(
  50,
  Math.min(250, ...[idleInTransactionMs, idleSessionMs].filter((ms) => ms > 0).map((ms) => ms / 4)),
);
setInterval(() => {
  const holder = active;
  const broken = holder?.overstay(Date.now());
  if (broken) holder.terminate(...broken);
}, watchdogMs).unref();

/** Give the session back: roll back, reset session state, hand to the next. */
async function release(client) {
  if (active !== client) return;
  await resetSession();
  await checkpointIfDue();
  active = null;
  grantNext();
}

function grantNext() {
  while (!active && waiting.length) {
    const next = waiting.shift();
    clearTimeout(next.timer);
    if (next.closed) continue;
    active = next;
    next.pump();
  }
}

/** The client holds the session now if it is free, else queues for it. */
function admit(client) {
  if (!active) {
    active = client;
    client.pump();
    return;
  }
  waiting.push(client);
  client.timer = setTimeout(() => {
    const i = waiting.indexOf(client);
    if (i < 0) return;
    waiting.splice(i, 1);
    client.socket.end(
      errorResponse(
        "53300",
        `embedded TimescaleDB busy: waited ${queueTimeoutMs} ms for its single session ` +
          `(${waiting.length} other clients queued); retry, or raise GRID_DB_QUEUE_TIMEOUT`,
      ),
    );
  }, queueTimeoutMs);
}

const server = createServer((socket) => {
  const client = new Client(socket);
  if (client.authenticated) admit(client);
});

server.on("error", (err) => {
  releaseDataDir();
  if (err.code === "EADDRINUSE") fail(4, `port ${opts.port} on ${opts.host} is already in use`);
  fail(1, `server error: ${err.message}`);
});

server.listen(Number(opts.port), opts.host, () => {
  const { port } = server.address();
  const state = { pid: process.pid, host: opts.host, port, data_dir: dataDir, started_at: new Date().toISOString() };
  fs.writeFileSync(stateFile + ".tmp", JSON.stringify(state));
  fs.renameSync(stateFile + ".tmp", stateFile);
  lastCheckpointAt = Date.now(); // boot ran recovery and its own checkpoint
  console.log(`READY ${port}`);
});

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`received ${signal}, closing the database`);
  server.close();
  for (const c of [active, ...waiting]) c?.socket.destroy();
  await db.close();
  releaseDataDir();
  process.exit(0);
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
