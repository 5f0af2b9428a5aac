#!/usr/bin/python3
"""A DSO (RFC 8490) client written apart from ringdns: Python's ssl and struct.

  dso_client.py PORT MODE [tls|tcp] [CAFILE]
    keepalive   Keepalive request (inactivity 5 s, interval 1 s) plus Padding;
                prints the response's id, rcode and Keepalive values
    unknown     a request whose primary TLV is an unassigned type
    malformed   a Keepalive TLV that claims more bytes than the message has
    idle        establish a session, then send nothing; print what arrives
                (a Retry Delay) and whether the server closed within 30 s
    subscribe NAME TYPE SECONDS
                DNS Push (RFC 8765): SUBSCRIBE, print the response, then each
                PUSH's records ("name TYPE ttl rdata") for SECONDS, UNSUBSCRIBE
    reconfirm NAME TYPE SECONDS
                as subscribe; on each line read from stdin, a RECONFIRM
                (RFC 8765 §6.5) of every record pushed and not removed since,
                then {"reconfirmed": N}
Each prints JSON lines.
"""
import json, select, socket, ssl, struct, sys, time

port, mode = int(sys.argv[1]), sys.argv[2]
transport = sys.argv[3] if len(sys.argv) > 3 else "tls"
raw = socket.create_connection(("127.0.0.1", port), timeout=15)
if transport == "tls":
    ctx = ssl.create_default_context(cafile=sys.argv[4]) if len(sys.argv) > 4 else ssl._create_unverified_context()
    sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
else:
    sock = raw

def send(msg):
    sock.sendall(struct.pack("!H", len(msg)) + msg)

def recv_exact(n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            return None
        out += chunk
    return out

def recv():
    head = recv_exact(2)
    if head is None:
        return None
    return recv_exact(struct.unpack("!H", head)[0])

def dso(msg_id, tlvs, flags=6 << 11):
    body = b"".join(struct.pack("!HH", t, len(d)) + d for t, d in tlvs)
    return struct.pack("!HHHHHH", msg_id, flags, 0, 0, 0, 0) + body

def parse(m):
    msg_id, flags = struct.unpack("!HH", m[:4])
    tlvs, p = [], 12
    while p + 4 <= len(m):
        t, l = struct.unpack("!HH", m[p:p + 4])
        tlvs.append((t, m[p + 4:p + 4 + l]))
        p += 4 + l
    out = {"id": msg_id, "qr": bool(flags & 0x8000), "opcode": (flags >> 11) & 15, "rcode": flags & 15, "tlvs": []}
    for t, d in tlvs:
        if t == 1 and len(d) == 8:
            out["tlvs"].append({"keepalive": struct.unpack("!II", d)})
        elif t == 2 and len(d) == 4:
            out["tlvs"].append({"retryDelay": struct.unpack("!I", d)[0]})
        else:
            out["tlvs"].append({"type": t, "length": len(d)})
    return out

TYPES = {1: "A", 12: "PTR", 16: "TXT", 28: "AAAA", 33: "SRV"}

def read_name(d, p):
    labels = []
    while True:
        n = d[p]
        if n == 0:
            return ".".join(labels) + ".", p + 1
        if n & 0xC0:
            raise ValueError("compressed name in a DSO TLV")
        labels.append(d[p + 1:p + 1 + n].decode())
        p += 1 + n

def raw_records(d):
    """A PUSH TLV's records: (name, type, class, ttl, rdata, the bytes of name, type and class)."""
    out, p = [], 0
    while p < len(d):
        start = p
        name, p = read_name(d, p)
        t, c, ttl, l = struct.unpack("!HHIH", d[p:p + 10])
        out.append((name, t, c, ttl, d[p + 10:p + 10 + l], d[start:p + 4]))
        p += 10 + l
    return out

def push_records(d):
    out = []
    for name, t, c, ttl, rd, _ in raw_records(d):
        if t == 12:
            text = read_name(rd, 0)[0]
        elif t == 33:
            pr, w, port = struct.unpack("!HHH", rd[:6])
            text = f"{pr} {w} {port} {read_name(rd, 6)[0]}"
        elif t == 1:
            text = socket.inet_ntoa(rd)
        else:
            text = rd.hex()
        out.append(f"{name} {TYPES.get(t, t)} {ttl} {text}")
    return out

def encode_name(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.strip(".").split(".")) + b"\0"

def closed_after(seconds):
    sock.settimeout(seconds)
    try:
        return recv() is None
    except (socket.timeout, TimeoutError):
        return False
    except (ConnectionResetError, ssl.SSLError):
        return True

keepalive = (1, struct.pack("!II", 5000, 1000))
if mode == "keepalive":
    send(dso(0x2a2a, [keepalive, (3, b"\0" * 11)]))
    print(json.dumps(parse(recv())))
elif mode == "unknown":
    send(dso(0x0b0b, [(0xF901, b"hello")]))
    r = parse(recv())
    r["closed"] = closed_after(0.5)
    print(json.dumps(r))
elif mode == "malformed":
    # a Keepalive TLV claiming 200 bytes, 8 sent
    send(struct.pack("!HHHHHH", 0x0C0C, 6 << 11, 0, 0, 0, 0) + struct.pack("!HH", 1, 200) + b"\0" * 8)
    r = parse(recv())
    r["closed"] = closed_after(3)
    print(json.dumps(r))
elif mode == "idle":
    send(dso(0x0d0d, [keepalive]))
    parse(recv())
    sock.settimeout(30)
    seen, closed = [], False
    while True:
        try:
            m = recv()
        except (ConnectionResetError, ssl.SSLError):
            m = None
        except (socket.timeout, TimeoutError):
            break
        if m is None:
            closed = True
            break
        seen.append(parse(m))
    print(json.dumps({"seen": seen, "closed": closed}))
elif mode == "reconfirm":
    name, qtype, seconds = sys.argv[5], sys.argv[6], float(sys.argv[7])
    qnum = {v: k for k, v in TYPES.items()}[qtype]
    send(dso(0x5151, [(0x40, encode_name(name) + struct.pack("!HH", qnum, 1))]))
    print(json.dumps(parse(recv())), flush=True)
    held = {}
    end = time.time() + seconds
    while time.time() < end:
        if not sock.pending():
            ready, _, _ = select.select([sock, sys.stdin], [], [], max(0.05, end - time.time()))
            if sys.stdin in ready:
                sys.stdin.readline()
                for head, rd in held.values():
                    send(dso(0, [(0x43, head + rd)]))
                print(json.dumps({"reconfirmed": len(held)}), flush=True)
                continue
            if sock not in ready:
                continue
        m = recv()
        if m is None:
            print(json.dumps({"closed": True}), flush=True)
            break
        if len(m) >= 16 and struct.unpack("!H", m[12:14])[0] == 0x41:
            for rec in raw_records(m[16:]):
                key = (rec[0].lower(), rec[1], rec[4])
                if rec[3] >= 0xFFFFFFFE:
                    held.pop(key, None)
                else:
                    held[key] = (rec[5], rec[4])
            print(json.dumps({"push": push_records(m[16:])}), flush=True)
elif mode == "subscribe":
    name, qtype, seconds = sys.argv[5], sys.argv[6], float(sys.argv[7])
    qnum = {v: k for k, v in TYPES.items()}[qtype]
    send(dso(0x5151, [(0x40, encode_name(name) + struct.pack("!HH", qnum, 1))]))
    print(json.dumps(parse(recv())), flush=True)
    end = time.time() + seconds
    while time.time() < end:
        sock.settimeout(max(0.05, end - time.time()))
        try:
            m = recv()
        except (socket.timeout, TimeoutError):
            break
        if m is None:
            print(json.dumps({"closed": True}), flush=True)
            break
        if len(m) >= 16 and struct.unpack("!H", m[12:14])[0] == 0x41:  # a PUSH TLV
            print(json.dumps({"push": push_records(m[16:])}), flush=True)
    send(dso(0, [(0x42, struct.pack("!H", 0x5151))]))
