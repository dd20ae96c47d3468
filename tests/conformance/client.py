#!/usr/bin/env python3
"""A second implementation of the linli protocol, written from docs/protocol.md
and proto/*.proto alone (issue 12, part 4): its own protobuf encoder and
decoder (read from the .proto files), its own key handling, signatures,
chain hashes and session. tests/conformance.t.sh runs it against a real hub.

  client.py DOC PROTO_DIR key-text        the test key's public key as text
  client.py DOC PROTO_DIR vectors         checks the spec's test vectors
  client.py DOC PROTO_DIR sync ENDPOINT   syncs with the hub as committee c07

Needs python3-zmq and python3-nacl (Debian). Every failed check raises, so
the exit status is non-zero when the hub and the spec disagree.
"""
import base64
import hashlib
import json
import os
import re
import struct
import sys
import time

# ---- the .proto files, read as a schema ------------------------------------

SCALARS = {"bool", "uint32", "uint64", "sint64", "double", "string", "bytes"}


def load_schema(proto_dir):
    """{message: {number: (name, type, repeated, oneof, packed)}}"""
    schema = {}
    for fn in sorted(os.listdir(proto_dir)):
        if not fn.endswith(".proto"):
            continue
        text = re.sub(r"//[^\n]*", "", open(os.path.join(proto_dir, fn), encoding="utf-8").read())
        for m in re.finditer(r"message\s+(\w+)\s*\{", text):
            depth, i = 1, m.end()
            while depth:
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            body, fields, oneof = text[m.end():i - 1], {}, None
            for tok in re.finditer(r"oneof\s+\w+\s*\{|\}|(repeated\s+)?(\w+)\s+(\w+)\s*=\s*(\d+)\s*(\[[^\]]*\])?\s*;", body):
                t = tok.group(0)
                if t.startswith("oneof"):
                    oneof = t
                elif t == "}":
                    oneof = None
                else:
                    rep, typ, name, num = bool(tok.group(1)), tok.group(2), tok.group(3), int(tok.group(4))
                    packed = rep and typ in SCALARS - {"string", "bytes"} and "packed = false" not in (tok.group(5) or "")
                    fields[num] = (name, typ, rep, oneof is not None, packed)
            schema[m.group(1)] = fields
    return schema


# ---- protobuf wire format -------------------------------------------------

def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(b, i):
    v = shift = 0
    while True:
        if i >= len(b) or shift > 63:
            raise ValueError("bad varint")
        x = b[i]
        i += 1
        v |= (x & 0x7F) << shift
        shift += 7
        if not x & 0x80:
            return v, i


def zigzag(v):
    return (v << 1) ^ (v >> 63)


def unzigzag(v):
    return (v >> 1) ^ -(v & 1)


def wire_type(typ, schema):
    if typ in ("string", "bytes") or typ in schema:
        return 2
    return 1 if typ == "double" else 0


def enc_scalar(typ, v):
    if typ == "bool":
        return varint(1 if v else 0)
    if typ in ("uint32", "uint64"):
        return varint(v)
    if typ == "sint64":
        return varint(zigzag(v) & (2**64 - 1))
    if typ == "double":
        return struct.pack("<d", v)
    raise ValueError(typ)


def is_default(typ, v):
    return v in (0, False, "", b"") or (typ == "double" and v == 0.0)


def encode(schema, msg, d, extra=b""):
    """Encodes dict d as message msg: fields in number order, defaults left
    out except in a oneof, repeated scalars packed (docs/protocol.md §2).
    bytes may be given as bytes or hex text. extra: raw bytes appended."""
    out = bytearray()
    for num in sorted(schema[msg]):
        name, typ, rep, oneof, packed = schema[msg][num]
        if name not in d:
            continue
        vals = d[name] if rep else [d[name]]
        if rep and not vals:
            continue
        if packed:
            body = b"".join(enc_scalar(typ, v) for v in vals)
            out += varint(num << 3 | 2) + varint(len(body)) + body
            continue
        for v in vals:
            if typ in schema:
                body = encode(schema, typ, v)
            elif typ == "bytes":
                body = bytes.fromhex(v) if isinstance(v, str) else bytes(v)
            elif typ == "string":
                body = v.encode("utf-8")
            else:
                if not rep and not oneof and is_default(typ, v):
                    continue
                out += varint(num << 3 | wire_type(typ, schema)) + enc_scalar(typ, v)
                continue
            if not rep and not oneof and typ not in schema and not body:
                continue
            out += varint(num << 3 | 2) + varint(len(body)) + body
    return bytes(out + extra)


def decode(schema, msg, b, strict=False):
    """dict of the fields of b (bytes as bytes); unknown fields are skipped,
    or refused with strict (signed messages, docs/protocol.md §9)."""
    d, i = {}, 0
    fields = schema[msg]
    while i < len(b):
        key, i = read_varint(b, i)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise ValueError("field number 0")
        if wt == 0:
            v, i = read_varint(b, i)
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        elif wt == 2:
            n, i = read_varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % wt)
        if i > len(b):
            raise ValueError("truncated")
        if num not in fields:
            if strict:
                raise ValueError("unknown field %d in %s" % (num, msg))
            continue
        name, typ, rep, oneof, packed = fields[num]
        if typ in schema:
            vals = [decode(schema, typ, v, strict)]
        elif typ == "bytes":
            vals = [bytes(v)]
        elif typ == "string":
            vals = [bytes(v).decode("utf-8")]
        elif wt == 2:  # packed
            vals, j = [], 0
            while j < len(v):
                x, j = read_varint(v, j)
                vals.append(x)
        elif typ == "double":
            vals = [struct.unpack("<d", v)[0]]
        elif typ == "sint64":
            vals = [unzigzag(v)]
        elif typ == "bool":
            vals = [bool(v)]
        else:
            vals = [v]
        if rep:
            d.setdefault(name, []).extend(vals)
        else:
            d[name] = vals[0]
    return d


# ---- the spec's vectors ---------------------------------------------------

def load_vectors(doc):
    text = open(doc, encoding="utf-8").read()
    block = text.split("<!-- vectors begin -->", 1)[1].split("<!-- vectors end -->", 1)[0]
    v = {}
    for line in block.splitlines():
        if " = " in line and not line.startswith("#"):
            k, val = line.split(" = ", 1)
            v[k] = val
    return v


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


DOMAIN = b"linli/commit/v1\x00"


def key_from_file(line):
    """(seed, public) from a key file's line (docs/protocol.md §1.1)."""
    magic = "linli-key-v1 "
    line = line.rstrip("\n")
    assert line.startswith(magic) and len(line) == len(magic) + 86, "key file line"
    sk = unb64url(line[len(magic):])
    assert len(sk) == 64
    return sk[:32], sk[32:]


def chain_hash(commit_bytes):
    return hashlib.blake2b(commit_bytes, digest_size=32).digest()


def sign(seed, network, commit_bytes):
    import nacl.signing
    return nacl.signing.SigningKey(seed).sign(DOMAIN + network + commit_bytes).signature


def check_vectors(schema, v):
    import nacl.bindings as nb
    import nacl.signing
    import zmq.utils.z85 as z85
    n = 0
    for who in ("key", "hub"):
        seed, pk = key_from_file(v[who + ".key_file"])
        assert seed.hex() == v[who + ".seed"], who + ": key file seed"
        assert bytes(nacl.signing.SigningKey(seed).verify_key) == pk, who + ": seed derives the public key"
        assert pk.hex() == v[who + ".public"], who + ".public"
        assert b64url(pk) == v[who + ".public_text"], who + ".public_text"
        cpk = nb.crypto_sign_ed25519_pk_to_curve25519(pk)
        csk = nb.crypto_sign_ed25519_sk_to_curve25519(seed + pk)
        assert cpk.hex() == v[who + ".curve_public"], who + ".curve_public"
        assert csk.hex() == v[who + ".curve_secret"], who + ".curve_secret"
        # the clamped first half of SHA-512(seed), as §1.3 says
        h = bytearray(hashlib.sha512(seed).digest()[:32])
        h[0] &= 248
        h[31] = (h[31] & 127) | 64
        assert bytes(h) == csk, who + ": curve secret is the clamped SHA-512 of the seed"
        assert z85.encode(cpk).decode() == v[who + ".curve_public_z85"], who + ".curve_public_z85"
        assert z85.encode(csk).decode() == v[who + ".curve_secret_z85"], who + ".curve_secret_z85"
        n += 9
    seed, pk = key_from_file(v["key.key_file"])
    net = bytes.fromhex(v["network"])
    assert net.hex() == v["hub.public"], "network is the hub's key"
    assert bytes.fromhex(v["signed_prefix"]) == DOMAIN + net, "signed prefix"
    prev = None
    for c in ("commit1", "commit2"):
        cb = bytes.fromhex(v[c + ".hex"])
        assert encode(schema, "Commit", json.loads(v[c + ".json"])) == cb, c + ": encoding"
        assert sign(seed, net, cb).hex() == v[c + ".signature"], c + ": signature"
        nacl.signing.VerifyKey(pk).verify(bytes.fromhex(v["signed_prefix"]) + cb, bytes.fromhex(v[c + ".signature"]))
        assert chain_hash(cb).hex() == v[c + ".chain_hash"], c + ": chain hash"
        d = decode(schema, "Commit", cb, strict=True)
        if prev is not None:
            assert d["prev"] == prev, c + ": prev is the previous chain hash"
        prev = chain_hash(cb)
        sc = encode(schema, "SignedCommit", json.loads(v[c + ".signed.json"]))
        assert sc.hex() == v[c + ".signed.hex"], c + ": SignedCommit encoding"
        assert sc == signed_commit(schema, seed, pk, net, cb), c + ": SignedCommit built from the parts"
        n += 7
    kinds = [k[4:-5] for k in v if k.startswith("msg.") and k.endswith(".json")]
    assert sorted(kinds) == sorted(["hello", "batch", "ack", "heartbeat", "refuse", "fork"]), kinds
    for k in kinds:
        b = bytes.fromhex(v["msg.%s.hex" % k])
        assert encode(schema, "Envelope", json.loads(v["msg.%s.json" % k])) == b, "msg.%s: encoding" % k
        assert list(decode(schema, "Envelope", b)) == [k], "msg.%s decodes to one %s" % (k, k)
        n += 2
    return n


# ---- commits and the session ----------------------------------------------

def signed_commit(schema, seed, pk, net, cb):
    return encode(schema, "SignedCommit", {"commit": cb, "sig": sign(seed, net, cb), "signer": pk, "network": net})


class Client:
    def __init__(self, schema, endpoint, seed, pk, net):
        import zmq
        import nacl.bindings as nb
        self.zmq, self.schema, self.seed, self.pk, self.net = zmq, schema, seed, pk, net
        self.ctx = zmq.Context()
        s = self.ctx.socket(zmq.DEALER)
        s.curve_publickey = nb.crypto_sign_ed25519_pk_to_curve25519(pk)
        s.curve_secretkey = nb.crypto_sign_ed25519_sk_to_curve25519(seed + pk)
        s.curve_serverkey = nb.crypto_sign_ed25519_pk_to_curve25519(net)  # the hub's, from the pinned network id
        s.linger = 0
        s.connect(endpoint)
        self.sock, self.exchange, self.held = s, 0, {}  # held: (origin, scope) -> [SignedCommit bytes]

    def send(self, d, extra=b""):
        self.sock.send(encode(self.schema, "Envelope", d, extra))

    def recv(self, timeout_s=15):
        if not self.sock.poll(timeout_s * 1000):
            raise AssertionError("the hub sent nothing within %d s" % timeout_s)
        frames = self.sock.recv_multipart()
        assert len(frames) == 1, "one frame per message (§2)"
        env = decode(self.schema, "Envelope", frames[0])
        assert len(env) == 1, "an envelope holds one message: %r" % env
        return next(iter(env.items()))

    def hello(self, **over):
        self.exchange += 1
        h = {"protocol": 1, "protocol_min": 1, "network": self.net, "node": self.pk, "heads": [],
             "exchange": self.exchange, "wall_ms": int(time.time() * 1000), "schema_version": 1}
        h.update(over)
        # a field this version does not know rides inside the Hello: the hub must skip it (§9)
        body = encode(self.schema, "Hello", h, extra=varint(99 << 3) + varint(1))
        self.sock.send(varint(1 << 3 | 2) + varint(len(body)) + body)
        return h

    def take_batch(self, b):
        """Verifies every commit of a batch from the hub (§5.4) and acks it."""
        for sc in b.get("commits", []):
            w = decode(self.schema, "SignedCommit", sc, strict=True)
            assert w["network"] == self.net, "relayed commit of our network"
            import nacl.signing
            nacl.signing.VerifyKey(w["signer"]).verify(DOMAIN + self.net + w["commit"], w["sig"])
            c = decode(self.schema, "Commit", w["commit"], strict=True)
            assert c["origin"] == w["signer"]
            chain = self.held.setdefault((c["origin"], c["scope"]), [])
            assert c["seq"] == len(chain) + 1, "chain order: %s#%d after %d" % (c["scope"], c["seq"], len(chain))
            if chain:
                prevc = decode(self.schema, "SignedCommit", chain[-1])["commit"]
                assert c.get("prev") == chain_hash(prevc), "prev is the previous commit's hash"
            else:
                assert not c.get("prev"), "seq 1 has no prev"
            chain.append(sc)
        self.send({"ack": {"exchange": b["exchange"], "id": b["id"], "applied": len(b.get("commits", []))}})

    def open_exchange(self, **over):
        """Hello, then the hub's Hello; returns it."""
        self.hello(**over)
        while True:
            kind, m = self.recv()
            if kind == "hello":
                return m
            if kind == "batch":  # of an exchange we left: ack it all the same
                self.take_batch(m)

    def pull(self, heads):
        """Takes batches until every head of the hub's Hello is held."""
        def done():
            for h in heads:
                if len(self.held.get((h["origin"], h["scope"]), [])) < h["seq"]:
                    return False
            return True
        while not done():
            kind, m = self.recv()
            if kind == "batch":
                self.take_batch(m)
            else:
                assert kind in ("heartbeat", "ack"), "unexpected %s while pulling: %r" % (kind, m)
        for h in heads:
            last = decode(self.schema, "SignedCommit", self.held[(h["origin"], h["scope"])][h["seq"] - 1])["commit"]
            assert chain_hash(last) == h["hash"], "head hash of %s#%d" % (h["scope"], h["seq"])

    def push(self, batch_id, commits):
        """Sends one Batch and returns its Ack (acking the hub's batches meanwhile)."""
        self.send({"batch": {"exchange": self.exchange, "id": batch_id, "commits": commits}})
        while True:
            kind, m = self.recv()
            if kind == "ack":
                assert m.get("exchange") == self.exchange and m.get("id") == batch_id, "Ack echoes exchange and id"
                return m
            if kind == "batch":
                self.take_batch(m)
            elif kind != "heartbeat":
                raise AssertionError("unexpected %s after a batch: %r" % (kind, m))

    def refused(self, code):
        """The next message that matters is a Refuse of code."""
        while True:
            kind, m = self.recv()
            if kind == "refuse":
                assert m.get("code") == code, "refused with %r (%s), want %r" % (m.get("code"), m.get("message"), code)
                return m
            if kind == "batch":
                self.take_batch(m)
            elif kind not in ("heartbeat", "hello", "ack"):
                raise AssertionError("unexpected %s: %r" % (kind, m))


def commit(schema, seed, pk, net, scope, seq, prev, tables, deps=(), extra=b""):
    c = {"origin": pk, "scope": scope, "seq": seq, "hlc": int(time.time() * 1000) << 16, "schema_version": 1,
         "deps": list(deps), "tables": tables}
    if prev:
        c["prev"] = prev
    cb = encode(schema, "Commit", c, extra)
    return cb, signed_commit(schema, seed, pk, net, cb)


def visit(rid, scope, **cols):
    """A new care_visits row, sent whole: every column the client sets (§6.2)."""
    cols = dict({"scope": scope}, **cols)
    names = list(cols)
    return {"table": "care_visits", "columns": names, "rows": [
        {"pk": [{"t": rid}], "cl": 1, "cols": list(range(len(names))), "values": [{"t": cols[n]} for n in names]}]}


def sync(schema, v, endpoint):
    seed, pk = key_from_file(v["key.key_file"])
    net = unb64url(os.environ["LINLI_NETWORK"])
    cl = Client(schema, endpoint, seed, pk, net)
    hub_pk = net

    # 1. Hello first (with a field this version does not know), the hub answers
    h = cl.open_exchange()
    assert h["protocol"] == 1 and h.get("protocol_min", 1) == 1, "hub speaks version 1: %r" % h
    assert h["network"] == net and h["node"] == hub_pk, "the hub's Hello names the network and its key"
    assert h["exchange"] >= 1
    scopes = {x["scope"] for x in h.get("heads", [])}
    assert scopes <= {"c07", "street"}, "the hub offers only scopes c07 reads: %r" % scopes
    assert "street" in scopes and "c07" in scopes, "the roster (street) and the hub's c07 row are offered"
    # 2. pull: every commit of the hub's heads, verified and chained
    cl.pull(h["heads"])
    pulled = [decode(schema, "Commit", decode(schema, "SignedCommit", sc)["commit"]) for ch in cl.held.values() for sc in ch]
    rows = [r for c in pulled for t in c.get("tables", []) if t["table"] == "hazards" for r in t["rows"]]
    assert any(r["pk"] == [{"t": "hub-h1"}] for r in rows), "the hub's hazard row of c07 was pulled"
    print("hello and pull: %d commits of %d chains verified" % (len(pulled), len(cl.held)))

    # 3. push a valid signed commit; deps name the hub's c07 chain we hold
    hub_c07 = len(cl.held.get((hub_pk, "c07"), []))
    deps = [{"origin": hub_pk, "seq": hub_c07}] if hub_c07 else []
    c1, sc1 = commit(schema, seed, pk, net, "c07", 1, None,
                     [visit("conf-1", "c07", resident_ref="R-0042", visited_on="2025-03-02", outcome="conformance")], deps)
    a = cl.push(1, [sc1])
    assert a.get("applied") == 1 and not a.get("reject") and not a.get("rejects"), "commit #1 applied: %r" % a
    print("pushed c07#1: applied")

    # 4. bad inputs inside a batch: each stops its own chain with its code
    c2, sc2 = commit(schema, seed, pk, net, "c07", 2, chain_hash(c1),
                     [visit("conf-2", "c07", resident_ref="R-0043")])  # visited_on is NOT NULL without DEFAULT
    bad_sig = bytearray(sc2)
    bad_sig[-70] ^= 1  # inside sig (the last 70 bytes: sig's tail, signer, network)
    w = decode(schema, "SignedCommit", bytes(bad_sig))
    assert w["commit"] == c2 and w["sig"] != decode(schema, "SignedCommit", sc2)["sig"]
    cases = [
        ("bad_signature", bytes(bad_sig)),
        ("gap", commit(schema, seed, pk, net, "c07", 5, b"\x01" * 32, [visit("conf-5", "c07", resident_ref="R")])[1]),
        ("out_of_scope", commit(schema, seed, pk, net, "c08", 1, None, [visit("conf-8", "c08", resident_ref="R")])[1]),
        ("wrong_network", signed_commit(schema, seed, pk, b"\x02" * 32, c2)),
        ("decode", commit(schema, seed, pk, net, "c07", 2, chain_hash(c1), [visit("conf-9", "c07")],
                          extra=varint(99 << 3) + varint(1))[1]),  # a signed commit admits no unknown field
    ]
    bid = 2
    for code, sc in cases:
        a = cl.push(bid, [sc])
        rj = a.get("rejects", [])
        assert a.get("applied", 0) == 0 and a.get("reject") == code and len(rj) == 1 and rj[0]["code"] == code, \
            "%s: got %r" % (code, a)
        if code != "wrong_network":
            assert rj[0]["origin"] == pk and rj[0]["seq"] >= 1
        print("refused in the Ack: %s (%s)" % (code, rj[0].get("message", "")))
        bid += 1
    # a replay is a duplicate, not an error
    a = cl.push(bid, [sc1])
    assert a.get("duplicates") == 1 and a.get("applied", 0) == 0 and not a.get("reject"), "replay: %r" % a
    bid += 1
    # a row the hub refuses alone: the commit is applied, the row counted
    a = cl.push(bid, [sc2])
    assert a.get("applied") == 1 and a.get("refused") == 1 and not a.get("reject"), "row refused alone: %r" % a
    print("replay counted as a duplicate; a row without visited_on refused alone (%s)" % a.get("refused_first"))
    bid += 1

    # 5. the hub relays our chain back byte for byte when we claim to hold nothing
    cl.held = {}
    h = cl.open_exchange()
    cl.pull(h["heads"])
    assert cl.held.get((pk, "c07")) == [sc1, sc2], "the hub relays our exact commit bytes"
    print("pulled our own chain back, byte for byte")

    # 6. refusals of the exchange itself (each ends it; the next Hello starts again)
    cl.hello(network=b"\x02" * 32)
    cl.refused("wrong_network")
    cl.hello(protocol=3, protocol_min=2)
    cl.refused("version")
    cl.hello(protocol=1, protocol_min=2)
    cl.refused("protocol")
    cl.send({"batch": {"exchange": cl.exchange, "id": 1, "commits": []}})  # no exchange open
    cl.refused("protocol")
    cl.sock.send(varint(15 << 3 | 2) + varint(0))  # an envelope of a kind version 1 does not know
    cl.refused("decode")
    # a newer hub-side range that includes ours still meets
    h = cl.open_exchange(protocol=4, protocol_min=1)
    assert h["protocol"] == 1
    print("refused: wrong_network, version, protocol (range), protocol (batch outside), decode (unknown kind); "
          "a wider range meets")
    cl.sock.close()
    cl.ctx.term()


def main():
    doc, proto_dir, cmd = sys.argv[1], sys.argv[2], sys.argv[3]
    schema = load_schema(proto_dir)
    v = load_vectors(doc)
    if cmd == "key-text":
        print(b64url(key_from_file(v["key.key_file"])[1]))
    elif cmd == "vectors":
        print("vectors: %d checks passed" % check_vectors(schema, v))
    elif cmd == "sync":
        sync(schema, v, sys.argv[4])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
